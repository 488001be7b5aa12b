#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/external_secret.h"
#include "core/inventory_sink.h"

namespace eso {

/// serve's in-memory index (DESIGN.md §6): remote key → the objects that name it, fed by LIST +
/// WATCH, so an event costs no LIST. Each key is indexed under the distinct canonical forms the
/// provider rules give it; objects with `dataFrom.find` are kept apart and offered for every
/// lookup. Objects are stored once and referred to by a small id. Thread-safe.
class KeyIndex final : public InventorySink {
 public:
  void replace(const std::string& kind, const std::string& namespace_name,
               std::vector<ExternalSecret> objects) override;
  void upsert(ExternalSecret object) override;
  void remove(const ObjectRef& ref) override;

  /// Copies of the objects that may reference any of `keys`: a superset of what match_keys will
  /// select, never missing one. Copies carry what matching, planning and reports read: not the
  /// resourceVersion or the Ready condition, and of `status.syncedResourceVersion` only whether
  /// it is set.
  std::vector<ExternalSecret> candidates(const std::vector<std::string>& keys) const;
  /// Copies of every object: what a folder-only event (Infisical) has to look at.
  std::vector<ExternalSecret> all() const;

  size_t size() const;       ///< objects indexed (without the lock: /metrics reads it)
  size_t key_count() const;  ///< distinct index entries

 private:
  using Id = uint32_t;
  /// A canonical key form, by its 64-bit hash, and an object naming it. Sorted, the entries
  /// are the key → objects index in 16 bytes each (a string-keyed map took ten times that); a
  /// hash collision only adds a candidate, which matching then rejects.
  struct Entry {
    uint64_t hash;
    Id id;
    auto operator<=>(const Entry&) const = default;
  };
  /// A remote key as stored: the strings every object repeats (field paths, store names and
  /// kinds) are interned.
  struct StoredKey {
    std::string key;
    const std::string* field;
    const std::string* store_name;
    const std::string* store_kind;
  };
  /// An indexed object, in about a third of an ExternalSecret's memory.
  struct Slot {
    std::string namespace_name;
    std::string name;
    const std::string* kind = nullptr;
    std::string owner_cluster_external_secret;
    std::chrono::nanoseconds refresh_interval{0};
    RefreshPolicy refresh_policy = RefreshPolicy::kPeriodic;
    bool synced = false;
    bool uses_generator = false;
    std::vector<StoredKey> keys;
    std::vector<FindRef> finds;
  };
  /// Adds `object`; with `batch` its entries are appended unsorted (the caller sorts).
  void add_locked(ExternalSecret object, bool batch);
  void drop_locked(const ObjectRef& ref);
  const std::string* intern(const std::string& s);
  Slot stored(ExternalSecret object);
  static ExternalSecret expand(const Slot& slot);

  mutable std::mutex mu_;
  std::atomic<size_t> objects_{0};  ///< ids_.size(), kept for readers that must not wait
  std::map<ObjectRef, Id> ids_;
  std::vector<Slot> slots_;        ///< by id; a freed slot has an empty name
  std::set<std::string> strings_;  ///< interned; few distinct values, never shrinks
  std::vector<Id> free_;
  std::vector<Entry> entries_;  ///< sorted by (hash, id)
  std::set<Id> with_find_;
};

}  // namespace eso
