#include "core/sync_state.h"

#include <atomic>

#include <doctest/doctest.h>

#include "core/sync_wait.h"
#include "test/core/fake_kube.h"

namespace eso {
namespace {

SyncState state_with(int64_t generation, std::map<std::string, std::string> annotations,
                     std::map<std::string, std::string> labels) {
  SyncState s;
  s.generation = generation;
  s.annotations = std::move(annotations);
  s.labels = std::move(labels);
  return s;
}

}  // namespace

// Vectors produced by Go 1.26: fmt.Sprintf("%+v", meta{...}) and crypto/sha3.Sum224, exactly as
// ESO's ctrlutil.GetResourceVersion computes them.
TEST_CASE("ESO's syncedResourceVersion is computed exactly") {
  struct Case {
    SyncState state;
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {state_with(1, {}, {}), "{annotations:map[] labels:map[]}",
       "1-f47fe3c0b255b6dd8047cdffa772587bb829efe7a1cb70febeda2eb2"},
      {state_with(3, {{"force-sync", "2026-11-28T02:05:44.123456789Z"}, {"a", "1"}}, {}),
       "{annotations:map[a:1 force-sync:2026-11-28T02:05:44.123456789Z] labels:map[]}",
       "3-0456ccda6fd10ec099d8a8f674e68fc6fa16cb81433b9ba6370bb4ac"},
      {state_with(2, {{"b", "x y"}, {"B", "z"}, {"\xC3\xA9", "\xC3\xBC"}},
                  {{"app", "db"}, {"tier", "gold"}}),
       "{annotations:map[B:z b:x y \xC3\xA9:\xC3\xBC] labels:map[app:db tier:gold]}",
       "2-67c4a00595512d2cfb242546b47d4b5ab2a3fa1be002a4cbb41c2958"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(go_meta_text(c.state.annotations, c.state.labels) == c.text);
    CHECK(eso_resource_version(c.state) == c.want);
  }
}

TEST_CASE("check_sync tells synced, failed and pending apart") {
  const std::string value = "2026-11-28T02:05:44.000000001Z";
  auto base = state_with(4, {{"force-sync", value}}, {{"l", "v"}});
  const ReadyCondition old_error{"False", "SecretSyncedError", "old", "2026-01-01T00:00:00Z"};
  const ReadyCondition new_error{"False", "SecretSyncedError", "boom", "2026-11-28T02:05:45Z"};
  const ReadyCondition ok{"True", "SecretSynced", "", "2026-11-28T02:05:45Z"};

  auto synced = base;
  synced.synced_resource_version = eso_resource_version(base);
  synced.ready = ok;
  CHECK(check_sync(synced, "force-sync", value, std::nullopt).outcome == SyncOutcome::kSynced);

  auto later_trigger = synced;
  later_trigger.annotations["force-sync"] = "2026-11-28T02:05:50.000000000Z";
  later_trigger.synced_resource_version = eso_resource_version(later_trigger);
  CHECK(check_sync(later_trigger, "force-sync", value, std::nullopt).outcome ==
        SyncOutcome::kSynced);

  auto stale = synced;
  stale.synced_resource_version = "4-0000";
  CHECK(check_sync(stale, "force-sync", value, std::nullopt).outcome == SyncOutcome::kPending);

  auto not_reached = synced;
  not_reached.annotations.erase("force-sync");
  const auto pending = check_sync(not_reached, "force-sync", value, std::nullopt);
  CHECK(pending.outcome == SyncOutcome::kPending);
  CHECK(pending.detail.find("to reach the object") != std::string::npos);

  auto older_value = synced;
  older_value.annotations["force-sync"] = "2026-11-28T02:05:43.999999999Z";
  CHECK(check_sync(older_value, "force-sync", value, std::nullopt).outcome ==
        SyncOutcome::kPending);

  auto failed = base;
  failed.ready = new_error;
  const auto f = check_sync(failed, "force-sync", value, old_error);
  CHECK(f.outcome == SyncOutcome::kFailed);
  CHECK(f.detail == "SecretSyncedError: boom");

  auto still_old = base;
  still_old.ready = old_error;
  const auto s = check_sync(still_old, "force-sync", value, old_error);
  CHECK(s.outcome == SyncOutcome::kPending);
  CHECK(s.detail.find("still failing") != std::string::npos);
}

namespace {

// A clock that advances only when the code under test sleeps.
class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point t{};
  int sleeps = 0;
  std::chrono::steady_clock::time_point now() override { return t; }
  void sleep_for(std::chrono::milliseconds d) override {
    t += d;
    ++sleeps;
  }
};

}  // namespace

TEST_CASE("wait_for_sync polls until each object answers or the deadline passes") {
  test::FakeKube kube;
  FakeClock clock;
  const std::string value = "2026-11-28T02:05:44.000000001Z";
  kube.get = [&](const ObjectRef& ref) -> Result<SyncState> {
    auto s = state_with(1, {{"force-sync", value}}, {});
    s.ref = ref;
    const auto since = clock.t - std::chrono::steady_clock::time_point{};
    if (ref.name == "quick" || (ref.name == "slow" && since >= std::chrono::seconds(3))) {
      s.synced_resource_version = eso_resource_version(s);
      s.ready = ReadyCondition{"True", "SecretSynced", "", ""};
    }
    if (ref.name == "broken") s.ready = ReadyCondition{"False", "SecretSyncedError", "no", "t"};
    if (ref.name == "gone") return Error{ErrorCode::kNotFound, "not found"};
    return s;
  };
  std::vector<WaitTarget> targets;
  for (const char* name : {"quick", "slow", "broken", "silent", "gone"}) {
    targets.push_back(WaitTarget{ObjectRef{"ExternalSecret", "ns", name}, "force-sync", value,
                                 std::nullopt, ObjectRef{}});
  }
  const auto results = wait_for_sync(kube, targets, clock.now(), std::chrono::seconds(10),
                                     std::chrono::milliseconds(500), clock);
  REQUIRE(results.size() == 5);
  CHECK(results[0].outcome == SyncOutcome::kSynced);
  CHECK(results[0].elapsed.count() == 0);
  CHECK(results[1].outcome == SyncOutcome::kSynced);
  CHECK(results[1].elapsed == std::chrono::seconds(3));
  CHECK(results[2].outcome == SyncOutcome::kFailed);
  CHECK(results[3].outcome == SyncOutcome::kPending);
  CHECK(results[3].elapsed == std::chrono::seconds(10));
  CHECK(results[4].outcome == SyncOutcome::kFailed);
  CHECK(results[4].detail == "deleted while waiting");
  CHECK(clock.t - std::chrono::steady_clock::time_point{} == std::chrono::seconds(10));
  CHECK(clock.sleeps == 20);
}

}  // namespace eso

