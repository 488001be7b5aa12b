#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace eso::kube {

/// Where the connection settings come from and what the command line overrides (DESIGN.md §4).
struct ConfigOverrides {
  std::string kubeconfig;      ///< --kubeconfig: only this file, which must exist
  std::string context;         ///< --context
  std::string namespace_name;  ///< -n/--namespace
  std::string cluster;         ///< --cluster: use this kubeconfig cluster instead of the context's
  std::string user;            ///< --user: use this kubeconfig user instead of the context's
};

/// Reads an environment variable; injectable so tests do not depend on the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
std::optional<std::string> process_env(const std::string& name);

/// A `client.authentication.k8s.io` exec credential plugin (kubeconfig `users[].user.exec`).
struct ExecConfig {
  std::string api_version;  ///< client.authentication.k8s.io/v1 or /v1beta1
  std::string command;      ///< run without a shell; a relative path resolves like kubectl
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  bool provide_cluster_info = false;
  std::string interactive_mode = "IfAvailable";  ///< Never, IfAvailable, Always
};

/// Everything needed to talk to one API server as one user. Key material stays in memory.
struct ClientConfig {
  std::string source;        ///< where it came from, for messages: a file list or "in-cluster"
  std::string context_name;  ///< empty in-cluster
  std::string server;        ///< e.g. https://127.0.0.1:6443, no trailing '/'
  std::string namespace_name = "default";

  std::string ca_pem;     ///< empty: the system trust store
  std::string ca_origin;  ///< "certificate-authority FILE", "certificate-authority-data", ...
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;

  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       ///< static bearer token
  std::string token_file;  ///< bearer token re-read when the file changes
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
};

/// Resolves the configuration as kubectl does: --kubeconfig, else KUBECONFIG (a ':'-separated
/// list merged first-wins, missing files skipped), else in-cluster, else ~/.kube/config.
Result<ClientConfig> load_client_config(const ConfigOverrides& overrides,
                                        const EnvLookup& env = process_env);

}  // namespace eso::kube
