#include "cmd/trigger_remote.h"

#include <algorithm>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cmd/exit_code.h"
#include "cmd/inventory.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "cmd/trigger_client.h"
#include "core/go_duration.h"

namespace eso::cmd {
namespace {

using Json = rapidjson::Value;

// What --server cannot honour: the server's own settings, or what the API does not take.
std::optional<std::string> unsupported(const GlobalOptions& global,
                                       const TriggerCommandOptions& options, const KeySet& keys) {
  if (!keys.paths.empty() || !keys.configs.empty()) {
    return "an event naming folders or configurations (Infisical, Doppler) needs a direct trigger";
  }
  if (!global.selector.empty()) return "-l/--selector is not taken by the trigger API";
  if (options.run.patch_children) return "--patch-children is serve's own setting";
  if (options.run.annotation != kDefaultTriggerAnnotation) {
    return "--annotation is serve's own setting";
  }
  return std::nullopt;
}

std::string request_body(const GlobalOptions& global, const TriggerCommandOptions& options,
                         const KeySet& keys) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  write_request_scope(w, global, keys, options.scope);
  w.Key("dryRun");
  w.Bool(options.run.dry_run);
  w.Key("force");
  w.Bool(options.run.force);
  w.Key("includePossible");
  w.Bool(options.run.include_possible);
  if (options.wait && !options.run.dry_run) {  // as a direct trigger: a dry run waits for nothing
    w.Key("wait");
    w.String(options.timeout);
  }
  w.EndObject();
  return buffer.GetString();
}

std::string detail_of(const Json& o, const std::string& value) {
  if (const std::string e = json_text(o, "error"); !e.empty()) return e;
  if (const std::string r = json_text(o, "reason"); !r.empty()) return r;
  std::vector<std::string> fields;
  if (o.HasMember("matches") && o["matches"].IsArray()) {
    const bool children = o.HasMember("children");
    for (const auto& m : o["matches"].GetArray()) {
      fields.push_back(children ? json_text(m, "namespace") + "/" + json_text(m, "name") + " " +
                                      json_text(m, "field")
                                : json_text(m, "field"));
    }
  }
  return fmt::format("{}={} ({})", json_text(o, "annotation"), value, fmt::join(fields, ", "));
}

std::string name_of(const Json& o) {
  return json_text(o, "namespace").empty() ? json_text(o, "kind") + "/" + json_text(o, "name")
                                           : json_text(o, "name");
}

void print_tables(const Json& report) {
  const std::string value = json_text(report, "value");
  Table objects({"NAMESPACE", "NAME", "RESULT", "DETAIL"});
  for (const auto& o : report["objects"].GetArray()) {
    objects.add_row(
        {json_text(o, "namespace"), name_of(o), json_text(o, "result"), detail_of(o, value)});
  }
  if (!report["objects"].Empty()) objects.print(stdout);
  if (!report.HasMember("waits") || report["waits"].Empty()) return;
  fmt::print("\n");
  Table waits({"NAMESPACE", "NAME", "SYNC", "ELAPSED", "DETAIL"});
  for (const auto& w : report["waits"].GetArray()) {
    const double elapsed = w.HasMember("elapsedSeconds") && w["elapsedSeconds"].IsNumber()
                               ? w["elapsedSeconds"].GetDouble()
                               : 0;
    std::string detail = json_text(w, "detail");
    if (w.HasMember("via") && w["via"].IsObject() &&
        json_text(w["via"], "kind") == "ClusterExternalSecret") {
      detail = "via ClusterExternalSecret/" + json_text(w["via"], "name") +
               (detail.empty() ? "" : "; ") + detail;
    }
    waits.add_row({json_text(w, "namespace"), name_of(w), json_text(w, "result"),
                   fmt::format("{:.1f}s", elapsed), detail});
  }
  waits.print(stdout);
}

// What a direct trigger warns of on stderr: the objects whose fields could not be read.
void warn_remote_problems(const Json& report) {
  if (!report.HasMember("problems") || !report["problems"].IsArray()) return;
  for (const auto& p : report["problems"].GetArray()) {
    const ObjectRef ref{json_text(p, "kind"), json_text(p, "namespace"), json_text(p, "name")};
    fmt::print(stderr, "warning: {} {}: {}\n", display_name(ref), json_text(p, "field"),
               json_text(p, "message"));
  }
}

void print_report(const Json& report, OutputFormat output) {
  if (output == OutputFormat::kJson) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.SetIndent(' ', 2);
    report.Accept(w);
    fmt::print("{}\n", buffer.GetString());
    return;
  }
  if (output == OutputFormat::kName) {
    for (const auto& o : report["objects"].GetArray()) {
      const std::string result = json_text(o, "result");
      if (result != "patched" && result != "would-patch") continue;
      fmt::print("{}\n", qualified_name(ObjectRef{json_text(o, "kind"), json_text(o, "namespace"),
                                                  json_text(o, "name")}));
    }
    return;
  }
  print_tables(report);
}

// Warnings for skipped and failed objects, and the exit code of a direct trigger.
int exit_code_of(const Json& report, const TriggerCommandOptions& options,
                 const std::vector<std::string>& keys) {
  bool failed = false;
  for (const auto& o : report["objects"].GetArray()) {
    const std::string who = json_text(o, "namespace").empty()
                                ? name_of(o)
                                : json_text(o, "namespace") + "/" + json_text(o, "name");
    if (json_text(o, "result") == "skipped") {
      fmt::print(stderr, "warning: {} not patched: {}\n", who, json_text(o, "reason"));
    }
    if (json_text(o, "result") == "failed") {
      failed = true;
      fmt::print(stderr, "error: {}: {}\n", who, json_text(o, "error"));
    }
  }
  if (report["objects"].Empty()) {
    fmt::print(stderr, "No ExternalSecret references {}; nothing to trigger.\n",
               fmt::join(keys, ", "));
    return options.require_match ? kExitNoMatch : kExitOk;
  }
  if (failed) return kExitPartial;
  if (!report.HasMember("waits")) return kExitOk;
  for (const auto& w : report["waits"].GetArray()) {
    const std::string result = json_text(w, "result");
    if (result != "synced" && result != "will-not-refresh") return kExitWaitFailed;
  }
  return kExitOk;
}

}  // namespace

int run_trigger_remote(const GlobalOptions& global, const TriggerCommandOptions& options,
                       const KeySet& keys) {
  if (const auto why = unsupported(global, options, keys)) {
    print_error(Error{ErrorCode::kInvalidArgument, "--server: " + *why});
    return kExitUsage;
  }
  const auto wait = parse_go_duration(options.timeout);
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      (options.wait && wait ? *wait : std::chrono::nanoseconds(0)) + std::chrono::seconds(60));
  const auto answer =
      post_to_server(options.server, "/v1/trigger", request_body(global, options, keys), timeout);
  if (!answer) {
    print_error(answer.error());
    return kExitUsage;
  }
  rapidjson::Document report;
  report.Parse(answer->body.c_str());
  const bool is_report = !report.HasParseError() && report.IsObject() &&
                         report.HasMember("objects") && report["objects"].IsArray();
  if (!is_report) {
    print_error(server_error(options.server, "/v1/trigger", *answer));
    return kExitUsage;
  }
  warn_remote_problems(report);
  if (options.wait && !report.HasMember("waits")) {  // a dry run: as a direct trigger prints it
    report.AddMember("waits", rapidjson::Value(rapidjson::kArrayType), report.GetAllocator());
  }
  print_report(report, options.output);
  return exit_code_of(report, options, keys.keys);
}

}  // namespace eso::cmd
