#include "cmd/trigger_command.h"

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "cmd/exit_code.h"
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
  MatchVerdict verdict = MatchVerdict::kWillRefresh;
  std::vector<Match> reasons;
  std::string resource_version;
  std::string error;
};

std::vector<ObjectReport> build_reports(const TriggerPlan& plan,
                                        const std::vector<PatchResult>& results, bool dry_run) {
  std::vector<ObjectReport> reports;
  for (size_t i = 0; i < plan.patches.size(); ++i) {
    const auto& p = plan.patches[i];
    ObjectReport r{p.target, dry_run ? "would-patch" : "patched", p.verdict, p.reasons, "", ""};
    if (!dry_run) {
      const auto& outcome = results[i].outcome;
      if (outcome) r.resource_version = outcome->resource_version;
      if (!outcome) {
        r.result = "failed";
        r.error = outcome.error().message;
      }
    }
    reports.push_back(std::move(r));
  }
  for (const auto& s : plan.skipped) {
    reports.push_back(ObjectReport{s.target, "skipped", s.verdict, s.reasons, "", ""});
  }
  return reports;
}

std::string fields_of(const ObjectReport& r) {
  std::vector<std::string> fields;
  for (const auto& m : r.reasons) fields.push_back(m.field);
  return fmt::format("{}", fmt::join(fields, ","));
}

std::string detail_of(const ObjectReport& r, const TriggerPlan& plan) {
  if (r.result == "failed") return r.error;
  if (r.result == "skipped")
    return fmt::format("{}; --force patches it anyway", verdict_text(r.verdict));
  return fmt::format("{}={} ({})", plan.annotation, plan.value, fields_of(r));
}

void print_table(const std::vector<ObjectReport>& reports, const TriggerPlan& plan) {
  Table table({"NAMESPACE", "NAME", "RESULT", "DETAIL"});
  for (const auto& r : reports) {
    table.add_row({r.target.namespace_name, r.target.name, r.result, detail_of(r, plan)});
  }
  table.print(stdout);
}

void print_json(const std::vector<ObjectReport>& reports, const TriggerPlan& plan, bool dry_run) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("annotation");
  w.String(plan.annotation);
  w.Key("value");
  w.String(plan.value);
  w.Key("dryRun");
  w.Bool(dry_run);
  w.Key("objects");
  w.StartArray();
  for (const auto& r : reports) {
    w.StartObject();
    write_object_ref(w, r.target);
    w.Key("result");
    w.String(r.result);
    w.Key("verdict");
    w.String(std::string(verdict_text(r.verdict)));
    w.Key("matches");
    w.StartArray();
    for (const auto& m : r.reasons) {
      w.StartObject();
      w.Key("key");
      w.String(m.key);
      w.Key("field");
      w.String(m.field);
      w.EndObject();
    }
    w.EndArray();
    if (!r.resource_version.empty()) {
      w.Key("resourceVersion");
      w.String(r.resource_version);
    }
    if (!r.error.empty()) {
      w.Key("error");
      w.String(r.error);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  fmt::print("{}\n", buffer.GetString());
}

void print_report(const std::vector<ObjectReport>& reports, const TriggerPlan& plan,
                  const TriggerCommandOptions& options) {
  switch (options.output) {
    case OutputFormat::kJson:
      print_json(reports, plan, options.dry_run);
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
      fmt::print(stderr, "warning: {}/{} not patched: {} (use --force to patch it anyway)\n",
                 r.target.namespace_name, r.target.name, verdict_text(r.verdict));
    }
    if (r.result == "failed") {
      fmt::print(stderr, "error: {}/{}: {}\n", r.target.namespace_name, r.target.name, r.error);
    }
  }
}

}  // namespace

CLI::App* add_trigger_command(CLI::App& app, TriggerCommandOptions& options) {
  auto* cmd = app.add_subcommand(
      "trigger", "Annotate every ExternalSecret that reads a key so ESO re-syncs it now");
  cmd->add_option("-k,--key", options.keys, "Remote key that changed (repeatable)")->required();
  cmd->add_option("--annotation", options.annotation, "Annotation key to set")
      ->capture_default_str();
  cmd->add_flag("--dry-run", options.dry_run, "Show what would be patched; change nothing");
  cmd->add_flag("--force", options.force,
                "Also patch objects ESO will not refresh (CreatedOnce, Periodic with interval 0)");
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
  auto objects = client->list_external_secrets(list_scope(global, *client));
  if (!objects) {
    print_error(objects.error());
    return kExitUsage;
  }
  const auto matches = match_keys(*objects, options.keys);
  const TriggerPlan plan = plan_trigger(
      matches, TriggerOptions{options.annotation, trigger_stamp(std::chrono::system_clock::now()),
                              options.force});
  std::vector<PatchResult> results;
  if (!options.dry_run) results = run_patches(*client, plan, options.concurrency);
  const auto reports = build_reports(plan, results, options.dry_run);
  warn_about(reports);
  print_report(reports, plan, options);

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
