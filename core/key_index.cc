#include "core/key_index.h"

#include <algorithm>

#include "core/key_rules.h"

namespace eso {
namespace {

// The hashes of the distinct canonical forms of `key` under every provider rule (usually two
// or three).
std::vector<uint64_t> index_hashes(const std::string& key) {
  std::vector<uint64_t> out;
  for (const auto& rule : key_rules()) {
    const uint64_t h = std::hash<std::string>{}(rule.canonical(key));
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

}  // namespace

void KeyIndex::add_locked(ExternalSecret object, bool batch) {
  Id id = 0;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<Id>(slots_.size());
    slots_.emplace_back();
  }
  for (const auto& k : object.remote_keys) {
    for (const uint64_t h : index_hashes(k.key)) {
      const Entry entry{h, id};
      if (batch) {
        entries_.push_back(entry);
        continue;
      }
      const auto at = std::lower_bound(entries_.begin(), entries_.end(), entry);
      if (at == entries_.end() || *at != entry) entries_.insert(at, entry);
    }
  }
  if (!object.finds.empty()) with_find_.insert(id);
  ids_[object.ref] = id;
  slots_[id] = stored(std::move(object));
}

const std::string* KeyIndex::intern(const std::string& s) { return &*strings_.insert(s).first; }

KeyIndex::Slot KeyIndex::stored(ExternalSecret object) {
  Slot slot;
  slot.namespace_name = std::move(object.ref.namespace_name);
  slot.name = std::move(object.ref.name);
  slot.kind = intern(object.ref.kind);
  slot.owner_cluster_external_secret = std::move(object.owner_cluster_external_secret);
  slot.refresh_interval = object.refresh_interval;
  slot.refresh_policy = object.refresh_policy;
  slot.synced = !object.synced_resource_version.empty();
  slot.uses_generator = object.uses_generator;
  slot.keys.reserve(object.remote_keys.size());
  for (auto& k : object.remote_keys) {
    slot.keys.push_back(
        StoredKey{std::move(k.key), intern(k.field), intern(k.store.name), intern(k.store.kind)});
  }
  slot.finds = std::move(object.finds);
  slot.finds.shrink_to_fit();
  return slot;
}

ExternalSecret KeyIndex::expand(const Slot& slot) {
  ExternalSecret es;
  es.ref = ObjectRef{*slot.kind, slot.namespace_name, slot.name};
  es.owner_cluster_external_secret = slot.owner_cluster_external_secret;
  es.refresh_interval = slot.refresh_interval;
  es.refresh_policy = slot.refresh_policy;
  // Matching only asks whether ESO has synced the object; the value stays with the API server.
  if (slot.synced) es.synced_resource_version = "synced";
  es.uses_generator = slot.uses_generator;
  es.remote_keys.reserve(slot.keys.size());
  for (const auto& k : slot.keys) {
    es.remote_keys.push_back(RemoteKeyRef{k.key, *k.field, StoreRef{*k.store_name, *k.store_kind}});
  }
  es.finds = slot.finds;
  return es;
}

void KeyIndex::drop_locked(const ObjectRef& ref) {
  const auto it = ids_.find(ref);
  if (it == ids_.end()) return;
  const Id id = it->second;
  for (const auto& k : slots_[id].keys) {
    for (const uint64_t h : index_hashes(k.key)) {
      const auto at = std::lower_bound(entries_.begin(), entries_.end(), Entry{h, id});
      if (at != entries_.end() && *at == Entry{h, id}) entries_.erase(at);
    }
  }
  with_find_.erase(id);
  slots_[id] = Slot{};
  free_.push_back(id);
  ids_.erase(it);
}

void KeyIndex::replace(const std::string& kind, const std::string& namespace_name,
                       std::vector<ExternalSecret> objects) {
  std::lock_guard lock(mu_);
  // Drop the old objects of this scope in one pass over the entries, add the new ones
  // unsorted, and sort once: a re-list of 10,000 objects stays linear-ish, not quadratic.
  std::vector<bool> stale(slots_.size(), false);
  for (auto it = ids_.begin(); it != ids_.end();) {
    const ObjectRef& ref = it->first;
    if (ref.kind == kind && (namespace_name.empty() || ref.namespace_name == namespace_name)) {
      stale[it->second] = true;
      with_find_.erase(it->second);
      slots_[it->second] = Slot{};
      free_.push_back(it->second);
      it = ids_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(entries_, [&](const Entry& e) { return e.id < stale.size() && stale[e.id]; });
  for (auto& o : objects) {
    if (ids_.count(o.ref) != 0) continue;  // a list never repeats an object; if one did
    add_locked(std::move(o), true);
  }
  std::sort(entries_.begin(), entries_.end());
  entries_.erase(std::unique(entries_.begin(), entries_.end()), entries_.end());
  entries_.shrink_to_fit();
  objects_ = ids_.size();
}

void KeyIndex::upsert(ExternalSecret object) {
  std::lock_guard lock(mu_);
  drop_locked(object.ref);
  add_locked(std::move(object), false);
  objects_ = ids_.size();
}

void KeyIndex::remove(const ObjectRef& ref) {
  std::lock_guard lock(mu_);
  drop_locked(ref);
  objects_ = ids_.size();
}

std::vector<ExternalSecret> KeyIndex::candidates(const std::vector<std::string>& keys) const {
  std::lock_guard lock(mu_);
  std::set<Id> ids(with_find_.begin(), with_find_.end());
  for (const auto& key : keys) {
    for (const uint64_t h : index_hashes(key)) {
      auto at = std::lower_bound(entries_.begin(), entries_.end(), Entry{h, 0});
      for (; at != entries_.end() && at->hash == h; ++at) ids.insert(at->id);
    }
  }
  std::vector<ExternalSecret> out;
  out.reserve(ids.size());
  for (Id id : ids) out.push_back(expand(slots_[id]));
  return out;
}

std::vector<ExternalSecret> KeyIndex::all() const {
  std::lock_guard lock(mu_);
  std::vector<ExternalSecret> out;
  out.reserve(ids_.size());
  for (const auto& [ref, id] : ids_) out.push_back(expand(slots_[id]));
  return out;
}

size_t KeyIndex::size() const { return objects_.load(); }

size_t KeyIndex::key_count() const {
  std::lock_guard lock(mu_);
  size_t distinct = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    distinct += i == 0 || entries_[i].hash != entries_[i - 1].hash ? 1 : 0;
  }
  return distinct;
}

}  // namespace eso
