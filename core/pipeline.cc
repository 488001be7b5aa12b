#include "core/pipeline.h"

#include <algorithm>

namespace eso {

MatchStream::MatchStream(std::vector<std::string> keys, MatchScope scope,
                         std::vector<std::string> paths, std::vector<ConfigScope> configs)
    : keys_(std::move(keys)),
      scope_(std::move(scope)),
      paths_(std::move(paths)),
      configs_(std::move(configs)) {}

std::vector<Match> MatchStream::add(std::vector<ExternalSecret> page) {
  seen_ += page.size();
  MatchResult found = match_keys(page, keys_, scope_, paths_, configs_);
  // Moves each object that matched (once) out of the page; nullptr for one kept before.
  std::map<const ExternalSecret*, const ExternalSecret*> moved;
  const auto keep = [&](const ExternalSecret* in_page) -> const ExternalSecret* {
    const auto it = moved.find(in_page);
    if (it != moved.end()) return it->second;
    const ExternalSecret* kept = nullptr;
    if (kept_refs_.insert(in_page->ref).second) {
      kept_.push_back(std::move(page[static_cast<size_t>(in_page - page.data())]));
      kept = &kept_.back();
    }
    moved.emplace(in_page, kept);
    return kept;
  };
  std::vector<Match> fresh;
  for (auto& m : found.matches) {
    m.object = keep(m.object);
    if (m.object == nullptr) continue;
    result_.matches.push_back(m);
    fresh.push_back(std::move(m));
  }
  for (auto& p : found.problems) {
    p.object = keep(p.object);
    if (p.object != nullptr) result_.problems.push_back(std::move(p));
  }
  return fresh;
}

KeySet key_set(const DecodedEvents& decoded) {
  KeySet set{decoded.keys, decoded.paths, decoded.configs, {}};
  set.scope.environment = decoded.environment;
  set.scope.event_rule = decoded.key_rule;
  return set;
}

Status ListedObjects::pages(const KubeApi::PageHandler& on_page) {
  for (const auto& scope : scopes_) {
    if (lists_ != nullptr) ++*lists_;
    if (auto streamed = api_.stream_objects("ExternalSecret", scope, on_page); !streamed) {
      return streamed;
    }
  }
  if (!cluster_ || scopes_.empty()) return ok_status();
  if (lists_ != nullptr) ++*lists_;
  return api_.stream_objects("ClusterExternalSecret", scopes_.front(), on_page);
}

Status IndexedObjects::pages(const KubeApi::PageHandler& on_page) {
  const bool every = !keys_.paths.empty() || !keys_.configs.empty();
  return on_page(every ? index_.all() : index_.candidates(keys_.keys));
}

Status NamespacedObjects::pages(const KubeApi::PageHandler& on_page) {
  if (namespaces_.empty()) return inner_.pages(on_page);
  return inner_.pages([&](std::vector<ExternalSecret> page) {
    std::erase_if(page, [&](const ExternalSecret& o) {
      return o.ref.namespace_name.empty() || namespaces_.count(o.ref.namespace_name) == 0;
    });
    return page.empty() ? ok_status() : on_page(std::move(page));
  });
}

EarlyPatcher::EarlyPatcher(KubeApi& api, std::string value, int concurrency, PatchProgress progress)
    : api_(&api),
      value_(std::move(value)),
      concurrency_(static_cast<size_t>(std::max(concurrency, 1))),
      progress_(std::move(progress)) {}

EarlyPatcher::EarlyPatcher(PatchCoalescer& coalescer, int concurrency)
    : coalescer_(&coalescer), concurrency_(static_cast<size_t>(std::max(concurrency, 1))) {}

PatchResult EarlyPatcher::run(const Job& job) {
  PatchResult result;
  result.target = job.target;
  const auto start = std::chrono::steady_clock::now();
  if (coalescer_ != nullptr) {
    auto done = coalescer_->patch(job.target, job.annotation, job.place);
    result.outcome = std::move(done.outcome);
    result.value = std::move(done.value);
    result.joined = done.joined;
  } else {
    result.outcome = api_->patch_annotation(job.target, job.annotation, value_, job.place);
    result.value = value_;
  }
  result.latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

EarlyPatcher::~EarlyPatcher() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void EarlyPatcher::submit(const TriggerPlan& plan) {
  std::lock_guard lock(mu_);
  for (const auto& patch : plan.patches) {
    if (!submitted_.insert(patch.target).second) continue;
    queue_.push_back(Job{patch.target, patch.annotation, patch.place});
  }
  // Idle threads take what they can (a notified one counts as idle until it takes the lock);
  // for the rest, new threads up to the concurrency.
  while (queue_.size() > idle_ && threads_.size() < concurrency_) {
    threads_.emplace_back([this] { work(); });
    ++idle_;  // it will wait for work like the others; counted now, so the loop ends
  }
  cv_.notify_all();
}

void EarlyPatcher::work() {
  std::unique_lock lock(mu_);
  for (bool counted = true;; counted = false) {
    if (!counted) ++idle_;  // a new thread was counted idle by submit()
    cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // closing
    Job job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    PatchResult result = run(job);
    lock.lock();
    --running_;
    done_.emplace(job.target, std::move(result));
    const size_t finished = done_.size();
    const size_t submitted = submitted_.size();
    cv_.notify_all();
    if (progress_) {  // never under mu_: a slow terminal must not hold the patchers
      lock.unlock();
      std::lock_guard printing(progress_mu_);
      progress_(finished, submitted);
      lock.lock();
    }
  }
}

std::vector<PatchResult> EarlyPatcher::finish(const TriggerPlan& plan) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
  std::vector<PatchResult> results(plan.patches.size());
  for (size_t i = 0; i < plan.patches.size(); ++i) {
    const auto it = done_.find(plan.patches[i].target);
    if (it != done_.end()) {
      results[i] = it->second;
    } else {
      results[i].target = plan.patches[i].target;
    }
  }
  return results;
}

TriggerRun::TriggerRun(KeySet keys, TriggerOptions options)
    : keys_(std::move(keys)),
      options_(std::move(options)),
      stream_(keys_.keys, keys_.scope, keys_.paths, keys_.configs) {}

Status TriggerRun::run(ObjectSource& source, EarlyPatcher* patcher) {
  const bool patching = !options_.dry_run && patcher != nullptr;
  Status listed = source.pages([&](std::vector<ExternalSecret> page) {
    const auto fresh = stream_.add(std::move(page));
    if (!patching || fresh.empty()) return ok_status();
    for (const auto& m : fresh) {
      const std::string& parent = m.object->owner_cluster_external_secret;
      if (!parent.empty() && submitted_.count(ObjectRef{"ClusterExternalSecret", "", parent})) {
        late_.insert(m.object->ref);
      }
    }
    const TriggerPlan plan = plan_trigger(fresh, options_);
    for (const auto& p : plan.patches) submitted_.insert(p.target);
    patcher->submit(plan);
    return ok_status();
  });
  plan_ = plan_trigger(stream_.result().matches, options_);
  if (patching) results_ = patcher->finish(plan_);
  return listed;
}

void TriggerRun::patch(EarlyPatcher& patcher) {
  if (options_.dry_run) return;
  patcher.submit(plan_);
  results_ = patcher.finish(plan_);
}

}  // namespace eso
