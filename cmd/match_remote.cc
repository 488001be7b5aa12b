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

bool flag(const Json& o, const char* name) {
  const auto m = o.FindMember(name);
  return m != o.MemberEnd() && m->value.IsBool() && m->value.GetBool();
}

std::string request_body(const GlobalOptions& global, const MatchOptions& options,
                         const KeySet& keys) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  write_request_scope(w, global, keys, options.scope);
  w.EndObject();
  return buffer.GetString();
}

// The NOTES column of a direct match, from the JSON fields it is made of.
std::string notes_of(const Json& m) {
  std::vector<std::string> notes;
  if (const std::string ces = json_text(m, "clusterExternalSecret"); !ces.empty()) {
    notes.push_back("child of ClusterExternalSecret/" + ces);
  }
  if (flag(m, "usesGenerator")) notes.emplace_back("generatorRef values regenerate on refresh");
  if (const std::string rule = json_text(m, "rule"); rule != "akeyless") {
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
      const ObjectRef ref{json_text(m, "kind"), json_text(m, "namespace"), json_text(m, "name")};
      if (seen.insert(ref).second) fmt::print("{}\n", qualified_name(ref));
    }
    return;
  }
  if (matches.Empty()) return;
  Table table({"NAMESPACE", "NAME", "KEY", "FIELD", "STORE", "VERDICT", "NOTES"});
  for (const auto& m : matches.GetArray()) {
    const std::string ns = json_text(m, "namespace");
    const std::string store =
        m.HasMember("store") && m["store"].IsObject()
            ? json_text(m["store"], "kind") + "/" + json_text(m["store"], "name")
            : "";
    table.add_row(
        {ns, ns.empty() ? json_text(m, "kind") + "/" + json_text(m, "name") : json_text(m, "name"),
         json_text(m, "key"), json_text(m, "field"), store, json_text(m, "verdict"), notes_of(m)});
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
      fmt::print(stderr, "warning: {}/{} {}: {}\n", json_text(p, "namespace"), json_text(p, "name"),
                 json_text(p, "field"), json_text(p, "message"));
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
