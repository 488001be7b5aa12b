#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
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
  /// select, never missing one.
  std::vector<ExternalSecret> candidates(const std::vector<std::string>& keys) const;
  /// Copies of every object: what a folder-only event (Infisical) has to look at.
  std::vector<ExternalSecret> all() const;

  size_t size() const;       ///< objects indexed
  size_t key_count() const;  ///< distinct index entries

 private:
  using Id = uint32_t;
  void add_locked(ExternalSecret object);
  void drop_locked(const ObjectRef& ref);

  mutable std::mutex mu_;
  std::map<ObjectRef, Id> ids_;
  std::vector<ExternalSecret> slots_;  ///< by id; a freed slot has an empty name
  std::vector<Id> free_;
  std::unordered_map<std::string, std::vector<Id>> by_key_;  ///< canonical key → ids
  std::set<Id> with_find_;
};

}  // namespace eso
