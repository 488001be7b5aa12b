#include "cmd/trigger_command.h"

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "cmd/exit_code.h"
#include "cmd/inventory.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "core/patch_runner.h"
#include "core/trigger_plan.h"

namespace eso::cmd {
namespace {

// One line of the report: what happened to one object.
struct ObjectReport {
  ObjectRef target;
  std::string result;  // patched | would-patch | skipped | failed
  std::string annotation;
  std::string detail;  // the skip reason or the error
  std::vector<Match> reasons;
  std::vector<ObjectRef> children;
  std::string resource_version;
};

std::vector<ObjectReport> build_reports(const TriggerPlan& plan,
                                        const std::vector<PatchResult>& results, bool dry_run) {
  std::vector<ObjectReport> reports;
  for (size_t i = 0; i < plan.patches.size(); ++i) {
    const auto& p = plan.patches[i];
    ObjectReport r{
        p.target, dry_run ? "would-patch" : "patched", p.annotation, "", p.reasons, p.children, ""};
    if (!dry_run && results[i].outcome) r.resource_version = results[i].outcome->resource_version;
    if (!dry_run && !results[i].outcome) {
      r.result = "failed";
      r.detail = results[i].outcome.error().message;
    }
    reports.push_back(std::move(r));
  }
  for (const auto& s : plan.skipped) {
    reports.push_back(ObjectReport{s.target, "skipped", "", skip_text(s), s.reasons, {}, ""});
  }
  return reports;
}

std::string detail_of(const ObjectReport& r, const TriggerPlan& plan) {
  if (!r.detail.empty()) return r.detail;
  std::vector<std::string> fields;
  for (const auto& m : r.reasons) {
    fields.push_back(r.children.empty() ? m.field : display_name(m.object->ref) + " " + m.field);
  }
  return fmt::format("{}={} ({})", r.annotation, plan.value, fmt::join(fields, ", "));
}

void print_table(const std::vector<ObjectReport>& reports, const TriggerPlan& plan) {
  Table table({"NAMESPACE", "NAME", "RESULT", "DETAIL"});
  for (const auto& r : reports) {
    const std::string name =
        r.target.namespace_name.empty() ? r.target.kind + "/" + r.target.name : r.target.name;
    table.add_row({r.target.namespace_name, name, r.result, detail_of(r, plan)});
  }
  table.print(stdout);
}

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_report(JsonWriter& w, const ObjectReport& r) {
  w.StartObject();
  write_object_ref(w, r.target);
  w.Key("result");
  w.String(r.result);
  if (!r.annotation.empty()) {
    w.Key("annotation");
    w.String(r.annotation);
  }
  w.Key("matches");
  w.StartArray();
  for (const auto& m : r.reasons) {
    w.StartObject();
    write_object_ref(w, m.object->ref);
    w.Key("key");
    w.String(m.key);
    w.Key("field");
    w.String(m.field);
    w.Key("verdict");
    w.String(match_verdict_text(m));
    w.EndObject();
  }
  w.EndArray();
  if (!r.children.empty()) {
    w.Key("children");
    w.StartArray();
    for (const auto& c : r.children) {
      w.StartObject();
      write_object_ref(w, c);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.resource_version.empty()) {
    w.Key("resourceVersion");
    w.String(r.resource_version);
  }
  if (!r.detail.empty()) {
    w.Key(r.result == "failed" ? "error" : "reason");
    w.String(r.detail);
  }
  w.EndObject();
}

void print_json(const std::vector<ObjectReport>& reports, const TriggerPlan& plan, bool dry_run,
                const std::vector<MatchProblem>& problems) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("value");
  w.String(plan.value);
  w.Key("dryRun");
  w.Bool(dry_run);
  w.Key("objects");
  w.StartArray();
  for (const auto& r : reports) write_report(w, r);
  w.EndArray();
  w.Key("problems");
  w.StartArray();
  for (const auto& p : problems) {
    w.StartObject();
    write_object_ref(w, p.object->ref);
    w.Key("field");
    w.String(p.field);
    w.Key("message");
    w.String(p.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  fmt::print("{}\n", buffer.GetString());
}

void print_report(const std::vector<ObjectReport>& reports, const TriggerPlan& plan,
                  const TriggerCommandOptions& options, const std::vector<MatchProblem>& problems) {
  switch (options.output) {
    case OutputFormat::kJson:
      print_json(reports, plan, options.dry_run, problems);
      return;
    case OutputFormat::kName:
      for (const auto& r : reports) {
        if (r.result == "patched" || r.result == "would-patch") {
          fmt::print("{}\n", qualified_name(r.target));
        }
      }
      return;
    case OutputFormat::kTable:
      if (!reports.empty()) print_table(reports, plan);
      return;
  }
}

void warn_about(const std::vector<ObjectReport>& reports) {
  for (const auto& r : reports) {
    if (r.result == "skipped") {
      fmt::print(stderr, "warning: {} not patched: {}\n", display_name(r.target), r.detail);
    }
    if (r.result == "failed") {
      fmt::print(stderr, "error: {}: {}\n", display_name(r.target), r.detail);
    }
  }
}

}  // namespace

CLI::App* add_trigger_command(CLI::App& app, TriggerCommandOptions& options) {
  auto* cmd = app.add_subcommand(
      "trigger", "Annotate every ExternalSecret that reads a key so ESO re-syncs it now");
  cmd->add_option("-k,--key", options.keys, "Remote key that changed (repeatable)")->required();
  cmd->add_option("--annotation", options.annotation, "Annotation key to set on ExternalSecrets")
      ->capture_default_str();
  cmd->add_flag("--dry-run", options.dry_run, "Show what would be patched; change nothing");
  cmd->add_flag("--force", options.force,
                "Also patch objects ESO will not refresh (CreatedOnce, Periodic with interval 0)");
  cmd->add_flag("--include-possible", options.include_possible,
                "Also patch objects that only dataFrom.find.tags may select");
  cmd->add_flag("--patch-children", options.patch_children,
                "Patch a ClusterExternalSecret's children instead of the parent (ESO < v0.20)");
  cmd->add_flag("--require-match", options.require_match, "Exit 1 when no object matches");
  cmd->add_option("--concurrency", options.concurrency, "Patches in flight at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_output_option(*cmd, options.output);
  return cmd;
}

int run_trigger(const GlobalOptions& global, const TriggerCommandOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitUsage;
  auto inventory = load_inventory(global, *client);
  if (!inventory) {
    print_error(inventory.error());
    return kExitUsage;
  }
  const auto matched = match_keys(inventory->objects, options.keys);
  warn_problems(matched.problems);
  TriggerOptions plan_options;
  plan_options.annotation = options.annotation;
  plan_options.value = trigger_stamp(std::chrono::system_clock::now());
  plan_options.force = options.force;
  plan_options.include_possible = options.include_possible;
  plan_options.patch_children = options.patch_children;
  const TriggerPlan plan = plan_trigger(matched.matches, plan_options);
  std::vector<PatchResult> results;
  if (!options.dry_run) results = run_patches(*client, plan, options.concurrency);
  const auto reports = build_reports(plan, results, options.dry_run);
  warn_about(reports);
  print_report(reports, plan, options, matched.problems);

  if (reports.empty()) {
    fmt::print(stderr, "No ExternalSecret references {}; nothing to trigger.\n",
               fmt::join(options.keys, ", "));
    return options.require_match ? kExitNoMatch : kExitOk;
  }
  const bool any_failed = std::any_of(reports.begin(), reports.end(),
                                      [](const ObjectReport& r) { return r.result == "failed"; });
  return any_failed ? kExitPartial : kExitOk;
}

}  // namespace eso::cmd
