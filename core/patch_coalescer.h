#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "core/kube_api.h"

namespace eso {

/// What one coalesced patch did.
struct CoalescedPatch {
  Result<PatchOutcome> outcome = Error{ErrorCode::kInternal, "not run"};
  std::string value;    ///< the annotation value written
  bool joined = false;  ///< this caller shared a patch another caller asked for
};

/// One patch in flight per object (DESIGN.md §6). A caller whose object is being patched waits
/// for that patch to end and then joins the next one, which every caller arriving meanwhile
/// shares: a burst of events for one object costs at most two patches, and each caller's patch
/// starts after its event arrived, so ESO always reads a value at least as new as the event.
class PatchCoalescer {
 public:
  explicit PatchCoalescer(KubeApi& api) : api_(api) {}

  /// Patches `annotation` on `target` with a fresh trigger stamp, coalescing as described.
  CoalescedPatch patch(const ObjectRef& target, const std::string& annotation,
                       AnnotationPlace place = AnnotationPlace::kObject);

  /// Callers waiting for the next patch of `target` (for tests and metrics).
  int waiting(const ObjectRef& target, const std::string& annotation,
              AnnotationPlace place = AnnotationPlace::kObject) const;

 private:
  struct Round {
    bool done = false;
    int callers = 0;
    CoalescedPatch result;
  };
  struct Slot {
    bool running = false;
    std::shared_ptr<Round> pending;
  };

  KubeApi& api_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::tuple<ObjectRef, std::string, AnnotationPlace>, Slot> slots_;
};

}  // namespace eso
