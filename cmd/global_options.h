#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/kube_api.h"
#include "kube/api_client.h"

namespace eso::cmd {

/// Flags every subcommand shares, named as kubectl names them.
struct GlobalOptions {
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;
  bool all_namespaces = false;
  std::string selector;
  int chunk_size = 500;
};

/// Registers the global flags on the top-level app.
void add_global_options(CLI::App& app, GlobalOptions& options);

/// Output formats of `match` and `trigger`.
enum class OutputFormat { kTable, kJson, kName };

/// Registers `-o/--output table|json|name` on a subcommand.
void add_output_option(CLI::App& command, OutputFormat& format);

/// Loads the configuration and connects; on failure prints the error and returns nullptr.
std::unique_ptr<kube::ApiClient> connect_or_report(const GlobalOptions& options);

/// The LIST scope the flags ask for: -A, -n, else the context's namespace.
ListScope list_scope(const GlobalOptions& options, const kube::ApiClient& client);

/// Prints `error: MESSAGE` to stderr.
void print_error(const Error& error);

}  // namespace eso::cmd
