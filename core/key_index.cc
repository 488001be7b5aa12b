#include "core/key_index.h"

#include <algorithm>

#include "core/key_rules.h"

namespace eso {
namespace {

// The distinct canonical forms of `key` under every provider rule (usually two or three).
std::vector<std::string> index_entries(const std::string& key) {
  std::vector<std::string> out;
  for (const auto& rule : key_rules()) {
    std::string canon = rule.canonical(key);
    if (std::find(out.begin(), out.end(), canon) == out.end()) out.push_back(std::move(canon));
  }
  return out;
}

}  // namespace

void KeyIndex::add_locked(ExternalSecret object) {
  Id id = 0;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<Id>(slots_.size());
    slots_.emplace_back();
  }
  for (const auto& k : object.remote_keys) {
    for (auto& entry : index_entries(k.key)) {
      auto& ids = by_key_[std::move(entry)];
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  if (!object.finds.empty()) with_find_.insert(id);
  ids_[object.ref] = id;
  slots_[id] = std::move(object);
}

void KeyIndex::drop_locked(const ObjectRef& ref) {
  const auto it = ids_.find(ref);
  if (it == ids_.end()) return;
  const Id id = it->second;
  for (const auto& k : slots_[id].remote_keys) {
    for (const auto& entry : index_entries(k.key)) {
      const auto slot = by_key_.find(entry);
      if (slot == by_key_.end()) continue;
      std::erase(slot->second, id);
      if (slot->second.empty()) by_key_.erase(slot);
    }
  }
  with_find_.erase(id);
  slots_[id] = ExternalSecret{};
  free_.push_back(id);
  ids_.erase(it);
}

void KeyIndex::replace(const std::string& kind, const std::string& namespace_name,
                       std::vector<ExternalSecret> objects) {
  std::lock_guard lock(mu_);
  std::vector<ObjectRef> stale;
  for (const auto& [ref, _] : ids_) {
    if (ref.kind == kind && (namespace_name.empty() || ref.namespace_name == namespace_name)) {
      stale.push_back(ref);
    }
  }
  for (const auto& ref : stale) drop_locked(ref);
  for (auto& o : objects) add_locked(std::move(o));
}

void KeyIndex::upsert(ExternalSecret object) {
  std::lock_guard lock(mu_);
  drop_locked(object.ref);
  add_locked(std::move(object));
}

void KeyIndex::remove(const ObjectRef& ref) {
  std::lock_guard lock(mu_);
  drop_locked(ref);
}

std::vector<ExternalSecret> KeyIndex::candidates(const std::vector<std::string>& keys) const {
  std::lock_guard lock(mu_);
  std::set<Id> ids(with_find_.begin(), with_find_.end());
  for (const auto& key : keys) {
    for (const auto& entry : index_entries(key)) {
      const auto slot = by_key_.find(entry);
      if (slot != by_key_.end()) ids.insert(slot->second.begin(), slot->second.end());
    }
  }
  std::vector<ExternalSecret> out;
  out.reserve(ids.size());
  for (Id id : ids) out.push_back(slots_[id]);
  return out;
}

std::vector<ExternalSecret> KeyIndex::all() const {
  std::lock_guard lock(mu_);
  std::vector<ExternalSecret> out;
  out.reserve(ids_.size());
  for (const auto& [ref, id] : ids_) out.push_back(slots_[id]);
  return out;
}

size_t KeyIndex::size() const {
  std::lock_guard lock(mu_);
  return ids_.size();
}

size_t KeyIndex::key_count() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

}  // namespace eso
