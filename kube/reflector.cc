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
      // The API server sends bookmarks on a quiet watch: silence means a stream that broke
      // without an error (a frozen server, a dropped connection no one reset). Not ready
      // until a fresh list says where the collection is.
      fmt::print(stderr, "warning: watch {}: no event or bookmark for {} s; listing again\n",
                 options_.kind, options_.idle_timeout.count());
      synced_ = false;
      if (!list(stop)) return;
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
