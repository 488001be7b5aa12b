// ClusterExternalSecrets and dataFrom.find on the real API server. The children a CES
// controller would generate are created by the test, with the owner reference ESO sets.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string cluster_annotation(const std::string& ces, const std::string& key) {
  return kubectl(
      {"get", "clusterexternalsecret", ces, "-o", "jsonpath={.metadata.annotations." + key + "}"});
}

std::string es_annotation(const std::string& ns, const std::string& name, const std::string& key) {
  return annotation(get_object("externalsecret", ns, name), key);
}

}  // namespace

TEST_CASE("a key used by a ClusterExternalSecret patches the parent, never the children") {
  const auto a = unique_namespace("ces-a");
  const auto b = unique_namespace("ces-b");
  const std::string ces = "ces-" + a;
  const std::string key = "/ces/" + a;
  create_ces_with_children(ces, key, {a, b});

  const auto match = eso_updater({"match", "-A", "-k", key});
  INFO(match.out, match.err);
  CHECK(match.exit_code == 0);
  CHECK(contains(match.out, "ClusterExternalSecret/" + ces));
  CHECK(contains(match.out, "spec.externalSecretSpec.data[0].remoteRef.key"));
  CHECK(contains(match.out, "child of ClusterExternalSecret/" + ces));

  const auto r = eso_updater({"trigger", "-A", "-k", key, "-o", "json"});
  INFO(r.out, r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(cluster_annotation(ces, "external-secrets\\.io/force-sync").size() == 30);
  CHECK(es_annotation(a, ces, "force-sync").empty());
  CHECK(es_annotation(b, ces, "force-sync").empty());
  CHECK(es_annotation(a, ces, "external-secrets.io/force-sync").empty());
  rapidjson::Document report;
  report.Parse(r.out.c_str());
  REQUIRE_FALSE(report.HasParseError());
  REQUIRE(report["objects"].Size() == 1);
  const auto& parent = report["objects"][0];
  CHECK(std::string(parent["kind"].GetString()) == "ClusterExternalSecret");
  CHECK(std::string(parent["annotation"].GetString()) == "external-secrets.io/force-sync");
  CHECK(parent["children"].Size() == 2);
}

TEST_CASE("-n on a namespace with a CES child still patches the parent") {
  const auto a = unique_namespace("ces-ns");
  const std::string ces = "ces-" + a;
  const std::string key = "/ces/" + a;
  create_ces_with_children(ces, key, {a});
  const auto r = eso_updater({"trigger", "-n", a, "-k", key});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(cluster_annotation(ces, "external-secrets\\.io/force-sync").empty());
  CHECK(es_annotation(a, ces, "force-sync").empty());
}

TEST_CASE("--patch-children also writes the child template, which ESO before v0.20 copies") {
  const auto a = unique_namespace("ces-legacy");
  const std::string ces = "ces-" + a;
  const std::string key = "/ces/" + a;
  create_ces_with_children(ces, key, {a});
  const auto r = eso_updater({"trigger", "-n", a, "-k", key, "--patch-children", "-o", "json"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  rapidjson::Document report;
  report.Parse(r.out.c_str());
  REQUIRE_FALSE(report.HasParseError());
  const std::string stamp = report["value"].GetString();
  CHECK(cluster_annotation(ces, "external-secrets\\.io/force-sync") == stamp);
  CHECK(kubectl({"get", "clusterexternalsecret", ces, "-o",
                 "jsonpath={.spec.externalSecretMetadata.annotations.external-secrets\\.io/"
                 "force-sync}"}) == stamp);
  // The child is never patched directly: its controller would revert that.
  CHECK(es_annotation(a, ces, "force-sync").empty());
  REQUIRE(report["objects"].Size() == 1);
  CHECK(std::string(report["objects"][0]["kind"].GetString()) == "ClusterExternalSecret");
  // The rest of the spec is untouched by the merge patch.
  CHECK(kubectl({"get", "clusterexternalsecret", ces, "-o",
                 "jsonpath={.spec.externalSecretSpec.data[0].remoteRef.key}"}) == key);
}

// Every find here is scoped under /team so that -A runs of other tests never see these objects.
TEST_CASE(
    "dataFrom.find matches by path and regexp, and an invalid regexp is reported, not fatal") {
  const auto ns = unique_namespace("find");
  kubectl(
      {"apply", "-f", "-"},
      external_secret_yaml(ns, "by-path", {}, "  dataFrom:\n  - find: {path: /team}\n") +
          external_secret_yaml(ns, "by-regexp", {},
                               "  dataFrom:\n  - find: {name: {regexp: \"^/team/.*-db$\"}}\n") +
          external_secret_yaml(ns, "by-tags", {},
                               "  dataFrom:\n  - find: {path: /team, tags: {env: prod}}\n") +
          external_secret_yaml(ns, "broken", {},
                               "  dataFrom:\n  - find: {path: /team, name: {regexp: \"(\"}}\n") +
          external_secret_yaml(ns, "elsewhere", {}, "  dataFrom:\n  - find: {path: /teams}\n"));

  const auto match = eso_updater({"match", "-n", ns, "-k", "team/orders-db", "-o", "json"});
  INFO(match.out, match.err);
  REQUIRE(match.exit_code == 0);
  CHECK(contains(match.err, "invalid regexp"));
  rapidjson::Document doc;
  doc.Parse(match.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  std::vector<std::string> got;
  for (const auto& m : doc["matches"].GetArray()) {
    got.push_back(std::string(m["name"].GetString()) + "@" + m["field"].GetString() +
                  (m["possible"].GetBool() ? "?" : ""));
  }
  CHECK(got == std::vector<std::string>{"by-path@spec.dataFrom[0].find.path",
                                        "by-regexp@spec.dataFrom[0].find.name.regexp",
                                        "by-tags@spec.dataFrom[0].find.tags?"});
  REQUIRE(doc["problems"].Size() == 1);
  CHECK(std::string(doc["problems"][0]["name"].GetString()) == "broken");

  const auto trigger = eso_updater({"trigger", "-n", ns, "-k", "/team/orders-db"});
  INFO(trigger.out, trigger.err);
  CHECK(trigger.exit_code == 0);
  CHECK_FALSE(es_annotation(ns, "by-path", "force-sync").empty());
  CHECK_FALSE(es_annotation(ns, "by-regexp", "force-sync").empty());
  CHECK(es_annotation(ns, "by-tags", "force-sync").empty());
  CHECK(contains(trigger.err, "--include-possible"));
  REQUIRE(
      eso_updater({"trigger", "-n", ns, "-k", "/team/orders-db", "--include-possible"}).exit_code ==
      0);
  CHECK_FALSE(es_annotation(ns, "by-tags", "force-sync").empty());
  CHECK(es_annotation(ns, "elsewhere", "force-sync").empty());
}

}  // namespace eso::test
