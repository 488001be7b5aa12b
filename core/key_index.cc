#include "core/key_index.h"

#include "core/key_rules.h"

namespace eso {
namespace {

std::vector<std::string> index_entries(const std::string& key) {
  std::vector<std::string> out;
  for (const auto& rule : key_rules()) {
    out.push_back(std::string(rule.provider) + '\0' + rule.canonical(key));
  }
  return out;
}

}  // namespace

void KeyIndex::add_locked(ExternalSecret object) {
  const ObjectRef ref = object.ref;
  for (const auto& k : object.remote_keys) {
    for (auto& entry : index_entries(k.key)) by_key_[std::move(entry)].insert(ref);
  }
  if (!object.finds.empty()) with_find_.insert(ref);
  objects_[ref] = std::move(object);
}

void KeyIndex::drop_locked(const ObjectRef& ref) {
  const auto it = objects_.find(ref);
  if (it == objects_.end()) return;
  for (const auto& k : it->second.remote_keys) {
    for (const auto& entry : index_entries(k.key)) {
      const auto slot = by_key_.find(entry);
      if (slot == by_key_.end()) continue;
      slot->second.erase(ref);
      if (slot->second.empty()) by_key_.erase(slot);
    }
  }
  with_find_.erase(ref);
  objects_.erase(it);
}

void KeyIndex::replace(const std::string& kind, const std::string& namespace_name,
                       std::vector<ExternalSecret> objects) {
  std::lock_guard lock(mu_);
  std::vector<ObjectRef> stale;
  for (const auto& [ref, _] : objects_) {
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
  std::set<ObjectRef> refs(with_find_.begin(), with_find_.end());
  for (const auto& key : keys) {
    for (const auto& entry : index_entries(key)) {
      const auto slot = by_key_.find(entry);
      if (slot != by_key_.end()) refs.insert(slot->second.begin(), slot->second.end());
    }
  }
  std::vector<ExternalSecret> out;
  out.reserve(refs.size());
  for (const auto& ref : refs) out.push_back(objects_.at(ref));
  return out;
}

size_t KeyIndex::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

size_t KeyIndex::key_count() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

}  // namespace eso
