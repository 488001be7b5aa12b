#include "kube/reflector.h"

#include <malloc.h>

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>

namespace eso::kube {
namespace {

std::chrono::milliseconds jittered(std::chrono::milliseconds base) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<long> spread(base.count() / 2, base.count());
  return std::chrono::milliseconds(spread(rng));
}

}  // namespace

Reflector::Reflector(ApiClient& client, ReflectorOptions options, InventorySink& sink)
    : client_(client), options_(std::move(options)), sink_(sink) {}

bool Reflector::synced() const {
  if (!synced_.load()) return false;
  const auto since = quiet_list_since_.load();
  if (since == 0) return true;
  const auto began =
      std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(since));
  return std::chrono::steady_clock::now() - began < options_.quiet_grace;
}

void Reflector::pause(std::chrono::milliseconds duration, const std::atomic<bool>& stop) const {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool Reflector::list(const std::atomic<bool>& stop) {
  std::chrono::milliseconds backoff(200);
  while (!stop.load()) {
    auto version = client_.list_into(options_.kind, options_.scope, sink_);
    ++lists_;
    if (version) {
      resource_version_ = std::move(*version);
      // A list parses every object once and keeps a fraction: hand the freed pages back to
      // the system rather than keep the parse's high-water mark as resident memory.
      ::malloc_trim(0);
      synced_ = true;
      return true;
    }
    fmt::print(stderr, "warning: list {}: {}\n", options_.kind, version.error().message);
    synced_ = false;
    pause(jittered(backoff), stop);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return false;
}

void Reflector::run(const std::atomic<bool>& stop) {
  if (!list(stop)) return;
  std::chrono::milliseconds backoff(200);
  while (!stop.load()) {
    ++watches_;
    auto end = client_.watch_into(options_.kind, options_.scope, resource_version_,
                                  options_.idle_timeout, sink_, stop);
    if (end && *end == ApiClient::WatchEnd::kStopped) return;
    if (end && *end == ApiClient::WatchEnd::kClosed) {
      backoff = std::chrono::milliseconds(200);
      continue;  // resume from the last version seen
    }
    if (end && *end == ApiClient::WatchEnd::kGone) {
      if (!list(stop)) return;  // compacted: the only way back is a fresh list
      continue;
    }
    if (end && *end == ApiClient::WatchEnd::kQuiet) {
      // Silence may be a stream that broke without an error (a frozen server, a dropped
      // connection no one reset), or only a collection nothing happens to: the API server
      // sends bookmarks as etcd reports progress, which for an empty collection can be
      // minutes apart. A fresh list tells them apart; within quiet_grace it answers and the
      // index stays ready, past it (the server answers nothing) it is not ready.
      fmt::print(stderr, "warning: watch {}: no event or bookmark for {} s; listing again\n",
                 options_.kind, options_.idle_timeout.count());
      quiet_list_since_ = std::chrono::steady_clock::now().time_since_epoch().count();
      const bool listed = list(stop);
      quiet_list_since_ = 0;
      if (!listed) return;
      continue;
    }
    // Unreachable or refused: not in step any more until a fresh list succeeds.
    fmt::print(stderr, "warning: watch {}: {}\n", options_.kind, end.error().message);
    synced_ = false;
    pause(jittered(backoff), stop);
    backoff = std::min(backoff * 2, options_.max_backoff);
    if (!list(stop)) return;
  }
}

}  // namespace eso::kube
