// `trigger --wait` and the cache buster on the real API server. What ESO does on a trigger is
// asserted against the real controller in real_eso_test.cc (synced: exit 0; SecretSyncedError:
// exit 4 with ESO's message; --patch-children on ESO v0.16.2). eso-player, the stand-in, plays
// ESO here only for what the real controller cannot be made to do on cue: stay silent for one
// object, and copy force-sync from a ClusterExternalSecret to its children as ESO >= v0.20 does
// (the module proxy serves v0.16.2 whole, not v1.x). It computes syncedResourceVersion with Go's
// fmt and crypto/sha3, as ESO does, independently of eso-updater's C++.
#include <chrono>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string with_behaviour(const std::string& ns, const std::string& name, const std::string& key,
                           const std::string& behaviour) {
  std::string yaml = external_secret_yaml(ns, name, {key});
  const std::string marker = "  namespace: \"" + ns + "\"\n";
  yaml.insert(yaml.find(marker) + marker.size(),
              "  annotations: {eso-player/behaviour: " + behaviour + "}\n");
  return yaml;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// Why the stand-in: the real controller answers every object it owns; only a stand-in can stay
// silent for one object while answering another.
TEST_CASE("--wait gives up at --timeout when ESO never answers and exits 4") {
  const auto ns = unique_namespace("wait-silent");
  kubectl({"apply", "-f", "-"}, with_behaviour(ns, "silent", "/w/silent", "ignore") +
                                    with_behaviour(ns, "fine", "/w/silent", "sync"));
  const auto player = start_eso_player(ns);
  const auto start = std::chrono::steady_clock::now();
  const auto r = eso_updater({"trigger", "-n", ns, "-k", "/w/silent", "--wait", "--timeout", "2s"});
  const double took = seconds_since(start);
  INFO(r.out, r.err);
  CHECK(r.exit_code == 4);
  CHECK(contains(r.out, "timeout"));
  CHECK(contains(r.out, "synced"));  // the object that did answer is reported as such
  CHECK(took >= 2.0);
  CHECK(took < 15.0);
}

// Why the stand-in: it copies force-sync from the parent to the children as ESO >= v0.20 does;
// the real controller here (v0.16.2) does not (real_eso_test.cc shows that, and the lever for it).
TEST_CASE("--wait on a ClusterExternalSecret waits for its children") {
  const auto ns = unique_namespace("wait-ces");
  const std::string ces = "ces-" + ns;
  const std::string key = "/w/ces/" + ns;
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\n"
                      "metadata: {{name: {}}}\nspec:\n  externalSecretSpec:\n"
                      "    secretStoreRef: {{name: g, kind: ClusterSecretStore}}\n"
                      "    target: {{name: t}}\n    data:\n    - secretKey: p\n"
                      "      remoteRef: {{key: \"{}\"}}\n",
                      ces, key));
  const auto uid = kubectl({"get", "clusterexternalsecret", ces, "-o", "jsonpath={.metadata.uid}"});
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n"
                      "  name: child\n  namespace: {}\n  ownerReferences:\n"
                      "  - {{apiVersion: external-secrets.io/v1, kind: ClusterExternalSecret, "
                      "name: {}, uid: {}}}\nspec:\n"
                      "  secretStoreRef: {{name: g, kind: ClusterSecretStore}}\n"
                      "  target: {{name: t}}\n  data:\n  - secretKey: p\n"
                      "    remoteRef: {{key: \"{}\"}}\n",
                      ns, ces, uid, key));
  const auto player = start_eso_player(ns);
  const auto r = eso_updater({"trigger", "-A", "-k", key, "--wait", "--timeout", "30s"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "via ClusterExternalSecret/" + ces));
  CHECK_FALSE(
      annotation(get_object("externalsecret", ns, "child"), "external-secrets.io/force-sync")
          .empty());
}

TEST_CASE("--repeat-after and ENABLE_CACHE_BUSTER patch again after the delay") {
  const auto ns = unique_namespace("repeat");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/repeat"}));
  auto start = std::chrono::steady_clock::now();
  const auto r =
      eso_updater({"trigger", "-n", ns, "-k", "/repeat", "--repeat-after", "1500ms", "-o", "json"});
  CHECK(seconds_since(start) >= 1.5);
  REQUIRE(r.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  const std::string second = doc["value"].GetString();
  const auto db = get_object("externalsecret", ns, "db");
  CHECK(annotation(db, "force-sync") == second);
  // Two patches by eso-updater: the managed-fields timestamp is from the second one.
  const std::string stamp_second = second.substr(0, 19);
  CHECK(kubectl({"get", "externalsecret", "db", "-n", ns, "--show-managed-fields", "-o",
                 "jsonpath={.metadata.managedFields[?(@.manager==\"eso-updater\")].time}"})
            .substr(0, 19) >= stamp_second.substr(0, 19));

  start = std::chrono::steady_clock::now();
  const auto env = eso_updater({"trigger", "-n", ns, "-k", "/repeat"},
                               {"ENABLE_CACHE_BUSTER=true", "CACHE_BUSTER_WAIT_INTERVAL=1"});
  CHECK(env.exit_code == 0);
  CHECK(seconds_since(start) >= 1.0);
  CHECK(eso_updater({"trigger", "-n", ns, "-k", "/repeat", "--repeat-after", "soon"}).exit_code ==
        2);
}

}  // namespace eso::test
