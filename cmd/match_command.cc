#include "cmd/match_command.h"

#include <set>

#include <fmt/format.h>

#include "cmd/exit_code.h"
#include "cmd/inventory.h"
#include "cmd/match_remote.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "core/match.h"
#include "core/match_report.h"
#include "core/pipeline.h"

namespace eso::cmd {
namespace {

void print_table(const std::vector<Match>& matches) {
  Table table({"NAMESPACE", "NAME", "KEY", "FIELD", "STORE", "VERDICT", "NOTES"});
  for (const auto& m : matches) {
    const ObjectRef& ref = m.object->ref;
    table.add_row(
        {ref.namespace_name, ref.namespace_name.empty() ? ref.kind + "/" + ref.name : ref.name,
         m.key, m.field, m.store.kind + "/" + m.store.name, match_verdict_text(m), match_notes(m)});
  }
  table.print(stdout);
}

void print_names(const std::vector<Match>& matches) {
  std::set<ObjectRef> seen;
  for (const auto& m : matches) {
    if (seen.insert(m.object->ref).second) fmt::print("{}\n", qualified_name(m.object->ref));
  }
}

}  // namespace

CLI::App* add_match_command(CLI::App& app, MatchOptions& options) {
  auto* cmd = app.add_subcommand(
      "match",
      "List the ExternalSecrets that read a key, the field that matched, and whether "
      "ESO will honour a trigger (read-only)");
  add_key_input_options(*cmd, options.input, "Remote key to look for (repeatable)");
  add_store_scope_options(*cmd, options.scope);
  add_output_option(*cmd, options.output);
  add_server_options(*cmd, options.server, "Match");
  return cmd;
}

int run_match(const GlobalOptions& global, const MatchOptions& given) {
  MatchOptions options = given;
  auto keys = collect_keys(options.input, options.scope);
  if (!keys) {
    print_error(keys.error());
    return kExitUsage;
  }
  if (!options.server.url.empty()) return run_match_remote(global, options, *keys);
  Inventory inventory;
  auto client = connect_scoped(global, options.scope, inventory, keys->scope);
  if (!client) return kExitUsage;
  // The trigger's pipeline without patches: pages are matched as they arrive and only matched
  // objects are kept.
  TriggerOptions dry;
  dry.dry_run = true;
  TriggerRun run(std::move(*keys), dry);
  ListedObjects source = listed_objects(global, *client);
  if (const auto streamed = run.run(source, nullptr); !streamed) {
    print_error(streamed.error());
    return kExitUsage;
  }
  const MatchResult& result = run.matched();
  warn_problems(result.problems);
  switch (options.output) {
    case OutputFormat::kJson:
      fmt::print("{}\n", match_json(result, run.keys().keys, client->group_version(), true));
      break;
    case OutputFormat::kName:
      print_names(result.matches);
      break;
    case OutputFormat::kTable:
      if (result.matches.empty()) {
        fmt::print(stderr, "No ExternalSecret in {} references {}.\n",
                   scope_description(global, *client), fmt::join(run.keys().keys, ", "));
      } else {
        print_table(result.matches);
      }
      break;
  }
  return result.matches.empty() ? kExitNoMatch : kExitOk;
}

}  // namespace eso::cmd
