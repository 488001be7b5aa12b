#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/event_decoder.h"
#include "core/key_index.h"
#include "core/kube_api.h"
#include "core/match.h"
#include "core/patch_coalescer.h"
#include "core/patch_runner.h"
#include "core/trigger_plan.h"

namespace eso {

// The one path from keys to patches (DESIGN.md §9): trigger, match, serve and `trigger --event`
// all run a TriggerRun over an ObjectSource (LIST pages streamed from the API server, or serve's
// index) with a Patcher (plain, or coalescing one patch in flight per object).

/// What a run matches: keys, folders and configurations, and the scope they are matched in.
struct KeySet {
  std::vector<std::string> keys;
  std::vector<std::string> paths;    ///< folders (Infisical)
  std::vector<ConfigScope> configs;  ///< whole configurations (Doppler)
  MatchScope scope;
};

/// The keys decoded events name, under the event's own key rule and environment; the scope's
/// stores and names are the caller's to fill.
KeySet key_set(const DecodedEvents& decoded);

/// Where a run's objects come from, page by page.
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  /// Delivers every object, page by page; stops at the first failure (of a LIST or `on_page`).
  virtual Status pages(const KubeApi::PageHandler& on_page) = 0;
};

/// ExternalSecrets streamed from LISTs in each scope and, with `cluster`, ClusterExternalSecrets.
class ListedObjects final : public ObjectSource {
 public:
  ListedObjects(KubeApi& api, std::vector<ListScope> scopes, bool cluster,
                std::atomic<uint64_t>* lists = nullptr)
      : api_(api), scopes_(std::move(scopes)), cluster_(cluster), lists_(lists) {}
  Status pages(const KubeApi::PageHandler& on_page) override;

 private:
  KubeApi& api_;
  std::vector<ListScope> scopes_;
  bool cluster_;
  std::atomic<uint64_t>* lists_;  ///< counts LISTs started, when given
};

/// serve's index: one page with the candidates for the keys (every object for folders and
/// configurations, which name no key).
class IndexedObjects final : public ObjectSource {
 public:
  IndexedObjects(const KeyIndex& index, const KeySet& keys) : index_(index), keys_(keys) {}
  Status pages(const KubeApi::PageHandler& on_page) override;

 private:
  const KeyIndex& index_;
  const KeySet& keys_;
};

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
  /// Plain: every patch writes `value`.
  EarlyPatcher(KubeApi& api, std::string value, int concurrency, PatchProgress progress = {});
  /// Coalescing (serve): one patch in flight per object, each with a fresh value, shared by the
  /// requests that arrive meanwhile (PatchResult::joined).
  EarlyPatcher(PatchCoalescer& coalescer, int concurrency);
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
  PatchResult run(const Job& job);

  KubeApi* api_ = nullptr;
  PatchCoalescer* coalescer_ = nullptr;
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

/// Another source's objects in the given namespaces only (all when empty); cluster-scoped
/// objects (ClusterExternalSecrets) are dropped when namespaces are given. A match on a
/// ClusterExternalSecret's child in one of them still patches the parent (its controller owns
/// the children), which refreshes its children in every namespace.
class NamespacedObjects final : public ObjectSource {
 public:
  NamespacedObjects(ObjectSource& inner, std::set<std::string> namespaces)
      : inner_(inner), namespaces_(std::move(namespaces)) {}
  Status pages(const KubeApi::PageHandler& on_page) override;

 private:
  ObjectSource& inner_;
  std::set<std::string> namespaces_;
};

/// One run from keys to a report: streams the source's pages through a MatchStream, plans, and
/// hands each new target to the patcher at once (none under `dry_run`).
class TriggerRun {
 public:
  TriggerRun(KeySet keys, TriggerOptions options);
  TriggerRun(const TriggerRun&) = delete;
  TriggerRun& operator=(const TriggerRun&) = delete;

  /// Runs over every page of `source`; `patcher` may be nullptr under dry_run, or to plan only
  /// and patch() later. A failed LIST stops the run; what was patched before it is in results().
  Status run(ObjectSource& source, EarlyPatcher* patcher);
  /// Patches the plan of a run that planned only (unless dry_run).
  void patch(EarlyPatcher& patcher);

  const KeySet& keys() const { return keys_; }
  const TriggerOptions& options() const { return options_; }
  const MatchResult& matched() const { return stream_.result(); }
  size_t objects_seen() const { return stream_.objects_seen(); }
  const TriggerPlan& plan() const { return plan_; }
  /// In plan order; empty under dry_run.
  const std::vector<PatchResult>& results() const { return results_; }
  std::vector<PatchResult>& results() { return results_; }
  TriggerPlan& plan() { return plan_; }
  /// Whether `ref` (a ClusterExternalSecret's child) arrived on a page after its parent had been
  /// patched: its listed state may already be ESO's answer to the trigger, so it is no "before".
  bool listed_after_patch(const ObjectRef& ref) const { return late_.count(ref) > 0; }

 private:
  KeySet keys_;
  TriggerOptions options_;
  MatchStream stream_;
  TriggerPlan plan_;
  std::vector<PatchResult> results_;
  std::set<ObjectRef> submitted_;
  std::set<ObjectRef> late_;
};

}  // namespace eso
