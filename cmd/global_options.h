#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/kube_api.h"
#include "kube/api_client.h"

namespace eso::cmd {

/// Flags every subcommand shares, named as kubectl names them.
struct GlobalOptions {
  std::string kubeconfig;
  std::string context;
  std::string cluster;
  std::string user;
  std::vector<std::string> namespaces;  ///< -n, repeatable or comma-separated
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

/// The LIST scopes the flags ask for: one for -A, one per -n, else the context's namespace.
std::vector<ListScope> list_scopes(const GlobalOptions& options, const kube::ApiClient& client);

/// "any namespace", "namespace a" or "namespaces a, b", for messages.
std::string scope_description(const GlobalOptions& options, const kube::ApiClient& client);

/// Store and provider scoping shared by `match` and `trigger` (DESIGN.md §3).
struct StoreScopeOptions {
  std::string store;
  std::string store_kind;
  std::string provider;
};

/// Registers --store, --store-kind and --provider on a subcommand.
void add_store_scope_options(CLI::App& command, StoreScopeOptions& options);

/// Prints `error: MESSAGE` to stderr.
void print_error(const Error& error);

}  // namespace eso::cmd
