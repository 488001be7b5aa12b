#include "cmd/match_command.h"

#include <set>

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "cmd/exit_code.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "core/match.h"

namespace eso::cmd {
namespace {

void print_table(const std::vector<Match>& matches) {
  Table table({"NAMESPACE", "NAME", "KEY", "FIELD", "STORE", "VERDICT"});
  for (const auto& m : matches) {
    table.add_row({m.object->ref.namespace_name, m.object->ref.name, m.key, m.field,
                   m.store.kind + "/" + m.store.name, std::string(verdict_text(m.verdict))});
  }
  table.print(stdout);
}

void print_json(const std::vector<Match>& matches, const std::vector<std::string>& keys,
                const std::string& group_version) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("apiVersion");
  w.String(group_version);
  w.Key("keys");
  w.StartArray();
  for (const auto& k : keys) w.String(k);
  w.EndArray();
  w.Key("matches");
  w.StartArray();
  for (const auto& m : matches) {
    w.StartObject();
    write_object_ref(w, m.object->ref);
    w.Key("key");
    w.String(m.key);
    w.Key("field");
    w.String(m.field);
    w.Key("store");
    w.StartObject();
    w.Key("kind");
    w.String(m.store.kind);
    w.Key("name");
    w.String(m.store.name);
    w.EndObject();
    w.Key("verdict");
    w.String(std::string(verdict_text(m.verdict)));
    w.Key("willRefresh");
    w.Bool(will_refresh(m.verdict));
    w.Key("usesGenerator");
    w.Bool(m.object->uses_generator);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  fmt::print("{}\n", buffer.GetString());
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
  cmd->add_option("-k,--key", options.keys, "Remote key to look for (repeatable)")->required();
  add_output_option(*cmd, options.output);
  return cmd;
}

int run_match(const GlobalOptions& global, const MatchOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitUsage;
  auto objects = client->list_external_secrets(list_scope(global, *client));
  if (!objects) {
    print_error(objects.error());
    return kExitUsage;
  }
  const auto matches = match_keys(*objects, options.keys);
  switch (options.output) {
    case OutputFormat::kJson:
      print_json(matches, options.keys, client->group_version());
      break;
    case OutputFormat::kName:
      print_names(matches);
      break;
    case OutputFormat::kTable:
      if (matches.empty()) {
        fmt::print(stderr, "No ExternalSecret in {} references {}.\n",
                   global.all_namespaces ? std::string("any namespace")
                                         : "namespace " + client->config().namespace_name,
                   fmt::join(options.keys, ", "));
      } else {
        print_table(matches);
      }
      break;
  }
  return matches.empty() ? kExitNoMatch : kExitOk;
}

}  // namespace eso::cmd
