#include "cmd/inventory.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <fmt/format.h>

namespace eso::cmd {

Result<Inventory> load_stores(const GlobalOptions& global, const StoreScopeOptions& stores,
                              kube::ApiClient& client) {
  Inventory inventory;
  if (stores.provider.empty()) return inventory;
  for (const auto& scope : list_scopes(global, client)) {
    auto listed = client.list_secret_stores(scope);
    if (!listed) return listed.error();
    for (auto& s : *listed) {
      const bool seen = std::any_of(inventory.stores.begin(), inventory.stores.end(),
                                    [&](const SecretStoreRecord& r) { return r.ref == s.ref; });
      if (!seen) inventory.stores.push_back(std::move(s));
    }
  }
  return inventory;
}

std::unique_ptr<kube::ApiClient> connect_scoped(const GlobalOptions& global,
                                                const StoreScopeOptions& stores,
                                                Inventory& inventory, MatchScope& scope) {
  auto client = connect_or_report(global);
  if (!client) return nullptr;
  auto loaded = load_stores(global, stores, *client);
  if (!loaded) {
    print_error(loaded.error());
    return nullptr;
  }
  inventory = std::move(*loaded);
  apply_store_scope(stores, inventory, scope);
  return client;
}

ListedObjects listed_objects(const GlobalOptions& global, kube::ApiClient& client) {
  return ListedObjects(client, list_scopes(global, client), global.all_namespaces);
}

void apply_store_scope(const StoreScopeOptions& options, const Inventory& inventory,
                       MatchScope& scope) {
  scope.provider = options.provider;
  scope.store_name = options.store;
  scope.store_kind = options.store_kind;
  if (!inventory.stores.empty()) scope.stores = store_lookup(&inventory.stores);
}

std::string match_notes(const Match& m) {
  std::vector<std::string> notes;
  if (!m.object->owner_cluster_external_secret.empty()) {
    notes.push_back("child of ClusterExternalSecret/" + m.object->owner_cluster_external_secret);
  }
  if (m.object->uses_generator) notes.push_back("generatorRef values regenerate on refresh");
  if (m.rule != "akeyless") notes.push_back("matched by the " + m.rule + " key rule");
  return fmt::format("{}", fmt::join(notes, "; "));
}

void warn_problems(const std::vector<MatchProblem>& problems) {
  for (const auto& p : problems) {
    fmt::print(stderr, "warning: {} {}: {}\n", display_name(p.object->ref), p.field, p.message);
  }
}

std::string display_name(const ObjectRef& ref) {
  if (ref.namespace_name.empty()) return ref.kind + "/" + ref.name;
  return ref.namespace_name + "/" + ref.name;
}

}  // namespace eso::cmd
