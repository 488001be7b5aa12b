#include "cmd/trigger_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "cmd/exit_code.h"
#include "cmd/inventory.h"
#include "cmd/object_names.h"
#include "cmd/table.h"
#include "cmd/trigger_remote.h"
#include "cmd/trigger_wait.h"
#include "core/go_duration.h"
#include "core/pipeline.h"
#include "core/trigger_plan.h"
#include "core/trigger_report.h"

namespace eso::cmd {
namespace {

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

void print_report(const std::vector<ObjectReport>& reports, const TriggerPlan& plan,
                  const TriggerCommandOptions& options, const std::vector<MatchProblem>& problems,
                  const std::vector<WaitResult>* waits) {
  switch (options.output) {
    case OutputFormat::kJson:
      fmt::print("{}\n",
                 report_json(TriggerReport{plan.value, options.run.dry_run, reports, problems,
                                           waits ? std::optional(*waits) : std::nullopt},
                             true));
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
      if (waits != nullptr && !waits->empty()) {
        fmt::print("\n");
        print_wait_table(*waits);
      }
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
  add_key_input_options(*cmd, options.input, "Remote key that changed (repeatable)");
  cmd->add_option("--annotation", options.run.annotation,
                  "Annotation key to set on ExternalSecrets")
      ->capture_default_str();
  cmd->add_flag("--dry-run", options.run.dry_run, "Show what would be patched; change nothing");
  cmd->add_flag("--force", options.run.force,
                "Also patch objects ESO will not refresh (CreatedOnce, Periodic with interval 0)");
  cmd->add_flag("--include-possible", options.run.include_possible,
                "Also patch objects that only dataFrom.find.tags may select");
  cmd->add_flag("--patch-children", options.run.patch_children,
                "ESO < v0.20: reach a ClusterExternalSecret's children through its "
                "spec.externalSecretMetadata");
  cmd->add_flag("--require-match", options.require_match, "Exit 1 when no object matches");
  cmd->add_option("--concurrency", options.run.concurrency, "Patches in flight at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag(
      "--wait", options.wait,
      "Wait until ESO has synced every patched object; exit 4 on a sync error or timeout");
  cmd->add_option("--timeout", options.timeout, "How long --wait waits (Go duration)")
      ->capture_default_str();
  cmd->add_option("--repeat-after", options.repeat_after,
                  "Patch again after this delay, for caches between ESO and the provider "
                  "(ENABLE_CACHE_BUSTER=true uses CACHE_BUSTER_WAIT_INTERVAL, default 2s)");
  add_store_scope_options(*cmd, options.scope);
  add_output_option(*cmd, options.output);
  add_server_options(*cmd, options.server, "Trigger");
  return cmd;
}

namespace {

// --repeat-after, or the original tool's ENABLE_CACHE_BUSTER / CACHE_BUSTER_WAIT_INTERVAL
// (a Go duration, or bare seconds as the original took it).
Result<std::chrono::nanoseconds> repeat_delay(const TriggerCommandOptions& options) {
  std::string text = options.repeat_after;
  const char* enabled = std::getenv("ENABLE_CACHE_BUSTER");
  if (text.empty() && enabled != nullptr && std::string_view(enabled) == "true") {
    const char* interval = std::getenv("CACHE_BUSTER_WAIT_INTERVAL");
    text = interval != nullptr && *interval != '\0' ? interval : "2s";
    if (text.find_first_not_of("0123456789") == std::string::npos) text += "s";
  }
  if (text.empty()) return std::chrono::nanoseconds(0);
  auto delay = parse_go_duration(text);
  if (!delay) return Error{ErrorCode::kInvalidArgument, "--repeat-after: " + delay.error().message};
  if (delay->count() < 0) return Error{ErrorCode::kInvalidArgument, "--repeat-after is negative"};
  return delay;
}

// A progress line on stderr for long runs on a terminal.
PatchProgress progress_line(size_t total) {
  if (total < 50 || isatty(STDERR_FILENO) == 0) return {};
  return [](size_t finished, size_t all) {
    fmt::print(stderr, "\rpatched {}/{}{}", finished, all, finished == all ? "\n" : "");
  };
}

// The progress of patches started while the list still runs (the total grows as it goes).
struct StreamProgress {
  bool shown = false;
  PatchProgress line() {
    if (isatty(STDERR_FILENO) == 0) return {};
    return [this](size_t finished, size_t submitted) {
      if (submitted < 50) return;
      shown = true;
      fmt::print(stderr, "\rpatched {}/{}", finished, submitted);
    };
  }
  ~StreamProgress() {
    if (shown) fmt::print(stderr, "\n");
  }
};

// The second round of the cache buster: patches again with a fresh value after `delay`; an
// object counts as patched only when every round succeeded.
std::vector<PatchResult> repeat_round(kube::ApiClient& client, TriggerPlan& plan,
                                      const TriggerCommandOptions& options,
                                      std::chrono::nanoseconds delay,
                                      std::vector<PatchResult> results) {
  if (delay.count() == 0 || plan.patches.empty()) return results;
  const auto progress = progress_line(plan.patches.size());
  std::this_thread::sleep_for(delay);
  plan.value = trigger_stamp(std::chrono::system_clock::now());
  EarlyPatcher patcher(client, plan.value, options.run.concurrency, progress);
  patcher.submit(plan);
  auto again = patcher.finish(plan);
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].outcome) results[i] = std::move(again[i]);
  }
  return results;
}

int exit_code_for(const std::vector<ObjectReport>& reports, const std::vector<WaitResult>& waits) {
  const bool any_failed = std::any_of(reports.begin(), reports.end(),
                                      [](const ObjectReport& r) { return r.result == "failed"; });
  if (any_failed) return kExitPartial;
  const bool all_synced = std::all_of(waits.begin(), waits.end(), wait_succeeded);
  return all_synced ? kExitOk : kExitWaitFailed;
}

}  // namespace

