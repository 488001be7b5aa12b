#include "webhook/store_cache.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace eso::webhook {

using namespace std::chrono_literals;

std::shared_ptr<const std::vector<SecretStoreRecord>> StoreCache::get() const {
  std::lock_guard lock(mu_);
  return stores_;
}

void StoreCache::run(KubeApi& api, const std::vector<ListScope>& scopes,
                     std::chrono::milliseconds interval, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    auto listed = std::make_shared<std::vector<SecretStoreRecord>>();
    std::string failure;
    for (const auto& scope : scopes) {
      auto stores = api.list_secret_stores(scope);
      if (!stores) {
        failure = stores.error().message;
        break;
      }
      for (auto& s : *stores) {
        if (std::none_of(listed->begin(), listed->end(),
                         [&](const SecretStoreRecord& r) { return r.ref == s.ref; })) {
          listed->push_back(std::move(s));
        }
      }
    }
    if (failure.empty()) {
      std::lock_guard lock(mu_);
      stores_ = std::move(listed);
    } else {
      fmt::print(stderr, "warning: list secret stores: {}\n", failure);
    }
    const auto next = std::chrono::steady_clock::now() + (failure.empty() ? interval : 2s);
    while (!stop.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(100ms);
    }
  }
}

}  // namespace eso::webhook
