// Fakes behind the verifiers' seams: the HTTPS fetcher and the wall clock.
#pragma once

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "webhook/verify/https_fetcher.h"
#include "webhook/verify/wall_clock.h"

namespace eso::webhook::test {

/// Answers GETs from a table by URL; a URL not in it is unreachable. Records every request.
class FakeFetcher final : public HttpsFetcher {
 public:
  void answer(const std::string& url, std::string body,
              std::optional<std::chrono::seconds> max_age = std::nullopt) {
    std::lock_guard lock(mu_);
    answers_.insert_or_assign(url,
                              Result<FetchedDocument>(FetchedDocument{std::move(body), max_age}));
  }
  void fail(const std::string& url) {
    std::lock_guard lock(mu_);
    answers_.insert_or_assign(
        url, Result<FetchedDocument>(Error{ErrorCode::kUnreachable, "fake: connection refused"}));
  }
  Result<FetchedDocument> get(const std::string& url) override {
    std::lock_guard lock(mu_);
    requested_.push_back(url);
    auto it = answers_.find(url);
    if (it == answers_.end()) return Error{ErrorCode::kUnreachable, "fake: no route to " + url};
    return it->second;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return requested_.size();
  }
  size_t count(const std::string& url) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& r : requested_) n += r == url ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Result<FetchedDocument>> answers_;
  std::vector<std::string> requested_;
};

/// A wall clock that starts at the real time (certificates made by the tests are valid then)
/// and moves only when told.
class FakeClock {
 public:
  FakeClock()
      : now_(std::make_shared<std::atomic<int64_t>>(
            std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count())) {}
  WallClock clock() const {
    return
        [now = now_] { return std::chrono::system_clock::time_point(std::chrono::seconds(*now)); };
  }
  int64_t seconds() const { return *now_; }
  void advance(std::chrono::seconds by) { *now_ += by.count(); }

 private:
  std::shared_ptr<std::atomic<int64_t>> now_;
};

/// `at` as SNS writes a message's Timestamp: UTC, milliseconds, `2026-12-01T07:00:00.123Z`.
inline std::string sns_time(std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(at.time_since_epoch()).count();
  const std::time_t secs = ms / 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
}

}  // namespace eso::webhook::test