namespace eso {

TEST_CASE("wait_for_sync ends early when cancelled and says why") {
  test::FakeKube kube;
  std::atomic<bool> stop{false};
  // A clock whose third sleep is when serve is told to stop.
  class StoppingClock final : public Clock {
   public:
    explicit StoppingClock(std::atomic<bool>& stop) : stop_(stop) {}
    std::chrono::steady_clock::time_point t{};
    int sleeps = 0;
    std::chrono::steady_clock::time_point now() override { return t; }
    void sleep_for(std::chrono::milliseconds d) override {
      t += d;
      if (++sleeps == 3) stop_ = true;
    }

   private:
    std::atomic<bool>& stop_;
  } clock(stop);
  kube.get = [&](const ObjectRef& ref) -> Result<SyncState> {
    auto s = state_with(1, {}, {});
    s.ref = ref;
    return s;
  };
  const std::vector<WaitTarget> targets{WaitTarget{ObjectRef{"ExternalSecret", "ns", "silent"},
                                                   "force-sync", "v", std::nullopt, ObjectRef{}}};
  const auto results = wait_for_sync(kube, targets, clock.now(), std::chrono::minutes(10),
                                     std::chrono::milliseconds(500), clock, &stop);
  REQUIRE(results.size() == 1);
  CHECK(results[0].outcome == SyncOutcome::kPending);
  CHECK(results[0].elapsed == std::chrono::milliseconds(1500));
  CHECK(results[0].detail.find("serve is stopping") != std::string::npos);
  CHECK(clock.sleeps == 3);
}

}  // namespace eso