namespace {

// The first round, streamed: each page is matched as it arrives and each new target patched at
// once, while later pages download (DESIGN.md §9); only matched objects are kept.
Status stream_round(const GlobalOptions& global, kube::ApiClient& client, TriggerRun& run) {
  StreamProgress progress;
  EarlyPatcher patcher(client, run.options().value, run.options().concurrency, progress.line());
  ListedObjects source = listed_objects(global, client);
  return run.run(source, &patcher);
}

// A LIST that failed half-way: the patches already made are said, not hidden.
int list_failed(const Status& listed, const std::vector<PatchResult>& results) {
  print_error(listed.error());
  const auto patched = std::count_if(results.begin(), results.end(),
                                     [](const PatchResult& r) { return r.outcome.ok(); });
  if (patched > 0) {
    fmt::print(stderr, "note: {} object(s) matched before the list failed were patched\n", patched);
  }
  return kExitUsage;
}

std::vector<WaitResult> wait_round(kube::ApiClient& client, const TriggerRun& run,
                                   const TriggerCommandOptions& options,
                                   std::chrono::steady_clock::time_point started,
                                   std::chrono::nanoseconds timeout) {
  std::vector<WaitResult> waits;
  auto targets = wait_targets(run.plan(), run.results(), waits);
  for (auto& t : targets) {
    if (run.listed_after_patch(t.ref)) t.ready_before.reset();
  }
  if (isatty(STDERR_FILENO) != 0 && !targets.empty()) {
    fmt::print(stderr, "waiting for ESO to sync {} ExternalSecret(s), up to {}...\n",
               targets.size(), options.timeout);
  }
  auto answered = wait_for_sync(client, targets, started,
                                std::chrono::duration_cast<std::chrono::milliseconds>(timeout),
                                std::chrono::milliseconds(500), system_clock());
  waits.insert(waits.end(), answered.begin(), answered.end());
  return waits;
}

}  // namespace

int run_trigger(const GlobalOptions& global, const TriggerCommandOptions& given) {
  TriggerCommandOptions options = given;
  auto keys = collect_keys(options.input, options.scope);
  const auto delay = repeat_delay(options);
  const auto timeout = parse_go_duration(options.timeout);
  if (!keys || !delay || !timeout) {
    print_error(!keys ? keys.error()
                : !delay
                    ? delay.error()
                    : Error{ErrorCode::kInvalidArgument, "--timeout: " + timeout.error().message});
    return kExitUsage;
  }
  if (!options.server.url.empty()) {
    if (delay->count() > 0) {
      print_error(Error{ErrorCode::kInvalidArgument,
                        "--server: no second round (--repeat-after, ENABLE_CACHE_BUSTER): "
                        "trigger twice instead"});
      return kExitUsage;
    }
    return run_trigger_remote(global, options, *keys);
  }
  Inventory inventory;
  auto client = connect_scoped(global, options.scope, inventory, keys->scope);
  if (!client) return kExitUsage;
  TriggerOptions run_options = options.run;
  run_options.value = trigger_stamp(std::chrono::system_clock::now());
  TriggerRun run(std::move(*keys), run_options);
  const Status listed = stream_round(global, *client, run);
  // --timeout counts from the end of the list (it may take seconds on 50,000 objects).
  const auto started = std::chrono::steady_clock::now();
  if (!listed) return list_failed(listed, run.results());
  warn_problems(run.matched().problems);
  if (!options.run.dry_run) {
    run.results() = repeat_round(*client, run.plan(), options, *delay, std::move(run.results()));
  }
  const auto reports = build_reports(run.plan(), run.results(), options.run.dry_run);
  warn_about(reports);
  std::vector<WaitResult> waits;
  if (options.wait && !options.run.dry_run) {
    waits = wait_round(*client, run, options, started, *timeout);
  }
  print_report(reports, run.plan(), options, run.matched().problems,
               options.wait ? &waits : nullptr);
  if (reports.empty()) {
    fmt::print(stderr, "No ExternalSecret references {}; nothing to trigger.\n",
               fmt::join(run.keys().keys, ", "));
    return options.require_match ? kExitNoMatch : kExitOk;
  }
  return exit_code_for(reports, waits);
}

}  // namespace eso::cmd
