#include "core/match.h"

#include <doctest/doctest.h>

#include "test/core/es_json.h"

namespace eso {

using test::es_from_json;

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
