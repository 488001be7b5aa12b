// Compatibility with other ESO installations, each on a cluster of its own started by the test:
// an old ESO that serves only external-secrets.io/v1beta1, and the newest ESO CRDs (v2.9.0).
#include <filesystem>
#include <iostream>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string manifest(const std::string& api_version, const std::string& ns) {
  return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n---\n" +
         "apiVersion: " + api_version +
         "\nkind: ExternalSecret\nmetadata: {name: db, namespace: " + ns +
         "}\nspec:\n  secretStoreRef: {name: akeyless, kind: SecretStore}\n"
         "  target: {name: db}\n  data:\n  - secretKey: p\n    remoteRef: {key: /compat/db}\n"
         "  dataFrom:\n  - extract: {key: compat/db}\n";
}

// match and trigger against `cluster`, expecting `group_version` to be discovered.
void check_match_and_trigger(const ExtraCluster& cluster, const std::string& group_version) {
  const auto match = eso_updater(
      {"--kubeconfig", cluster.kubeconfig(), "match", "-A", "-k", "/compat/db", "-o", "json"});
  INFO(match.err);
  REQUIRE(match.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(match.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(std::string(doc["apiVersion"].GetString()) == group_version);
  CHECK(doc["matches"].Size() == 2);

  const auto trigger = eso_updater(
      {"--kubeconfig", cluster.kubeconfig(), "trigger", "-n", "compat", "-k", "/compat/db"});
  INFO(trigger.err);
  CHECK(trigger.exit_code == 0);
  const auto value = cluster.kubectl_here(
      {"get",
       "externalsecrets." + group_version.substr(group_version.find('/') + 1) +
           ".external-secrets.io",
       "db", "-n", "compat", "-o", "jsonpath={.metadata.annotations.force-sync}"});
  CHECK(value.size() == 30);
}

}  // namespace

TEST_CASE("discovery falls back to v1beta1 on a server that does not serve v1") {
  ExtraCluster cluster({"ESO_CRD_SERVED=v1beta1"});
  cluster.kubectl_here({"apply", "-f", "-"}, manifest("external-secrets.io/v1beta1", "compat"));
  check_match_and_trigger(cluster, "external-secrets.io/v1beta1");
  // The deprecated version makes the server send a Warning header on every request (here the
  // LIST and the PATCH of ExternalSecrets): each distinct warning is shown once.
  const auto r =
      eso_updater({"--kubeconfig", cluster.kubeconfig(), "trigger", "-A", "-k", "/compat/db"});
  const std::string warning = "Warning: external-secrets.io/v1beta1 ExternalSecret is deprecated";
  size_t shown = 0;
  for (size_t at = r.err.find(warning); at != std::string::npos; at = r.err.find(warning, at + 1)) {
    ++shown;
  }
  CHECK(shown == 1);
}

TEST_CASE("the newest ESO CRDs (v2.9.0, v1 only) work") {
  // Never copied into the repository (DESIGN.md §8): ESO_CRD_COMPAT_DIR, else the shared folder
  // beside the checkout or at its usual place. Reported as skipped (which scripts/test reports)
  // when none exists.
  std::string crds;
  for (const std::string& candidate :
       {std::string(std::getenv("ESO_CRD_COMPAT_DIR") ? std::getenv("ESO_CRD_COMPAT_DIR") : ""),
        std::string(ESO_SOURCE_DIR) + "/../shared/eso-crds/v2.9.0",
        std::string("/work/shared/eso-crds/v2.9.0")}) {
    if (!candidate.empty() && std::filesystem::exists(candidate + "/")) {
      crds = candidate;
      break;
    }
  }
  if (crds.empty()) {
    std::cout << "SKIP: no ESO v2.9.0 CRD folder (ESO_CRD_COMPAT_DIR) on this machine\n";
    return;
  }
  ExtraCluster cluster({"ESO_CRD_DIR=" + crds});
  cluster.kubectl_here({"apply", "-f", "-"}, manifest("external-secrets.io/v1", "compat"));
  check_match_and_trigger(cluster, "external-secrets.io/v1");
}

}  // namespace eso::test
