#include "core/trigger_plan.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "core/patch_runner.h"
#include "core/pipeline.h"
#include "test/core/es_json.h"
#include "test/core/fake_kube.h"

namespace eso {
namespace {

// Every patch of `plan` through the pipeline's patcher, as trigger runs them.
std::vector<PatchResult> patch_all(KubeApi& api, const TriggerPlan& plan, int concurrency) {
  EarlyPatcher patcher(api, plan.value, concurrency);
  patcher.submit(plan);
  return patcher.finish(plan);
}

}  // namespace

using test::es_from_json;
using test::FakeKube;

namespace {

std::vector<ExternalSecret> sample_objects() {
  return {
      es_from_json(R"({"metadata": {"namespace": "a", "name": "both"}, "spec": {
        "data": [{"remoteRef": {"key": "/k1"}}, {"remoteRef": {"key": "/k2"}}]}})"),
      es_from_json(R"({"metadata": {"namespace": "a", "name": "once"}, "spec": {
        "refreshPolicy": "CreatedOnce", "data": [{"remoteRef": {"key": "/k1"}}]},
        "status": {"syncedResourceVersion": "1-a"}})"),
      es_from_json(R"({"metadata": {"namespace": "b", "name": "zero"}, "spec": {
        "refreshInterval": "0s", "data": [{"remoteRef": {"key": "/k2"}}]},
        "status": {"syncedResourceVersion": "1-a"}})"),
  };
}

}  // namespace

TEST_CASE("the plan patches each object once and skips those ESO will not refresh") {
  const auto objects = sample_objects();
  const auto plan = plan_trigger(match_keys(objects, {"/k1", "/k2"}).matches,
                                 TriggerOptions{"force-sync", "v1", false, false, false});
  REQUIRE(plan.patches.size() == 1);
  CHECK(plan.patches[0].target.name == "both");
  CHECK(plan.patches[0].reasons.size() == 2);
  REQUIRE(plan.skipped.size() == 2);
  CHECK(plan.skipped[0].target.name == "once");
  CHECK(plan.skipped[0].verdict == MatchVerdict::kCreatedOnce);
  CHECK(plan.skipped[1].target.name == "zero");
  CHECK(plan.skipped[1].verdict == MatchVerdict::kPeriodicZeroInterval);
}

TEST_CASE("--force plans patches for objects ESO would ignore") {
  const auto objects = sample_objects();
  const auto plan = plan_trigger(match_keys(objects, {"/k1", "/k2"}).matches,
                                 TriggerOptions{"x", "v", true, false, false});
  CHECK(plan.patches.size() == 3);
  CHECK(plan.skipped.empty());
}

TEST_CASE("trigger stamps are RFC 3339 UTC with nanoseconds") {
  using namespace std::chrono;
  const system_clock::time_point t{seconds(1764295544) + nanoseconds(5)};
  CHECK(trigger_stamp(t) == "2025-11-28T02:05:44.000000005Z");
  const auto a = trigger_stamp(system_clock::now());
  const auto b = trigger_stamp(system_clock::now() + nanoseconds(1000));
  CHECK(a.size() == 30);
  CHECK(a != b);
}

TEST_CASE("patches run with bounded concurrency and one failure does not stop the others") {
  FakeKube kube;
  kube.fail = {"o3"};
  TriggerPlan plan{"stamp", {}, {}};
  for (int i = 0; i < 20; ++i) {
    plan.patches.push_back(PlannedPatch{ObjectRef{"ExternalSecret", "ns", "o" + std::to_string(i)},
                                        "force-sync",
                                        AnnotationPlace::kObject,
                                        MatchVerdict::kWillRefresh,
                                        {},
                                        {}});
  }
  const auto results = patch_all(kube, plan, 4);
  REQUIRE(results.size() == 20);
  CHECK(kube.peak <= 4);
  CHECK(kube.peak >= 2);
  CHECK(kube.patched.size() == 19);
  for (size_t i = 0; i < results.size(); ++i) {
    CAPTURE(i);
    CHECK(results[i].target.name == "o" + std::to_string(i));
    CHECK(results[i].outcome.ok() == (i != 3));
  }
  CHECK(results[3].outcome.error().message == "denied o3");
  CHECK(results[0].outcome->resource_version == "rv-o0");
}

TEST_CASE("a concurrency of one patches sequentially") {
  FakeKube kube;
  TriggerPlan plan{"b", {}, {}};
  for (int i = 0; i < 5; ++i) {
    plan.patches.push_back(PlannedPatch{ObjectRef{"ExternalSecret", "ns", std::to_string(i)},
                                        "a",
                                        AnnotationPlace::kObject,
                                        MatchVerdict::kWillRefresh,
                                        {},
                                        {}});
  }
  const auto results = patch_all(kube, plan, 1);
  CHECK(kube.peak == 1);
  CHECK(kube.patched == std::vector<std::string>{"0:a=b", "1:a=b", "2:a=b", "3:a=b", "4:a=b"});
}

}  // namespace eso

