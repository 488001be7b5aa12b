#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cmd/global_options.h"
#include "core/event_decoder.h"
#include "core/pipeline.h"
#include "core/result.h"

namespace eso::cmd {

/// Where the keys of a `match` or `trigger` come from: --key, and/or --event FILE|- (the same
/// payload `serve` receives, DESIGN.md §7).
struct KeyInput {
  std::vector<std::string> keys;
  std::string event_file;
  std::string event_source;            ///< "" auto-detects
  std::vector<std::string> key_paths;  ///< --key-path: where the key is in other JSON bodies
};

/// Registers -k/--key, --event, --event-source and --key-path on a subcommand.
void add_key_input_options(CLI::App& command, KeyInput& input, const std::string& key_help);

/// The keys to act on: --key values, then the keys the event payload names, as serve reads them
/// (core/pipeline.h key_set: the event's key rule and environment). A generic payload's
/// `store`/`provider` fill `scope` where the flags left it empty. Prints a summary of the
/// payload (events, keys, ignored events) on stderr. Errors name the file.
Result<KeySet> collect_keys(const KeyInput& input, StoreScopeOptions& scope);

}  // namespace eso::cmd
