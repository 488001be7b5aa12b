// The coalescer's promise (DESIGN.md §6): a burst of events for one object costs at most two
// patches, and every caller's patch starts after it arrived.
#include "core/patch_coalescer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "test/core/fake_kube.h"

namespace eso {
namespace {

// A KubeApi whose patches block until the test opens the gate; counts the patches.
class GatedKube final : public test::EmptyKube {
 public:
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int started = 0;
  std::vector<std::string> values;

  Result<SyncState> get_sync_state(const ObjectRef&) override {
    return Error{ErrorCode::kNotFound, "not found"};
  }
  Result<PatchOutcome> patch_annotation(const ObjectRef&, std::string_view, std::string_view value,
                                        AnnotationPlace) override {
    std::unique_lock lock(mu);
    ++started;
    values.emplace_back(value);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return open; });
    return PatchOutcome{"rv"};
  }
};

bool wait_until(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TEST_CASE("a burst of 100 events for one object costs two patches, the second after them all") {
  GatedKube kube;
  PatchCoalescer coalescer(kube);
  const ObjectRef target{"ExternalSecret", "ns", "db"};
  std::vector<CoalescedPatch> results(100);
  std::vector<std::thread> callers;
  // The first event's patch is under way (and blocked) ...
  callers.emplace_back([&] { results[0] = coalescer.patch(target, "force-sync"); });
  REQUIRE(wait_until([&] {
    std::lock_guard lock(kube.mu);
    return kube.started == 1;
  }));
  // ... when 99 more arrive: they all wait for one next patch.
  for (int i = 1; i < 100; ++i) {
    callers.emplace_back([&, i] { results[i] = coalescer.patch(target, "force-sync"); });
  }
  REQUIRE(wait_until([&] { return coalescer.waiting(target, "force-sync") == 99; }));
  {
    std::lock_guard lock(kube.mu);
    kube.open = true;
  }
  kube.cv.notify_all();
  for (auto& t : callers) t.join();

  std::lock_guard lock(kube.mu);
  CHECK(kube.started == 2);
  REQUIRE(kube.values.size() == 2);
  CHECK(results[0].value == kube.values[0]);
  CHECK_FALSE(results[0].joined);
  int joined = 0;
  for (int i = 1; i < 100; ++i) {
    CAPTURE(i);
    CHECK(results[i].outcome.ok());
    CHECK(results[i].value == kube.values[1]);  // a patch that started after the event arrived
    joined += results[i].joined ? 1 : 0;
  }
  CHECK(joined == 98);  // one of them ran the second patch, the others shared it
  CHECK(coalescer.waiting(target, "force-sync") == 0);
}

TEST_CASE("patches of different objects are not coalesced") {
  GatedKube kube;
  kube.open = true;
  PatchCoalescer coalescer(kube);
  coalescer.patch(ObjectRef{"ExternalSecret", "ns", "a"}, "force-sync");
  coalescer.patch(ObjectRef{"ExternalSecret", "ns", "b"}, "force-sync");
  coalescer.patch(ObjectRef{"ExternalSecret", "ns", "a"}, "force-sync",
                  AnnotationPlace::kObjectAndChildren);
  CHECK(kube.started == 3);
}

}  // namespace eso
