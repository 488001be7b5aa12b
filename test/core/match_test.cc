#include "core/match.h"

#include "core/key_rules.h"
#include "core/secret_store.h"

#include <doctest/doctest.h>

#include "test/core/es_json.h"

namespace eso {

using test::es_from_json;

// A store of `provider`; the rest as a store's spec would give them.
static StoreInfo store_info(const std::string& provider, const std::string& vault_mount = "",
                            const std::string& infisical_path = "",
                            const std::string& infisical_environment = "",
                            const std::string& doppler_project = "",
                            const std::string& doppler_config = "") {
  StoreInfo info;
  info.provider = provider;
  info.vault_mount = vault_mount;
  info.infisical_path = infisical_path;
  info.infisical_environment = infisical_environment;
  info.doppler_project = doppler_project;
  info.doppler_config = doppler_config;
  return info;
}

namespace {

ExternalSecret with_refresh(const char* policy, const char* interval, const char* synced) {
  ExternalSecret es;
  es.refresh_policy = std::string(policy) == "CreatedOnce" ? RefreshPolicy::kCreatedOnce
                      : std::string(policy) == "OnChange"  ? RefreshPolicy::kOnChange
                                                           : RefreshPolicy::kPeriodic;
  es.refresh_interval =
      std::string(interval) == "0" ? std::chrono::nanoseconds(0) : std::chrono::hours(1);
  es.synced_resource_version = synced;
  return es;
}

}  // namespace

TEST_CASE("refresh verdicts follow ESO's shouldRefresh") {
  struct Case {
    const char* policy;
    const char* interval;
    const char* synced;
    MatchVerdict want;
  };
  const Case cases[] = {
      {"", "1h", "1-a", MatchVerdict::kWillRefresh},
      {"Periodic", "1h", "1-a", MatchVerdict::kWillRefresh},
      {"Periodic", "0", "1-a", MatchVerdict::kPeriodicZeroInterval},
      {"", "0", "1-a", MatchVerdict::kPeriodicZeroInterval},
      {"Periodic", "0", "", MatchVerdict::kNeverSynced},
      {"CreatedOnce", "1h", "1-a", MatchVerdict::kCreatedOnce},
      {"CreatedOnce", "1h", "", MatchVerdict::kNeverSynced},
      {"OnChange", "0", "1-a", MatchVerdict::kWillRefresh},
  };
  for (const auto& c : cases) {
    CAPTURE(c.policy);
    CAPTURE(c.interval);
    CAPTURE(c.synced);
    CHECK(refresh_verdict(with_refresh(c.policy, c.interval, c.synced)) == c.want);
  }
  CHECK(will_refresh(MatchVerdict::kNeverSynced));
  CHECK_FALSE(will_refresh(MatchVerdict::kCreatedOnce));
  CHECK(verdict_text(MatchVerdict::kPeriodicZeroInterval) ==
        "will-not-refresh (Periodic with refreshInterval 0)");
  CHECK(verdict_text(MatchVerdict::kCreatedOnce) == "will-not-refresh (refreshPolicy CreatedOnce)");
}

TEST_CASE("keys match data and dataFrom.extract after Akeyless normalisation") {
  const std::vector<ExternalSecret> objects{
      es_from_json(R"({"metadata": {"namespace": "a", "name": "one"}, "spec": {
        "secretStoreRef": {"name": "s"},
        "data": [{"remoteRef": {"key": "prod/db"}}, {"remoteRef": {"key": "/prod/other"}}]}})"),
      es_from_json(R"({"metadata": {"namespace": "b", "name": "two"}, "spec": {
        "refreshPolicy": "CreatedOnce",
        "dataFrom": [{"extract": {"key": "/prod/db/"}}]}, "status": {"syncedResourceVersion": "1-x"}})"),
      es_from_json(R"({"metadata": {"namespace": "c", "name": "three"}, "spec": {
        "data": [{"remoteRef": {"key": "/prod/db2"}}]}})"),
  };
  struct Case {
    std::vector<std::string> keys;
    std::vector<std::string> want;  // name@field
  };
  const Case cases[] = {
      {{"/prod/db"}, {"one@spec.data[0].remoteRef.key", "two@spec.dataFrom[0].extract.key"}},
      {{"prod/db/"}, {"one@spec.data[0].remoteRef.key", "two@spec.dataFrom[0].extract.key"}},
      {{"/prod/db", "/prod/db"},
       {"one@spec.data[0].remoteRef.key", "two@spec.dataFrom[0].extract.key"}},
      {{"/prod/other", "/prod/db2"},
       {"one@spec.data[1].remoteRef.key", "three@spec.data[0].remoteRef.key"}},
      {{"/prod"}, {}},
      // Without a provider or an event's rule the exact rule applies: case matters.
      {{"/PROD/DB"}, {}},
      {{}, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.keys.size());
    std::vector<std::string> got;
    for (const auto& m : match_keys(objects, c.keys).matches)
      got.push_back(m.object->ref.name + "@" + m.field);
    CHECK(got == c.want);
  }
  const auto matches = match_keys(objects, {"/prod/db"}).matches;
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].key == "/prod/db");
  CHECK(matches[0].store == StoreRef{"s", "SecretStore"});
  CHECK(matches[0].verdict == MatchVerdict::kNeverSynced);
  CHECK(matches[1].verdict == MatchVerdict::kCreatedOnce);
  CHECK(matches[0].rule == "akeyless");
  MatchScope azure_event;
  azure_event.event_rule = "azurekv";  // Key Vault names are case-insensitive
  const auto azure = match_keys(objects, {"/PROD/DB"}, azure_event).matches;
  REQUIRE(azure.size() == 2);
  CHECK(azure[0].rule == "azurekv");
  CHECK(match_keys(objects, {"/PROD/DB"}).matches.empty());
}

}  // namespace eso

