#include "core/patch_runner.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace eso {

std::vector<PatchResult> run_patches(KubeApi& api, const TriggerPlan& plan, int concurrency,
                                     const PatchProgress& progress) {
  std::vector<PatchResult> results(plan.patches.size());
  std::atomic<size_t> next{0};
  std::mutex progress_mu;
  size_t finished = 0;
  auto worker = [&] {
    for (size_t i = next++; i < plan.patches.size(); i = next++) {
      const auto& patch = plan.patches[i];
      const auto start = std::chrono::steady_clock::now();
      results[i].target = patch.target;
      results[i].outcome =
          api.patch_annotation(patch.target, patch.annotation, plan.value, patch.place);
      results[i].latency = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
      if (progress) {
        std::lock_guard lock(progress_mu);
        progress(++finished, plan.patches.size());
      }
    }
  };
  const size_t threads =
      std::min(plan.patches.size(), static_cast<size_t>(std::max(concurrency, 1)));
  if (threads <= 1) {
    worker();
    return results;
  }
  std::vector<std::jthread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  pool.clear();  // joins
  return results;
}

}  // namespace eso
