#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/kube_api.h"
#include "core/match.h"
#include "core/patch_runner.h"
#include "core/trigger_plan.h"

namespace eso {

/// Matches the objects of a LIST page by page as they arrive (DESIGN.md §9), keeping only those
/// that matched or had a problem: memory follows the matches, not the object count. An object
/// delivered twice (a list that started over) counts once.
class MatchStream {
 public:
  MatchStream(std::vector<std::string> keys, MatchScope scope, std::vector<std::string> paths = {},
              std::vector<ConfigScope> configs = {});
  MatchStream(const MatchStream&) = delete;
  MatchStream& operator=(const MatchStream&) = delete;

  /// Matches one page and returns its new matches (pointing into this stream).
  std::vector<Match> add(std::vector<ExternalSecret> page);

  /// Every match and problem so far, in arrival order, pointing into this stream.
  const MatchResult& result() const { return result_; }
  size_t objects_seen() const { return seen_; }

 private:
  std::vector<std::string> keys_;
  MatchScope scope_;
  std::vector<std::string> paths_;
  std::vector<ConfigScope> configs_;
  std::deque<ExternalSecret> kept_;  ///< stable addresses for the matches
  std::set<ObjectRef> kept_refs_;
  MatchResult result_;
  size_t seen_ = 0;
};

/// Patches each target as soon as it is known, `concurrency` at a time, on threads of its own,
/// while the caller goes on listing: patches for matches on early pages overlap the download of
/// later ones. Each target is patched once however often it is submitted.
class EarlyPatcher {
 public:
  EarlyPatcher(KubeApi& api, std::string value, int concurrency, PatchProgress progress = {});
  ~EarlyPatcher();
  EarlyPatcher(const EarlyPatcher&) = delete;
  EarlyPatcher& operator=(const EarlyPatcher&) = delete;

  /// Starts the patches of `plan` whose targets were not submitted before.
  void submit(const TriggerPlan& plan);

  /// Waits for every submitted patch; results in the order of `plan.patches` (a target that was
  /// never submitted is reported as not run).
  std::vector<PatchResult> finish(const TriggerPlan& plan);

 private:
  struct Job {
    ObjectRef target;
    std::string annotation;
    AnnotationPlace place;
  };
  void work();

  KubeApi& api_;
  std::string value_;
  size_t concurrency_;
  PatchProgress progress_;
  std::mutex progress_mu_;  ///< one progress call at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::map<ObjectRef, PatchResult> done_;
  std::set<ObjectRef> submitted_;
  size_t running_ = 0;
  size_t idle_ = 0;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace eso