namespace eso {

namespace {

ExternalSecret with_find(const std::string& find_json) {
  return test::es_from_json(R"({"metadata": {"namespace": "n", "name": "f"}, "spec": {
    "secretStoreRef": {"name": "s", "kind": "ClusterSecretStore"},
    "dataFrom": [{"extract": {"key": "/unrelated"}}, {"find": )" +
                            find_json + "}]}}");
}

}  // namespace

TEST_CASE("dataFrom.find selects keys by path prefix and RE2 regexp") {
  struct Case {
    const char* find;
    const char* key;
    const char* want_field;  // "" when the key is not selected
    bool possible;
  };
  const Case cases[] = {
      // find.path: a folder, normalised with leading and trailing '/'.
      {R"({"path": "/prod"})", "/prod/db", "spec.dataFrom[1].find.path", false},
      {R"({"path": "prod/"})", "prod/db/pass", "spec.dataFrom[1].find.path", false},
      {R"({"path": "/prod"})", "/production/db", "", false},
      {R"({"path": "/prod"})", "/prod", "", false},
      {R"({"path": "/"})", "/anything", "spec.dataFrom[1].find.path", false},
      // name.regexp: Go's MatchString, unanchored, RE2 syntax, against the normalised key.
      {R"({"name": {"regexp": "db"}})", "/prod/db/pass", "spec.dataFrom[1].find.name.regexp",
       false},
      {R"({"name": {"regexp": "^db"}})", "/prod/db", "", false},
      {R"({"name": {"regexp": "^/prod/.*pass$"}})", "prod/db/pass",
       "spec.dataFrom[1].find.name.regexp", false},
      {R"({"name": {"regexp": "pass$"}})", "/prod/password", "", false},
      {R"({"name": {"regexp": "(?i)^/PROD/DB$"}})", "/prod/db", "spec.dataFrom[1].find.name.regexp",
       false},
      {R"({"name": {"regexp": "^/prod/\\pL+$"}})", "/prod/db", "spec.dataFrom[1].find.name.regexp",
       false},
      {R"({"name": {"regexp": "^/prod/(?P<n>[a-z]+)$"}})", "/prod/db",
       "spec.dataFrom[1].find.name.regexp", false},
      {R"({"name": {"regexp": "\\Q/prod/db\\E\\z"}})", "/prod/db",
       "spec.dataFrom[1].find.name.regexp", false},
      {R"({"path": "/prod", "name": {"regexp": "pass"}})", "/stage/pass", "", false},
      {R"({"path": "/prod", "name": {"regexp": "pass"}})", "/prod/pass",
       "spec.dataFrom[1].find.name.regexp", false},
      // find.tags cannot be decided from a key: possible when path and regexp allow it.
      {R"({"tags": {"env": "prod"}})", "/x", "spec.dataFrom[1].find.tags", true},
      {R"({"path": "/prod", "tags": {"env": "prod"}})", "/stage/x", "", false},
      {R"({"path": "/prod", "tags": {"env": "prod"}})", "/prod/x", "spec.dataFrom[1].find.tags",
       true},
      {R"({"tags": {}})", "/x", "", false},
      {R"({})", "/x", "", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.find);
    CAPTURE(c.key);
    const std::vector<ExternalSecret> objects{with_find(c.find)};
    const auto result = match_keys(objects, {c.key});
    CHECK(result.problems.empty());
    if (std::string(c.want_field).empty()) {
      CHECK(result.matches.empty());
      continue;
    }
    REQUIRE(result.matches.size() == 1);
    CHECK(result.matches[0].field == c.want_field);
    CHECK(result.matches[0].possible == c.possible);
    CHECK(result.matches[0].store == StoreRef{"s", "ClusterSecretStore"});
  }
}

TEST_CASE("an invalid or non-RE2 regexp is a problem for that object only") {
  for (const char* bad : {"(", "[z-a]", "a{2,1}", "(?=lookahead)", "\\1", "(?<!x)y"}) {
    CAPTURE(bad);
    std::string pattern;
    for (char c : std::string(bad)) {
      if (c == '\\') pattern += '\\';
      pattern += c;
    }
    const std::vector<ExternalSecret> objects{
        with_find(R"({"name": {"regexp": ")" + pattern + R"("}})"),
        test::es_from_json(
            R"({"metadata": {"name": "ok"}, "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})")};
    const auto result = match_keys(objects, {"/k", "/other"});
    REQUIRE(result.problems.size() == 1);
    CHECK(result.problems[0].field == "spec.dataFrom[1].find.name.regexp");
    CHECK(result.problems[0].message.find("invalid regexp") != std::string::npos);
    REQUIRE(result.matches.size() == 1);
    CHECK(result.matches[0].object->ref.name == "ok");
  }
}

TEST_CASE("ClusterExternalSecret templates are matched under spec.externalSecretSpec") {
  rapidjson::Document doc;
  doc.Parse(R"({"metadata": {"name": "shared"}, "spec": {
    "namespaceSelectors": [{"matchLabels": {"team": "a"}}],
    "externalSecretSpec": {"refreshInterval": "1h", "secretStoreRef": {"name": "g", "kind": "ClusterSecretStore"},
      "data": [{"secretKey": "p", "remoteRef": {"key": "/shared/db"}}]}}})");
  auto ces = parse_cluster_external_secret(doc);
  REQUIRE(ces.ok());
  CHECK(ces->ref.kind == "ClusterExternalSecret");
  CHECK(ces->ref.namespace_name.empty());
  const std::vector<ExternalSecret> objects{*ces};
  const auto result = match_keys(objects, {"shared/db"});
  REQUIRE(result.matches.size() == 1);
  CHECK(result.matches[0].field == "spec.externalSecretSpec.data[0].remoteRef.key");
  CHECK(result.matches[0].verdict == MatchVerdict::kWillRefresh);
}

}  // namespace eso

