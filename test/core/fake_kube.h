#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/kube_api.h"

namespace eso::test {

/// A KubeApi with nothing in it: empty lists. Fakes derive from it and add what they play.
class EmptyKube : public KubeApi {
 public:
  Result<std::vector<ExternalSecret>> list_external_secrets(const ListScope&) override {
    return std::vector<ExternalSecret>{};
  }
  Result<std::vector<ExternalSecret>> list_cluster_external_secrets(const ListScope&) override {
    return std::vector<ExternalSecret>{};
  }
  Result<std::vector<SecretStoreRecord>> list_secret_stores(const ListScope&) override {
    return std::vector<SecretStoreRecord>{};
  }
};

/// A KubeApi for unit tests: records patches, fails the ones named in `fail`, tracks the peak
/// number of patches in flight, and answers GETs through `get`.
class FakeKube final : public EmptyKube {
 public:
  std::set<std::string> fail;
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::mutex mu;
  std::vector<std::string> patched;
  std::function<Result<SyncState>(const ObjectRef&)> get = [](const ObjectRef&) {
    return Result<SyncState>(Error{ErrorCode::kNotFound, "not found"});
  };
  std::atomic<int> gets{0};

  Result<SyncState> get_sync_state(const ObjectRef& target) override {
    ++gets;
    return get(target);
  }
  Result<PatchOutcome> patch_annotation(const ObjectRef& target, std::string_view key,
                                        std::string_view value, AnnotationPlace place) override {
    const int now = ++in_flight;
    for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --in_flight;
    if (fail.count(target.name) != 0) return Error{ErrorCode::kForbidden, "denied " + target.name};
    std::lock_guard lock(mu);
    patched.push_back(target.name + ":" + std::string(key) + "=" + std::string(value) +
                      (place == AnnotationPlace::kObjectAndChildren ? " +children" : ""));
    return PatchOutcome{"rv-" + target.name};
  }
};

}  // namespace eso::test
