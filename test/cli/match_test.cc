// `eso-updater match` as a user runs it, against the real API server.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
TEST_CASE("match lists every referencing field with its verdict, in one namespace") {
  const auto ns = unique_namespace("match");
  kubectl(
      {"apply", "-f", "-"},
      external_secret_yaml(ns, "db", {"/prod/db/user", "prod/db/pass"}) +
          external_secret_yaml(ns, "once", {"/prod/db/pass"}, "  refreshPolicy: CreatedOnce\n") +
          external_secret_yaml(ns, "zero", {"/prod/db/pass"}, "  refreshInterval: \"0\"\n") +
          external_secret_yaml(ns, "never-synced-zero", {"/prod/db/pass"},
                               "  refreshInterval: 0s\n") +
          external_secret_yaml(ns, "other", {"/prod/other"}));
  mark_synced(ns, "once");
  mark_synced(ns, "zero");

  const auto r = eso_updater({"match", "-n", ns, "--key", "/prod/db/pass"});
  CHECK(r.exit_code == 0);
  INFO(r.out, r.err);
  CHECK(contains(r.out, "NAMESPACE"));
  CHECK(contains(r.out, "spec.data[1].remoteRef.key"));
  CHECK(contains(r.out, "will-not-refresh (refreshPolicy CreatedOnce)"));
  CHECK(contains(r.out, "will-not-refresh (Periodic with refreshInterval 0)"));
  CHECK(contains(r.out, "will-refresh (not synced yet)"));
  CHECK_FALSE(contains(r.out, "other"));

  const auto json = eso_updater({"match", "-n", ns, "-k", "prod/db/pass", "-o", "json"});
  REQUIRE(json.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(std::string(doc["apiVersion"].GetString()) == "external-secrets.io/v1");
  const auto& matches = doc["matches"];
  REQUIRE(matches.Size() == 4);
  int refreshing = 0;
  for (const auto& m : matches.GetArray()) {
    CHECK(std::string(m["namespace"].GetString()) == ns);
    CHECK(std::string(m["key"].GetString()) == "/prod/db/pass");
    CHECK(std::string(m["store"]["name"].GetString()) == "akeyless");
    refreshing += m["willRefresh"].GetBool() ? 1 : 0;
  }
  CHECK(refreshing == 2);
}

TEST_CASE("match -o name prints each object once, kubectl style") {
  const auto ns = unique_namespace("match-name");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "twice", {"/a", "a/"}) +
                                    external_secret_yaml(ns, "none", {"/b"}));
  const auto r = eso_updater({"match", "-n", ns, "-k", "/a", "-o", "name"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "externalsecret.external-secrets.io/twice\n");
}

TEST_CASE("match exits 1 when nothing matches and 2 on usage errors") {
  const auto ns = unique_namespace("match-none");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "x", {"/x"}));
  const auto none = eso_updater({"match", "-n", ns, "-k", "/not-there"});
  CHECK(none.exit_code == 1);
  CHECK(none.out.empty());
  CHECK(contains(none.err, "/not-there"));

  CHECK(eso_updater({"match"}).exit_code == 2);
  CHECK(eso_updater({"match", "-k", "/x", "-o", "yaml"}).exit_code == 2);
  CHECK(eso_updater({"frobnicate"}).exit_code == 2);
  CHECK(eso_updater({}).exit_code == 2);
  const auto help = eso_updater({"match", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(contains(help.out, "--key"));
}

TEST_CASE("-n limits the scope and -A searches every namespace") {
  const auto a = unique_namespace("scope-a");
  const auto b = unique_namespace("scope-b");
  // A key unique to this test run, so -A sees only these two objects.
  const std::string key = "/scope/" + a;
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(a, "es", {key}) + external_secret_yaml(b, "es", {key}));

  const auto only_a = eso_updater({"match", "-n", a, "-k", key, "-o", "json"});
  REQUIRE(only_a.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(only_a.out.c_str());
  REQUIRE(doc["matches"].Size() == 1);
  CHECK(std::string(doc["matches"][0]["namespace"].GetString()) == a);

  const auto all = eso_updater({"match", "-A", "-k", key, "-o", "json"});
  REQUIRE(all.exit_code == 0);
  doc.Parse(all.out.c_str());
  CHECK(doc["matches"].Size() == 2);
}

TEST_CASE("pagination follows continue tokens with a small page size") {
  const auto ns = unique_namespace("paged");
  std::string manifests;
  for (int i = 0; i < 7; ++i)
    manifests += external_secret_yaml(ns, "es-" + std::to_string(i), {"/paged"});
  kubectl({"apply", "-f", "-"}, manifests);
  const double lists_before = apiserver_requests("LIST", "externalsecrets");
  const auto r =
      eso_updater({"match", "-n", ns, "-k", "/paged", "-o", "name", "--chunk-size", "2"});
  const double lists = apiserver_requests("LIST", "externalsecrets") - lists_before;
  CHECK(r.exit_code == 0);
  int lines = 0;
  for (char c : r.out) lines += c == '\n' ? 1 : 0;
  CHECK(lines == 7);
  // Seven objects two at a time are four pages, as the API server counted them.
  CHECK(lists >= 4);
}

TEST_CASE("the context's namespace is the default scope") {
  const auto ns = unique_namespace("ctx-ns");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/ctx"}));
  // A copy of the kubeconfig whose context names the namespace.
  const std::string config = kubectl({"config", "view", "--raw", "--minify"});
  const auto file = write_temp_file("config", config);
  kubectl({"--kubeconfig", file, "config", "set-context", "--current", "--namespace", ns});
  const auto r = eso_updater({"--kubeconfig", file, "match", "-k", "/ctx", "-o", "name"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "externalsecret.external-secrets.io/es\n");
}

}  // namespace eso::test

namespace eso::test {

TEST_CASE("-l filters by label on the server, and generator users are flagged") {
  const auto ns = unique_namespace("labels");
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "gold", {"/lbl"}) +
              external_secret_yaml(ns, "bronze", {"/lbl"}) +
              external_secret_yaml(ns, "generated", {"/lbl"},
                                   "  dataFrom:\n  - sourceRef:\n      generatorRef:\n"
                                   "        {apiVersion: generators.external-secrets.io/v1alpha1, "
                                   "kind: Password, name: pw}\n"));
  kubectl({"label", "externalsecret", "gold", "-n", ns, "tier=gold"});
  kubectl({"label", "externalsecret", "bronze", "-n", ns, "tier=bronze"});
  const auto gold = eso_updater({"match", "-n", ns, "-l", "tier=gold", "-k", "/lbl", "-o", "name"});
  CHECK(gold.exit_code == 0);
  CHECK(gold.out == "externalsecret.external-secrets.io/gold\n");
  const auto not_bronze =
      eso_updater({"match", "-n", ns, "-l", "tier!=bronze", "-k", "/lbl", "-o", "name"});
  CHECK(not_bronze.out ==
        "externalsecret.external-secrets.io/generated\nexternalsecret.external-secrets.io/gold\n");
  const auto table = eso_updater({"match", "-n", ns, "-l", "!tier", "-k", "/lbl"});
  CHECK(contains(table.out, "generatorRef values regenerate on refresh"));
  CHECK(eso_updater({"match", "-n", ns, "-l", "tier in (", "-k", "/lbl"}).exit_code == 2);
}

}  // namespace eso::test
