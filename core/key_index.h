#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/external_secret.h"
#include "core/inventory_sink.h"

namespace eso {

/// serve's in-memory index (DESIGN.md §6): remote key → the objects that name it, fed by LIST +
/// WATCH, so an event costs no LIST. Keys are indexed in every provider rule's canonical form;
/// objects with `dataFrom.find` are kept apart and offered for every lookup. Only the fields
/// matching needs are kept (ExternalSecret is that already). Thread-safe.
class KeyIndex final : public InventorySink {
 public:
  void replace(const std::string& kind, const std::string& namespace_name,
               std::vector<ExternalSecret> objects) override;
  void upsert(ExternalSecret object) override;
  void remove(const ObjectRef& ref) override;

  /// Copies of the objects that may reference any of `keys`: a superset of what match_keys will
  /// select, never missing one.
  std::vector<ExternalSecret> candidates(const std::vector<std::string>& keys) const;

  size_t size() const;       ///< objects indexed
  size_t key_count() const;  ///< distinct index entries

 private:
  void add_locked(ExternalSecret object);
  void drop_locked(const ObjectRef& ref);

  mutable std::mutex mu_;
  std::map<ObjectRef, ExternalSecret> objects_;
  std::map<std::string, std::set<ObjectRef>> by_key_;  ///< "rule\0canonical" → objects
  std::set<ObjectRef> with_find_;
};

}  // namespace eso
