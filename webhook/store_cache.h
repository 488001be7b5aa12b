#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "core/kube_api.h"

namespace eso::webhook {

/// The SecretStores and ClusterSecretStores in scope, re-listed every interval by run() on a
/// thread of its own; a failed list keeps the previous ones and says why.
class StoreCache {
 public:
  std::shared_ptr<const std::vector<SecretStoreRecord>> get() const;
  bool loaded() const { return get() != nullptr; }

  /// Lists until `stop`: every `interval`, every 2 s after a failure.
  void run(KubeApi& api, const std::vector<ListScope>& scopes, std::chrono::milliseconds interval,
           const std::atomic<bool>& stop);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<SecretStoreRecord>> stores_;
};

}  // namespace eso::webhook
