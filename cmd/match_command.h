#pragma once

#include <CLI/CLI.hpp>

#include "cmd/event_input.h"
#include "cmd/global_options.h"
#include "cmd/trigger_client.h"

namespace eso::cmd {

struct MatchOptions {
  KeyInput input;
  OutputFormat output = OutputFormat::kTable;
  StoreScopeOptions scope;
  ServerTarget server;  ///< --server: through serve's trigger API instead of the Kubernetes API
};

/// `eso-updater match`: read-only; which objects reference the keys, through which field, and
/// whether ESO will honour a trigger. Returns the subcommand; run with run_match().
CLI::App* add_match_command(CLI::App& app, MatchOptions& options);

/// Runs `match` after parsing; returns the process exit code.
int run_match(const GlobalOptions& global, const MatchOptions& options);

}  // namespace eso::cmd
