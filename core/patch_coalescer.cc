#include "core/patch_coalescer.h"

#include "core/trigger_plan.h"

namespace eso {

CoalescedPatch PatchCoalescer::patch(const ObjectRef& target, const std::string& annotation,
                                     AnnotationPlace place) {
  const auto key = std::make_tuple(target, annotation, place);
  std::unique_lock lock(mu_);
  Slot& slot = slots_[key];
  if (!slot.pending) slot.pending = std::make_shared<Round>();
  const std::shared_ptr<Round> round = slot.pending;
  ++round->callers;
  // `round->done` first: once it is set, `slot` may already be gone.
  cv_.wait(lock, [&] { return round->done || !slot.running; });
  if (round->done) {
    CoalescedPatch shared = round->result;
    shared.joined = true;
    return shared;
  }
  slot.running = true;
  slot.pending = nullptr;
  lock.unlock();

  CoalescedPatch result;
  result.value = trigger_stamp(std::chrono::system_clock::now());
  result.outcome = api_.patch_annotation(target, annotation, result.value, place);

  lock.lock();
  round->result = result;
  round->done = true;
  slot.running = false;
  if (!slot.pending) slots_.erase(key);
  cv_.notify_all();
  return result;
}

int PatchCoalescer::waiting(const ObjectRef& target, const std::string& annotation,
                            AnnotationPlace place) const {
  std::lock_guard lock(mu_);
  const auto it = slots_.find(std::make_tuple(target, annotation, place));
  if (it == slots_.end() || !it->second.pending) return 0;
  return it->second.pending->callers;
}

}  // namespace eso
