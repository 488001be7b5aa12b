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
    for (const auto& m : match_keys(objects, c.keys))
      got.push_back(m.object->ref.name + "@" + m.field);
    CHECK(got == c.want);
  }
  const auto matches = match_keys(objects, {"/prod/db"});
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].key == "/prod/db");
  CHECK(matches[0].store == StoreRef{"s", "SecretStore"});
  CHECK(matches[0].verdict == MatchVerdict::kNeverSynced);
  CHECK(matches[1].verdict == MatchVerdict::kCreatedOnce);
}

}  // namespace eso
