// Store and provider scoping with real SecretStore and ClusterSecretStore objects, and -n lists.
#include <algorithm>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string stores_yaml(const std::string& ns, const std::string& vault_store) {
  return fmt::format(
      "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: aws-store, "
      "namespace: {0}}}\nspec:\n  provider:\n    aws: {{service: SecretsManager, region: "
      "eu-west-1}}\n---\n"
      "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: akl, namespace: "
      "{0}}}\nspec:\n  provider:\n    akeyless:\n      akeylessGWApiURL: https://api.akeyless.io\n"
      "      authSecretRef:\n        secretRef:\n          accessID: {{name: a, key: id}}\n"
      "          accessType: {{name: a, key: type}}\n          accessTypeParam: {{name: a, key: "
      "param}}\n---\n"
      "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {{name: {1}}}\n"
      "spec:\n  provider:\n    vault:\n      server: https://vault.example\n      path: secret\n"
      "      version: v2\n      auth:\n        tokenSecretRef: {{name: t, key: token, namespace: "
      "{0}}}\n---\n",
      ns, vault_store);
}

std::string es_reading(const std::string& ns, const std::string& name, const std::string& store,
                       const std::string& kind, const std::string& key) {
  return fmt::format(
      "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {}, "
      "namespace: {}}}\nspec:\n  secretStoreRef: {{name: {}, kind: {}}}\n  target: {{name: t}}\n"
      "  data:\n  - secretKey: k\n    remoteRef: {{key: \"{}\"}}\n---\n",
      name, ns, store, kind, key);
}

// The sorted names (with the key rule) that `match` reports.
std::vector<std::string> matched(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"match", "-o", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = eso_updater(argv);
  INFO(r.err);
  REQUIRE((r.exit_code == 0 || r.exit_code == 1));
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  std::vector<std::string> out;
  for (const auto& m : doc["matches"].GetArray()) {
    out.push_back(std::string(m["name"].GetString()) + ":" + m["rule"].GetString());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("--provider reads the stores and applies the provider's key rule") {
  const auto ns = unique_namespace("scope");
  const std::string vault_store = "vault-" + ns;
  kubectl({"apply", "-f", "-"},
          stores_yaml(ns, vault_store) +
              es_reading(ns, "aws-db", "aws-store", "SecretStore", "prod/db") +
              es_reading(ns, "akl-db", "akl", "SecretStore", "/prod/db") +
              es_reading(ns, "vault-db", vault_store, "ClusterSecretStore", "app/db"));

  const std::string arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbC123";
  CHECK(matched({"-n", ns, "--provider", "aws", "-k", arn}) ==
        std::vector<std::string>{"aws-db:aws"});
  CHECK(matched({"-n", ns, "--provider", "vault", "-k", "secret/data/app/db"}) ==
        std::vector<std::string>{"vault-db:vault"});
  CHECK(matched({"-n", ns, "--provider", "akeyless", "-k", "prod/db"}) ==
        std::vector<std::string>{"akl-db:akeyless"});
  // Without --provider a key compares exactly (DESIGN.md §3): a leading '/' aside, no
  // provider's rule applies, so an ARN names no ExternalSecret key.
  CHECK(matched({"-n", ns, "-k", "prod/db"}) ==
        std::vector<std::string>{"akl-db:akeyless", "aws-db:akeyless"});
  CHECK(matched({"-n", ns, "-k", arn}).empty());

  const auto r = eso_updater({"trigger", "-n", ns, "--provider", "aws", "-k", arn});
  CHECK(r.exit_code == 0);
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "aws-db"), "force-sync").empty());
  CHECK(annotation(get_object("externalsecret", ns, "akl-db"), "force-sync").empty());
}

TEST_CASE("--store and --store-kind narrow to one store") {
  const auto ns = unique_namespace("scope-store");
  const std::string vault_store = "vault-" + ns;
  kubectl({"apply", "-f", "-"},
          stores_yaml(ns, vault_store) +
              es_reading(ns, "aws-db", "aws-store", "SecretStore", "prod/db") +
              es_reading(ns, "akl-db", "akl", "SecretStore", "/prod/db"));
  CHECK(matched({"-n", ns, "--store", "akl", "-k", "prod/db"}) ==
        std::vector<std::string>{"akl-db:akeyless"});
  CHECK(matched({"-n", ns, "--store", "akl", "--store-kind", "ClusterSecretStore", "-k", "prod/db"})
            .empty());
  CHECK(eso_updater({"match", "-n", ns, "--store-kind", "Bogus", "-k", "x"}).exit_code == 2);
}

TEST_CASE("-n takes several namespaces") {
  const auto a = unique_namespace("multi-a");
  const auto b = unique_namespace("multi-b");
  const auto c = unique_namespace("multi-c");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(a, "x", {"/multi"}) +
                                    external_secret_yaml(b, "y", {"/multi"}) +
                                    external_secret_yaml(c, "z", {"/multi"}));
  CHECK(matched({"-n", a + "," + b, "-k", "/multi"}) ==
        std::vector<std::string>{"x:akeyless", "y:akeyless"});
  CHECK(matched({"-n", a, "-n", c, "-n", a, "-k", "/multi"}) ==
        std::vector<std::string>{"x:akeyless", "z:akeyless"});
}

}  // namespace eso::test
