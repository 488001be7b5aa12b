#include "cmd/global_options.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace eso::cmd {

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Path to the kubeconfig file (only this file is read)");
  app.add_option("--context", options.context, "The kubeconfig context to use");
  app.add_option("--cluster", options.cluster,
                 "The kubeconfig cluster to use instead of the context's");
  app.add_option("--user", options.user, "The kubeconfig user to use instead of the context's");
  app.add_option("-n,--namespace", options.namespaces,
                 "Namespace to search; repeat or separate with commas for several (default: the "
                 "context's namespace)")
      ->delimiter(',');
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
  auto config = kube::load_client_config(kube::ConfigOverrides{
      options.kubeconfig, options.context,
      options.namespaces.size() == 1 ? options.namespaces[0] : "", options.cluster, options.user});
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

std::vector<ListScope> list_scopes(const GlobalOptions& options, const kube::ApiClient& client) {
  ListScope scope;
  scope.label_selector = options.selector;
  scope.page_size = options.chunk_size;
  if (options.all_namespaces) return {scope};
  std::vector<ListScope> scopes;
  for (const auto& ns : options.namespaces) {
    if (std::any_of(scopes.begin(), scopes.end(),
                    [&](const ListScope& s) { return s.namespace_name == ns; })) {
      continue;
    }
    scope.namespace_name = ns;
    scopes.push_back(scope);
  }
  if (!scopes.empty()) return scopes;
  scope.namespace_name = client.config().namespace_name;
  return {scope};
}

std::string scope_description(const GlobalOptions& options, const kube::ApiClient& client) {
  if (options.all_namespaces) return "any namespace";
  if (options.namespaces.size() > 1) {
    return fmt::format("namespaces {}", fmt::join(options.namespaces, ", "));
  }
  return "namespace " + client.config().namespace_name;
}

void add_store_scope_options(CLI::App& command, StoreScopeOptions& options) {
  command.add_option("--store", options.store,
                     "Only references to the SecretStore or ClusterSecretStore of this name");
  command
      .add_option("--store-kind", options.store_kind,
                  "With --store: SecretStore or ClusterSecretStore")
      ->check(CLI::IsMember({"SecretStore", "ClusterSecretStore"}));
  command
      .add_option("--provider", options.provider,
                  "Only references to stores of this provider (akeyless, aws, azurekv, gcpsm, "
                  "vault, ...); its key rules apply. Reads SecretStores and ClusterSecretStores")
      ->check([](const std::string& p) {
        return p.empty() || p.find_first_of(" /") != std::string::npos
                   ? std::string("a provider is one word, as under a store's spec.provider")
                   : std::string();
      });
}

}  // namespace eso::cmd
