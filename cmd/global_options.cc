#include "cmd/global_options.h"

#include <map>

#include <fmt/format.h>

namespace eso::cmd {

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Path to the kubeconfig file (only this file is read)");
  app.add_option("--context", options.context, "The kubeconfig context to use");
  app.add_option("-n,--namespace", options.namespace_name,
                 "Namespace to search (default: the context's namespace)");
  app.add_flag("-A,--all-namespaces", options.all_namespaces, "Search every namespace");
  app.add_option("-l,--selector", options.selector,
                 "Label selector the ExternalSecrets must match (e.g. team=payments)");
  app.add_option("--chunk-size", options.chunk_size,
                 "Objects per LIST page; 0 reads everything in one response")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void add_output_option(CLI::App& command, OutputFormat& format) {
  const std::map<std::string, OutputFormat> formats{{"table", OutputFormat::kTable},
                                                    {"json", OutputFormat::kJson},
                                                    {"name", OutputFormat::kName}};
  command.add_option("-o,--output", format, "Output format: table, json or name")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case).description(""))
      ->type_name("table|json|name")
      ->default_str("table");
}

void print_error(const Error& error) { fmt::print(stderr, "error: {}\n", error.message); }

std::unique_ptr<kube::ApiClient> connect_or_report(const GlobalOptions& options) {
  auto config = kube::load_client_config(
      kube::ConfigOverrides{options.kubeconfig, options.context, options.namespace_name});
  if (!config) {
    print_error(config.error());
    return nullptr;
  }
  auto client = kube::ApiClient::connect(std::move(*config));
  if (!client) {
    print_error(client.error());
    return nullptr;
  }
  return std::move(*client);
}

ListScope list_scope(const GlobalOptions& options, const kube::ApiClient& client) {
  ListScope scope;
  scope.namespace_name = options.all_namespaces ? std::string() : client.config().namespace_name;
  scope.label_selector = options.selector;
  scope.page_size = options.chunk_size;
  return scope;
}

}  // namespace eso::cmd