namespace eso {

TEST_CASE("provider key rules reduce event keys and ExternalSecret keys to one form") {
  struct Case {
    const char* provider;
    const char* key;
    const char* want;
  };
  const Case cases[] = {
      {"akeyless", "db/pass", "/db/pass"},
      {"akeyless", "/db/pass/", "/db/pass"},
      {"aws", "prod/db", "prod/db"},
      {"aws", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbC123", "prod/db"},
      {"aws", "arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:x-y-z-a1B2c3", "x-y-z"},
      {"aws", "arn:aws:secretsmanager:eu-west-1:1:secret:short", "short"},
      {"azurekv", "secret/DbPassword", "dbpassword"},
      {"azurekv", "cert/Tls", "tls"},
      {"azurekv", "DbPassword", "dbpassword"},
      {"azurekv", "https://v.vault.azure.net/secrets/DbPassword/0123abcd", "dbpassword"},
      {"gcpsm", "db-pass", "db-pass"},
      {"gcpsm", "projects/my-proj/secrets/db-pass", "db-pass"},
      {"gcpsm", "projects/123/secrets/db-pass/versions/7", "db-pass"},
      {"vault", "secret/data/app/db", "secret/app/db"},
      {"vault", "/secret/app/db", "secret/app/db"},
      {"vault", "app", "app"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.provider);
    CAPTURE(c.key);
    const KeyRule* rule = key_rule(c.provider);
    REQUIRE(rule != nullptr);
    CHECK(rule->canonical(c.key) == c.want);
  }
  CHECK(key_rule("doppler") == nullptr);
}

TEST_CASE("one key rule per entry: the store's provider, else the event's, else exact") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "team-b", "name": "pw"}, "spec": {
        "secretStoreRef": {"name": "s"},
        "data": [{"remoteRef": {"key": "/team-b/secrets/password"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "rt", "name": "db"}, "spec": {
        "secretStoreRef": {"name": "s"}, "data": [{"remoteRef": {"key": "/rt/db"}}]}})"),
  };
  auto names = [&](const std::string& key, const std::string& event_rule) {
    MatchScope scope;
    scope.event_rule = event_rule;
    std::vector<std::string> out;
    for (const auto& m : match_keys(objects, {key}, scope).matches) {
      out.push_back(m.object->ref.name + ":" + m.rule);
    }
    return out;
  };
  using Names = std::vector<std::string>;
  // An Akeyless event compares Akeyless paths: another tenant's folder, or another case, is
  // another secret (an Azure-style comparison made both match).
  CHECK(names("/team-a/secrets/password", "akeyless") == Names{});
  CHECK(names("/RT/DB", "akeyless") == Names{});
  CHECK(names("rt/db", "akeyless") == Names{"db:akeyless"});
  // The exact rule (trigger --key): the same.
  CHECK(names("/team-a/secrets/password", "") == Names{});
  CHECK(names("/RT/DB", "") == Names{});
  // An Azure event compares Key Vault names, as Key Vault does.
  CHECK(names("https://v.vault.azure.net/secrets/password", "azurekv") == Names{"pw:azurekv"});
  // A store whose provider has no rule of its own compares exactly.
  const StoreInfo doppler = store_info("doppler");
  MatchScope with_store;
  with_store.event_rule = "azurekv";
  with_store.stores = [&](const ExternalSecret&, const StoreRef&) { return &doppler; };
  CHECK(match_keys(objects, {"/rt/db"}, with_store).matches.size() == 1);
  CHECK(match_keys(objects, {"password"}, with_store).matches.empty());
}

