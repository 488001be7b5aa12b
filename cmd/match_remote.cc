#include "cmd/match_remote.h"

#include <set>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cmd/exit_code.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "cmd/trigger_client.h"

namespace eso::cmd {
namespace {

using Json = rapidjson::Value;

std::string text(const Json& o, const char* name) {
  const auto m = o.FindMember(name);
  return m != o.MemberEnd() && m->value.IsString() ? m->value.GetString() : "";
}

bool flag(const Json& o, const char* name) {
  const auto m = o.FindMember(name);
  return m != o.MemberEnd() && m->value.IsBool() && m->value.GetBool();
}

std::string request_body(const GlobalOptions& global, const MatchOptions& options,
                         const KeySet& keys) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("keys");
  w.StartArray();
  for (const auto& k : keys.keys) w.String(k);
  w.EndArray();
  if (!global.all_namespaces && !global.namespaces.empty()) {
    w.Key("namespaces");
    w.StartArray();
    for (const auto& n : global.namespaces) w.String(n);
    w.EndArray();
  }
  const std::pair<const char*, const std::string*> strings[] = {
      {"store", &options.scope.store},
      {"storeKind", &options.scope.store_kind},
      {"provider", &options.scope.provider}};
  for (const auto& [name, value] : strings) {
    if (value->empty()) continue;
    w.Key(name);
    w.String(*value);
  }
  w.EndObject();
  return buffer.GetString();
}

// The NOTES column of a direct match, from the JSON fields it is made of.
std::string notes_of(const Json& m) {
  std::vector<std::string> notes;
  if (const std::string ces = text(m, "clusterExternalSecret"); !ces.empty()) {
    notes.push_back("child of ClusterExternalSecret/" + ces);
  }
  if (flag(m, "usesGenerator")) notes.emplace_back("generatorRef values regenerate on refresh");
  if (const std::string rule = text(m, "rule"); rule != "akeyless") {
    notes.push_back("matched by the " + rule + " key rule");
  }
  return fmt::format("{}", fmt::join(notes, "; "));
}

void print_answer(const Json& doc, OutputFormat output) {
  const auto& matches = doc["matches"];
  if (output == OutputFormat::kJson) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.SetIndent(' ', 2);
    doc.Accept(w);
    fmt::print("{}\n", buffer.GetString());
    return;
  }
  if (output == OutputFormat::kName) {
    std::set<ObjectRef> seen;
    for (const auto& m : matches.GetArray()) {
      const ObjectRef ref{text(m, "kind"), text(m, "namespace"), text(m, "name")};
      if (seen.insert(ref).second) fmt::print("{}\n", qualified_name(ref));
    }
    return;
  }
  if (matches.Empty()) return;
  Table table({"NAMESPACE", "NAME", "KEY", "FIELD", "STORE", "VERDICT", "NOTES"});
  for (const auto& m : matches.GetArray()) {
    const std::string ns = text(m, "namespace");
    const std::string store = m.HasMember("store") && m["store"].IsObject()
                                  ? text(m["store"], "kind") + "/" + text(m["store"], "name")
                                  : "";
    table.add_row({ns, ns.empty() ? text(m, "kind") + "/" + text(m, "name") : text(m, "name"),
                   text(m, "key"), text(m, "field"), store, text(m, "verdict"), notes_of(m)});
  }
  table.print(stdout);
}

}  // namespace

int run_match_remote(const GlobalOptions& global, const MatchOptions& options, const KeySet& keys) {
  if (!keys.paths.empty() || !keys.configs.empty() || !global.selector.empty()) {
    print_error(Error{ErrorCode::kInvalidArgument,
                      "--server: folders, configurations and -l/--selector need a direct match"});
    return kExitUsage;
  }
  const auto answer = post_to_server(options.server, "/v1/match",
                                     request_body(global, options, keys), std::chrono::seconds(60));
  if (!answer) {
    print_error(answer.error());
    return kExitUsage;
  }
  rapidjson::Document doc;
  doc.Parse(answer->body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("matches") ||
      !doc["matches"].IsArray()) {
    print_error(server_error(options.server, "/v1/match", *answer));
    return kExitUsage;
  }
  if (doc.HasMember("problems") && doc["problems"].IsArray()) {
    for (const auto& p : doc["problems"].GetArray()) {
      fmt::print(stderr, "warning: {}/{} {}: {}\n", text(p, "namespace"), text(p, "name"),
                 text(p, "field"), text(p, "message"));
    }
  }
  print_answer(doc, options.output);
  if (doc["matches"].Empty()) {
    if (options.output == OutputFormat::kTable) {
      fmt::print(stderr, "No ExternalSecret that {} serves references {}.\n", options.server.url,
                 fmt::join(keys.keys, ", "));
    }
    return kExitNoMatch;
  }
  return kExitOk;
}

}  // namespace eso::cmd