namespace eso {

TEST_CASE("matches on a ClusterExternalSecret's children patch the parent once") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "db",
        "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "shared"}]},
        "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "b", "name": "db",
        "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "shared"}]},
        "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "c", "name": "own"},
        "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})"),
  };
  const auto matches = match_keys(objects, {"/k"}).matches;
  const auto plan = plan_trigger(matches, TriggerOptions{"force-sync", "v", false, false, false});
  REQUIRE(plan.patches.size() == 2);
  CHECK(plan.patches[0].target == ObjectRef{"ClusterExternalSecret", "", "shared"});
  CHECK(plan.patches[0].annotation == "external-secrets.io/force-sync");
  REQUIRE(plan.patches[0].children.size() == 2);
  CHECK(plan.patches[0].children[1] == ObjectRef{"ExternalSecret", "b", "db"});
  CHECK(plan.patches[1].target == ObjectRef{"ExternalSecret", "c", "own"});
  CHECK(plan.patches[1].annotation == "force-sync");

  CHECK(plan.patches[0].place == AnnotationPlace::kObject);

  // ESO < v0.20: still one patch on the parent, which also reaches the child template.
  const auto legacy = plan_trigger(matches, TriggerOptions{"force-sync", "v", false, false, true});
  REQUIRE(legacy.patches.size() == 2);
  CHECK(legacy.patches[0].target == ObjectRef{"ClusterExternalSecret", "", "shared"});
  CHECK(legacy.patches[0].annotation == "external-secrets.io/force-sync");
  CHECK(legacy.patches[0].place == AnnotationPlace::kObjectAndChildren);
  CHECK(legacy.patches[0].children.size() == 2);
  CHECK(legacy.patches[1].place == AnnotationPlace::kObject);
  FakeKube kube;
  patch_all(kube, legacy, 1);
  CHECK(kube.patched ==
        std::vector<std::string>{"shared:external-secrets.io/force-sync=v +children",
                                 "own:force-sync=v"});
}

TEST_CASE("a confined plan skips ClusterExternalSecret children even with --force") {
  const std::vector<ExternalSecret> objects{
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "db",
        "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "shared"}]},
        "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})"),
      test::es_from_json(R"({"metadata": {"namespace": "a", "name": "own"},
        "spec": {"data": [{"remoteRef": {"key": "/k"}}]}})"),
  };
  const auto matches = match_keys(objects, {"/k"}).matches;
  TriggerOptions options{"force-sync", "v", true, false, false};
  options.confined = true;
  const auto plan = plan_trigger(matches, options);
  REQUIRE(plan.patches.size() == 1);
  CHECK(plan.patches[0].target == ObjectRef{"ExternalSecret", "a", "own"});
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].target == ObjectRef{"ExternalSecret", "a", "db"});
  CHECK(plan.skipped[0].reason == SkipReason::kBeyondNamespaces);
  CHECK(skip_text(plan.skipped[0]).find("--trigger-namespaces") != std::string::npos);
  options.confined = false;
  CHECK(plan_trigger(matches, options).patches.size() == 2);
  // Without --force too: its reason is the namespaces, not a "--force patches it" one.
  const std::vector<ExternalSecret> once{test::es_from_json(
      R"({"metadata": {"namespace": "a", "name": "db",
        "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "shared"}]},
        "spec": {"refreshPolicy": "CreatedOnce", "data": [{"remoteRef": {"key": "/k"}}]},
        "status": {"syncedResourceVersion": "1-a"}})")};
  TriggerOptions plain{"force-sync", "v", false, false, false};
  plain.confined = true;
  const auto skipped = plan_trigger(match_keys(once, {"/k"}).matches, plain).skipped;
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].reason == SkipReason::kBeyondNamespaces);
}

TEST_CASE("possible matches are skipped unless --include-possible") {
  const std::vector<ExternalSecret> objects{test::es_from_json(
      R"({"metadata": {"namespace": "a", "name": "tags"},
        "spec": {"dataFrom": [{"find": {"tags": {"env": "prod"}}}]}})")};
  const auto matches = match_keys(objects, {"/k"}).matches;
  const auto plan = plan_trigger(matches, TriggerOptions{"force-sync", "v", false, false, false});
  CHECK(plan.patches.empty());
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].reason == SkipReason::kPossibleOnly);
  CHECK(skip_text(plan.skipped[0]).find("--include-possible") != std::string::npos);
  const auto included =
      plan_trigger(matches, TriggerOptions{"force-sync", "v", false, true, false});
  CHECK(included.patches.size() == 1);
  CHECK(included.skipped.empty());
}

TEST_CASE("an object with a generatorRef entry is reported and skipped unless --force") {
  const std::vector<ExternalSecret> objects{test::es_from_json(
      R"({"metadata": {"namespace": "a", "name": "gen"}, "spec": {
        "data": [{"remoteRef": {"key": "/k"}}],
        "dataFrom": [{"sourceRef": {"generatorRef": {"apiVersion":
          "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "pw"}}}]}})")};
  const auto matches = match_keys(objects, {"/k"}).matches;
  REQUIRE(matches.size() == 1);
  const auto plan = plan_trigger(matches, TriggerOptions{"force-sync", "v", false, false, false});
  CHECK(plan.patches.empty());
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].reason == SkipReason::kGenerator);
  CHECK(skip_text(plan.skipped[0]).find("generatorRef") != std::string::npos);
  CHECK(skip_text(plan.skipped[0]).find("--force") != std::string::npos);
  const auto forced = plan_trigger(matches, TriggerOptions{"force-sync", "v", true, false, false});
  CHECK(forced.patches.size() == 1);
  CHECK(forced.skipped.empty());
}

}  // namespace eso
