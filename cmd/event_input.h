#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cmd/global_options.h"
#include "core/result.h"

namespace eso::cmd {

/// Where the keys of a `match` or `trigger` come from: --key, and/or --event FILE|- (the same
/// payload `serve` receives, DESIGN.md §7).
struct KeyInput {
  std::vector<std::string> keys;
  std::string event_file;
  std::string event_source;  ///< "" auto-detects
};

/// Registers -k/--key, --event and --event-source on a subcommand.
void add_key_input_options(CLI::App& command, KeyInput& input, const std::string& key_help);

/// The keys to act on: --key values, then the keys the event payload names. A generic payload's
/// `store`/`provider` fill `scope` where the flags left it empty. Prints a summary of the
/// payload (events, keys, ignored events) on stderr. Errors name the file.
Result<std::vector<std::string>> collect_keys(const KeyInput& input, StoreScopeOptions& scope);

}  // namespace eso::cmd
