#include "webhook/verify/delivery_memory.h"

namespace eso::webhook {

DeliveryMemory::DeliveryMemory(DeliveryMemoryOptions options, WallClock clock)
    : options_(options), clock_(or_system_clock(std::move(clock))) {}

void DeliveryMemory::erase(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.position);
  entries_.erase(it);
}

void DeliveryMemory::forget_expired(std::chrono::system_clock::time_point now) {
  // Every entry lives ttl from its last change and order_ is by last change, so the expired
  // ones are at its front (a clock set back only delays this).
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (it == entries_.end() || now < it->second.expires) break;
    erase(it);
  }
}

DeliveryStart DeliveryMemory::begin(std::string_view id) {
  std::lock_guard lock(mu_);
  const auto now = clock_();
  forget_expired(now);
  const std::string key(id);
  if (auto it = entries_.find(key); it != entries_.end()) {
    return it->second.state == State::kDone ? DeliveryStart::kDuplicate : DeliveryStart::kInFlight;
  }
  if (options_.capacity == 0) return DeliveryStart::kNew;
  while (entries_.size() >= options_.capacity) erase(entries_.find(order_.front()));
  order_.push_back(key);
  entries_.emplace(key, Entry{State::kInFlight, now + options_.ttl, std::prev(order_.end())});
  return DeliveryStart::kNew;
}

void DeliveryMemory::finish(std::string_view id, bool ok) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(id));
  if (it == entries_.end() || it->second.state != State::kInFlight) return;
  if (!ok) {
    erase(it);
    return;
  }
  it->second.state = State::kDone;
  it->second.expires = clock_() + options_.ttl;
  order_.splice(order_.end(), order_, it->second.position);
}

size_t DeliveryMemory::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace eso::webhook
