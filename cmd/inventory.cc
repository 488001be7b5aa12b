#include "cmd/inventory.h"

#include <fmt/format.h>

namespace eso::cmd {

Result<Inventory> load_inventory(const GlobalOptions& global, kube::ApiClient& client) {
  const ListScope scope = list_scope(global, client);
  auto objects = client.list_external_secrets(scope);
  if (!objects) return objects.error();
  Inventory inventory{std::move(*objects)};
  if (!global.all_namespaces) return inventory;
  auto cluster = client.list_cluster_external_secrets(scope);
  if (!cluster) return cluster.error();
  for (auto& ces : *cluster) inventory.objects.push_back(std::move(ces));
  return inventory;
}

std::string match_verdict_text(const Match& m) {
  if (m.possible && will_refresh(m.verdict)) return "possible (find.tags)";
  return std::string(verdict_text(m.verdict));
}

std::string match_notes(const Match& m) {
  std::vector<std::string> notes;
  if (!m.object->owner_cluster_external_secret.empty()) {
    notes.push_back("child of ClusterExternalSecret/" + m.object->owner_cluster_external_secret);
  }
  if (m.object->uses_generator) notes.push_back("generatorRef values regenerate on refresh");
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
