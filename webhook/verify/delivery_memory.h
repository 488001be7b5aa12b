#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "webhook/verify/wall_clock.h"

namespace eso::webhook {

struct DeliveryMemoryOptions {
  size_t capacity = 10000;  ///< ids remembered at most; the oldest is forgotten first
  /// How long a processed delivery is remembered (and an unfinished one held in flight).
  std::chrono::seconds ttl{std::chrono::hours(1)};
};

/// What begin() found for a delivery id.
enum class DeliveryStart {
  kNew,        ///< process it, then call finish()
  kDuplicate,  ///< already processed successfully: answer 200 ("duplicate": true), patch nothing
  kInFlight,   ///< the same delivery is being processed now (a concurrent retry): answer 409/503
};

/// A bounded, time-limited memory of delivery ids, so that a sender's redelivery of an event
/// that was fully processed causes no second round of patches, while one whose first try
/// failed is processed again. Thread-safe.
class DeliveryMemory {
 public:
  explicit DeliveryMemory(DeliveryMemoryOptions options = {}, WallClock clock = nullptr);

  /// Marks `id` in flight when it is new (or forgotten, or expired).
  DeliveryStart begin(std::string_view id);
  /// Ends the processing begin() started: remembered as done when `ok`, forgotten otherwise
  /// (so a redelivery is processed again). An id not in flight is left alone.
  void finish(std::string_view id, bool ok);

  size_t size() const;

 private:
  enum class State { kInFlight, kDone };
  struct Entry {
    State state;
    std::chrono::system_clock::time_point expires;
    std::list<std::string>::iterator position;
  };
  void forget_expired(std::chrono::system_clock::time_point now);
  void erase(std::unordered_map<std::string, Entry>::iterator it);

  DeliveryMemoryOptions options_;
  WallClock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  ///< ids by last change, oldest first: expiry order too
};

}  // namespace eso::webhook
