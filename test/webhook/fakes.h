// Fakes behind the verifiers' seams: the HTTPS fetcher and the wall clock.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

}  // namespace eso::webhook::test