TEST_CASE("scoping by store, provider, and the store's own key rule") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "aws"}, "spec": {
        "secretStoreRef": {"name": "aws-store"}, "data": [{"remoteRef": {"key": "prod/db"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "vault"}, "spec": {
        "secretStoreRef": {"name": "vault-store", "kind": "ClusterSecretStore"},
        "data": [{"remoteRef": {"key": "app/db"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "unknown-store"}, "spec": {
        "secretStoreRef": {"name": "gone"}, "data": [{"remoteRef": {"key": "prod/db"}}]}})"),
  };
  const StoreInfo aws = store_info("aws");
  const StoreInfo vault = store_info("vault", "secret");
  MatchScope scope;
  scope.stores = [&](const ExternalSecret&, const StoreRef& s) -> const StoreInfo* {
    if (s.name == "aws-store" && s.kind == "SecretStore") return &aws;
    if (s.name == "vault-store" && s.kind == "ClusterSecretStore") return &vault;
    return nullptr;
  };
  auto names = [&](const std::vector<std::string>& keys, const MatchScope& sc) {
    std::vector<std::string> out;
    for (const auto& m : match_keys(objects, keys, sc).matches) {
      out.push_back(m.object->ref.name + ":" + m.rule);
    }
    return out;
  };
  const std::string arn = "arn:aws:secretsmanager:eu-west-1:1:secret:prod/db-AbC123";
  // The store unknown and no event rule: exact, so an ARN matches only the aws store's entry.
  CHECK(names({arn}, scope) == std::vector<std::string>{"aws:aws"});
  MatchScope aws_event = scope;
  aws_event.event_rule = "aws";
  CHECK(names({arn}, aws_event) == std::vector<std::string>{"aws:aws", "unknown-store:aws"});
  CHECK(names({"secret/data/app/db"}, scope) == std::vector<std::string>{"vault:vault"});
  // The aws store's rule alone applies to its entries: no Akeyless-style match for "/prod/db".
  CHECK(names({"/prod/db"}, scope) == std::vector<std::string>{"unknown-store:akeyless"});

  MatchScope only_aws = scope;
  only_aws.provider = "aws";
  CHECK(names({arn, "prod/db"}, only_aws) == std::vector<std::string>{"aws:aws"});

  MatchScope by_store;
  by_store.store_name = "vault-store";
  by_store.store_kind = "ClusterSecretStore";
  CHECK(names({"app/db", "prod/db"}, by_store) == std::vector<std::string>{"vault:akeyless"});
}

}  // namespace eso

namespace eso {

TEST_CASE("a changed folder (Infisical) matches keys in it and finds over it") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "in-folder"}, "spec": {
        "data": [{"secretKey": "u", "remoteRef": {"key": "/backend/db/USER"}},
                 {"secretKey": "d", "remoteRef": {"key": "/backend/db/deeper/X"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "root-key"}, "spec": {
        "data": [{"secretKey": "k", "remoteRef": {"key": "API_KEY"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "find-parent"}, "spec": {
        "dataFrom": [{"find": {"path": "/backend"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "find-named"}, "spec": {
        "dataFrom": [{"find": {"path": "/backend/db", "name": {"regexp": "^DB_"}}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "find-elsewhere"}, "spec": {
        "dataFrom": [{"find": {"path": "/frontend"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "extract"}, "spec": {
        "dataFrom": [{"extract": {"key": "/backend/db/ALL"}}]}})"),
  };
  const auto result = match_keys(objects, {}, {}, {"/backend/db"});
  std::vector<std::string> got;
  for (const auto& m : result.matches) {
    got.push_back(m.object->ref.name + " " + m.field + " " + match_verdict_text(m));
    CHECK(m.rule == "infisical-path");
    CHECK(m.key == "/backend/db");
  }
  CHECK(got == std::vector<std::string>{
                   "in-folder spec.data[0].remoteRef.key will-refresh (not synced yet)",
                   "find-parent spec.dataFrom[0].find.path will-refresh (not synced yet)",
                   "find-named spec.dataFrom[0].find.name.regexp possible (find filters a changed "
                   "folder by name or tags)",
                   "extract spec.dataFrom[0].extract.key will-refresh (not synced yet)",
               });
  // A key without a folder lies in the root folder.
  const auto root = match_keys(objects, {}, {}, {"/"});
  REQUIRE(root.matches.size() == 1);  // no find here reads the root folder
  CHECK(root.matches[0].object->ref.name == "root-key");

  // Entries whose store is another provider are left alone.
  MatchScope scope;
  StoreInfo akeyless = store_info("akeyless");
  scope.stores = [&](const ExternalSecret&, const StoreRef&) { return &akeyless; };
  CHECK(match_keys(objects, {}, scope, {"/backend/db"}).matches.empty());
  StoreInfo infisical = store_info("infisical", "", "/");
  scope.stores = [&](const ExternalSecret&, const StoreRef&) { return &infisical; };
  CHECK(match_keys(objects, {}, scope, {"/backend/db"}).matches.size() == 4);
}

}  // namespace eso

namespace eso {

TEST_CASE("with its store known, an Infisical key lies in the store's folder and environment") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "plain"}, "spec": {
        "secretStoreRef": {"name": "inf-prod"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "DB_USER"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "dev"}, "spec": {
        "secretStoreRef": {"name": "inf-dev"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "DB_USER"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "find"}, "spec": {
        "secretStoreRef": {"name": "inf-prod"},
        "dataFrom": [{"find": {"name": {"regexp": ".*"}}}]}})"),
  };
  const std::vector<SecretStoreRecord> stores{
      {ObjectRef{"SecretStore", "a", "inf-prod"}, store_info("infisical", "", "/backend", "prod")},
      {ObjectRef{"SecretStore", "a", "inf-dev"}, store_info("infisical", "", "/backend", "dev")},
  };
  MatchScope scope;
  scope.stores = store_lookup(&stores);
  scope.environment = "prod";
  const auto result = match_keys(objects, {}, scope, {"/backend"});
  std::vector<std::string> got;
  for (const auto& m : result.matches) got.push_back(m.object->ref.name + " " + m.field);
  CHECK(got == std::vector<std::string>{"plain spec.data[0].remoteRef.key",
                                        "find spec.dataFrom[0].find.name.regexp"});
  // The root folder is not the store's folder.
  CHECK(match_keys(objects, {}, scope, {"/"}).matches.empty());
  // A key with a folder but no leading '/' is joined to the store's path too (ESO's
  // getSecretAddress), and an Infisical find selects by string prefix.
  const std::vector<ExternalSecret> more{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "sub"}, "spec": {
        "secretStoreRef": {"name": "inf-prod"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "sub/DB_USER"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "app"}, "spec": {
        "secretStoreRef": {"name": "inf-prod"},
        "dataFrom": [{"find": {"path": "/app"}}]}})"),
  };
  const auto sub = match_keys(more, {}, scope, {"/backend/sub"});
  REQUIRE(sub.matches.size() == 1);
  CHECK(sub.matches[0].object->ref.name == "sub");
  CHECK(match_keys(more, {}, scope, {"/sub"}).matches.empty());
  const auto app2 = match_keys(more, {}, scope, {"/app2"});
  REQUIRE(app2.matches.size() == 1);
  CHECK(app2.matches[0].object->ref.name == "app");

  scope.environment = "dev";
  const auto dev = match_keys(objects, {}, scope, {"/backend"});
  REQUIRE(dev.matches.size() == 1);
  CHECK(dev.matches[0].object->ref.name == "dev");
}

}  // namespace eso

namespace eso {

TEST_CASE("a Doppler config that changed as a whole matches every entry of its stores") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "prd"}, "spec": {
        "secretStoreRef": {"name": "doppler-prd"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "DB_URL"}},
                 {"secretKey": "v", "remoteRef": {"key": "API_KEY"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "token-scoped"}, "spec": {
        "secretStoreRef": {"name": "doppler-token"},
        "dataFrom": [{"find": {"name": {"regexp": ".*"}}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "dev"}, "spec": {
        "secretStoreRef": {"name": "doppler-dev"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "DB_URL"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "akeyless"}, "spec": {
        "secretStoreRef": {"name": "akeyless"},
        "data": [{"secretKey": "u", "remoteRef": {"key": "DB_URL"}}]}})"),
  };
  const std::vector<SecretStoreRecord> stores{
      {ObjectRef{"SecretStore", "a", "doppler-prd"},
       store_info("doppler", "", "", "", "Backend", "prd")},
      {ObjectRef{"SecretStore", "a", "doppler-token"}, store_info("doppler")},
      {ObjectRef{"SecretStore", "a", "doppler-dev"},
       store_info("doppler", "", "", "", "backend", "dev")},
      {ObjectRef{"SecretStore", "a", "akeyless"}, store_info("akeyless")},
  };
  const ConfigScope prd{"doppler", {"714faaa5958", "backend"}, "prd"};
  MatchScope scope;
  scope.stores = store_lookup(&stores);
  const auto result = match_keys(objects, {}, scope, {}, {prd});
  std::vector<std::string> got;
  for (const auto& m : result.matches) {
    got.push_back(m.object->ref.name + " " + m.field + " " + m.rule);
    CHECK(m.key == "doppler:prd");
  }
  CHECK(got == std::vector<std::string>{"prd spec.data[0].remoteRef.key doppler-config",
                                        "prd spec.data[1].remoteRef.key doppler-config",
                                        "token-scoped spec.dataFrom[0].find doppler-config"});
  // Stores unknown: nothing, unless the route names the store.
  CHECK(match_keys(objects, {}, {}, {}, {prd}).matches.empty());
  MatchScope named;
  named.store_name = "doppler-dev";
  const auto by_name = match_keys(objects, {}, named, {}, {prd});
  REQUIRE(by_name.matches.size() == 1);
  CHECK(by_name.matches[0].object->ref.name == "dev");
}

}  // namespace eso
