#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cmd/event_input.h"
#include "cmd/global_options.h"
#include "cmd/trigger_client.h"
#include "core/trigger_plan.h"

namespace eso::cmd {

struct TriggerCommandOptions {
  KeyInput input;
  TriggerOptions run;  ///< what is planned and how patches run (the value is set per run)
  bool require_match = false;
  bool wait = false;
  std::string timeout = "2m";
  std::string repeat_after;  ///< "" or a duration: patch again after it (cache buster)
  OutputFormat output = OutputFormat::kTable;
  StoreScopeOptions scope;
  ServerTarget server;  ///< --server: through serve's trigger API instead of the Kubernetes API
};

/// `eso-updater trigger`: patches the trigger annotation on every ExternalSecret that reads one
/// of the keys, so ESO re-syncs it now.
CLI::App* add_trigger_command(CLI::App& app, TriggerCommandOptions& options);

/// Runs `trigger` after parsing; returns the process exit code.
int run_trigger(const GlobalOptions& global, const TriggerCommandOptions& options);

}  // namespace eso::cmd
