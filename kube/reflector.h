#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "core/inventory_sink.h"
#include "kube/api_client.h"

namespace eso::kube {

struct ReflectorOptions {
  std::string kind = "ExternalSecret";  ///< or ClusterExternalSecret
  ListScope scope;
  /// A watch that delivers nothing (not even a bookmark) for this long is presumed dead: the
  /// reflector lists again; it stays synced for `quiet_grace` of that list (a quiet collection's
  /// watch gets no bookmarks for long, and its list takes milliseconds), then is not synced until
  /// the list succeeds (a frozen API server answers no list either).
  std::chrono::seconds idle_timeout{90};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds quiet_grace{2000};
};

/// Keeps `sink` in step with one collection, as client-go's reflector does: LIST, then WATCH from
/// the list's resourceVersion with bookmarks, resuming from the last version seen; LIST again when
/// the server answers 410 Gone or the watch stays silent (no event, no bookmark) for
/// idle_timeout; after an error, back off (bounded, jittered) and list again.
class Reflector {
 public:
  Reflector(ApiClient& client, ReflectorOptions options, InventorySink& sink);

  /// Runs until `stop` is set; returns within about a second of that.
  void run(const std::atomic<bool>& stop);

  /// True once the first LIST has reached the sink and no error has happened since.
  bool synced() const;
  /// How many times the collection was listed (1 + re-lists).
  int lists() const { return lists_.load(); }
  /// How many watches were started.
  int watches() const { return watches_.load(); }

 private:
  bool list(const std::atomic<bool>& stop);
  void pause(std::chrono::milliseconds duration, const std::atomic<bool>& stop) const;

  ApiClient& client_;
  ReflectorOptions options_;
  InventorySink& sink_;
  std::string resource_version_;
  std::atomic<bool> synced_{false};
  /// When a list after a quiet watch began (steady_clock ticks), 0 when none is under way.
  std::atomic<std::chrono::steady_clock::rep> quiet_list_since_{0};
  std::atomic<int> lists_{0};
  std::atomic<int> watches_{0};
};

}  // namespace eso::kube
