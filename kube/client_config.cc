#include "kube/client_config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/base64.h"

namespace eso::kube {
namespace {

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

Error config_error(std::string message) { return Error{ErrorCode::kConfig, std::move(message)}; }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return config_error(fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// One named cluster, user or context, and the file that defined it (for relative paths).
struct NamedEntry {
  YAML::Node node;
  std::string file;
};

struct MergedKubeconfig {
  std::map<std::string, NamedEntry> clusters;
  std::map<std::string, NamedEntry> users;
  std::map<std::string, NamedEntry> contexts;
  std::string current_context;
  std::vector<std::string> files;
};

// yaml-cpp throws when a non-map node is indexed; a kubeconfig of any shape must not.
YAML::Node child(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap()) return YAML::Node();
  return node[key];
}

std::string scalar(const YAML::Node& node, const char* key) {
  const YAML::Node v = child(node, key);
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

bool truthy(const YAML::Node& node, const char* key) {
  const YAML::Node v = child(node, key);
  return v && v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "True");
}

// client-go: the first file that sets a named entry (or current-context) wins.
void merge_entries(const YAML::Node& doc, const char* list, const char* inner,
                   const std::string& file, std::map<std::string, NamedEntry>& into) {
  const YAML::Node items = child(doc, list);
  if (!items || !items.IsSequence()) return;
  for (const auto& item : items) {
    const std::string name = scalar(item, "name");
    const YAML::Node body = child(item, inner);
    if (name.empty() || !body || !body.IsMap()) continue;
    into.try_emplace(name, NamedEntry{body, file});
  }
}

Status merge_file(const std::string& file, MergedKubeconfig& into) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(file);
  } catch (const YAML::ParserException& e) {
    return config_error(fmt::format("kubeconfig {}: line {}, column {}: {}", file, e.mark.line + 1,
                                    e.mark.column + 1, e.msg));
  } catch (const YAML::Exception& e) {
    return config_error(fmt::format("kubeconfig {}: {}", file, e.what()));
  }
  into.files.push_back(file);
  if (!doc || doc.IsNull()) return ok_status();
  if (!doc.IsMap()) return config_error(fmt::format("kubeconfig {}: not a YAML mapping", file));
  merge_entries(doc, "clusters", "cluster", file, into.clusters);
  merge_entries(doc, "users", "user", file, into.users);
  merge_entries(doc, "contexts", "context", file, into.contexts);
  if (into.current_context.empty()) into.current_context = scalar(doc, "current-context");
  return ok_status();
}

std::string resolve_path(const std::string& path, const std::string& defining_file) {
  if (path.empty() || path.front() == '/') return path;
  return directory_of(defining_file) + "/" + path;
}

// `<name>-data` (base64) or `<name>` (a file, relative to the defining kubeconfig).
Result<std::string> read_material(const NamedEntry& entry, const char* name, std::string& origin) {
  const std::string data_key = std::string(name) + "-data";
  if (const std::string data = scalar(entry.node, data_key.c_str()); !data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) {
      return config_error(
          fmt::format("kubeconfig {}: {}: {}", entry.file, data_key, decoded.error().message));
    }
    origin = data_key;
    return decoded;
  }
  const std::string path = resolve_path(scalar(entry.node, name), entry.file);
  if (path.empty()) return std::string();
  origin = fmt::format("{} {}", name, path);
  return read_file(path, fmt::format("{} (named in {})", name, entry.file));
}

Status apply_cluster(const NamedEntry& cluster, ClientConfig& config) {
  config.server = scalar(cluster.node, "server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.empty()) {
    return config_error(fmt::format("kubeconfig {}: cluster of context \"{}\" has no server",
                                    cluster.file, config.context_name));
  }
  config.insecure_skip_tls_verify = truthy(cluster.node, "insecure-skip-tls-verify");
  config.tls_server_name = scalar(cluster.node, "tls-server-name");
  config.proxy_url = scalar(cluster.node, "proxy-url");
  auto ca = read_material(cluster, "certificate-authority", config.ca_origin);
  if (!ca) return ca.error();
  config.ca_pem = std::move(*ca);
  return ok_status();
}

Result<ExecConfig> read_exec(const NamedEntry& user, const YAML::Node& exec) {
  ExecConfig config;
  config.api_version = scalar(exec, "apiVersion");
  config.command = scalar(exec, "command");
  config.install_hint = scalar(exec, "installHint");
  config.provide_cluster_info = truthy(exec, "provideClusterInfo");
  if (const std::string mode = scalar(exec, "interactiveMode"); !mode.empty()) {
    config.interactive_mode = mode;
  }
  if (config.command.empty()) {
    return config_error(fmt::format("kubeconfig {}: exec has no command", user.file));
  }
  if (config.api_version != "client.authentication.k8s.io/v1" &&
      config.api_version != "client.authentication.k8s.io/v1beta1") {
    return config_error(fmt::format(
        "kubeconfig {}: exec apiVersion \"{}\" is not client.authentication.k8s.io/v1 or "
        "v1beta1",
        user.file, config.api_version));
  }
  if (config.interactive_mode != "Never" && config.interactive_mode != "IfAvailable" &&
      config.interactive_mode != "Always") {
    return config_error(
        fmt::format("kubeconfig {}: exec interactiveMode \"{}\" is not Never, "
                    "IfAvailable or Always",
                    user.file, config.interactive_mode));
  }
  // client-go: a command with a '/' is relative to the kubeconfig that names it.
  if (config.command.find('/') != std::string::npos) {
    config.command = resolve_path(config.command, user.file);
  }
  if (const YAML::Node args = child(exec, "args"); args && args.IsSequence()) {
    for (const auto& a : args) config.args.push_back(a.IsScalar() ? a.Scalar() : "");
  }
  if (const YAML::Node env = child(exec, "env"); env && env.IsSequence()) {
    for (const auto& e : env) config.env.emplace_back(scalar(e, "name"), scalar(e, "value"));
  }
  return config;
}

// The oidc auth-provider: usable while its id-token is valid; refreshing it needs the IdP.
Status apply_oidc(const NamedEntry& user, const YAML::Node& provider, ClientConfig& config) {
  const YAML::Node settings = child(provider, "config");
  const std::string id_token = settings ? scalar(settings, "id-token") : "";
  if (id_token.empty()) {
    return config_error(
        fmt::format("kubeconfig {}: the oidc auth-provider has no id-token; log in with kubelogin "
                    "(kubectl oidc-login) and use its exec credential plugin",
                    user.file));
  }
  config.token = id_token;
  return ok_status();
}

Status apply_user(const NamedEntry& user, ClientConfig& config) {
  if (const YAML::Node exec = child(user.node, "exec")) {
    auto parsed = read_exec(user, exec);
    if (!parsed) return parsed.error();
    config.exec = std::move(*parsed);
  }
  if (const YAML::Node provider = child(user.node, "auth-provider")) {
    const std::string name = scalar(provider, "name");
    if (name == "oidc") return apply_oidc(user, provider, config);
    return config_error(fmt::format(
        "kubeconfig {}: auth-provider \"{}\" was removed from kubectl; use its exec credential "
        "plugin instead (gcp: gke-gcloud-auth-plugin, azure: kubelogin)",
        user.file, name));
  }
  std::string origin;
  auto cert = read_material(user, "client-certificate", origin);
  if (!cert) return cert.error();
  auto key = read_material(user, "client-key", origin);
  if (!key) return key.error();
  if (cert->empty() != key->empty()) {
    return config_error(fmt::format(
        "kubeconfig {}: user of context \"{}\" has a client certificate without a key or a key "
        "without a certificate",
        user.file, config.context_name));
  }
  config.client_cert_pem = std::move(*cert);
  config.client_key_pem = std::move(*key);
  config.token = scalar(user.node, "token");
  config.token_file = resolve_path(scalar(user.node, "tokenFile"), user.file);
  config.username = scalar(user.node, "username");
  config.password = scalar(user.node, "password");
  // client-go's validation: one of token/tokenFile, basic auth, exec.
  std::vector<std::string> methods;
  if (!config.token.empty() || !config.token_file.empty()) methods.emplace_back("token");
  if (!config.username.empty() || !config.password.empty()) methods.emplace_back("basicAuth");
  if (config.exec) methods.emplace_back("exec");
  if (methods.size() > 1) {
    return config_error(fmt::format(
        "kubeconfig {}: more than one authentication method for the user of context \"{}\": "
        "[{}]; keep one",
        user.file, config.context_name, fmt::join(methods, " ")));
  }
  return ok_status();
}

Result<ClientConfig> resolve(const MergedKubeconfig& merged, const ConfigOverrides& overrides) {
  ClientConfig config;
  config.source = fmt::format("{}", fmt::join(merged.files, ":"));
  config.context_name = overrides.context.empty() ? merged.current_context : overrides.context;
  if (config.context_name.empty()) {
    return config_error(fmt::format(
        "no context chosen: {} sets no current-context; pass --context or run `kubectl config "
        "use-context NAME`",
        merged.files.empty() ? std::string("no kubeconfig") : config.source));
  }
  const auto context = merged.contexts.find(config.context_name);
  if (context == merged.contexts.end()) {
    return config_error(
        fmt::format("context \"{}\" not found in {}", config.context_name, config.source));
  }
  const std::string cluster_name =
      overrides.cluster.empty() ? scalar(context->second.node, "cluster") : overrides.cluster;
  const std::string user_name =
      overrides.user.empty() ? scalar(context->second.node, "user") : overrides.user;
  const auto cluster = merged.clusters.find(cluster_name);
  if (cluster == merged.clusters.end()) {
    return config_error(fmt::format("context \"{}\" names cluster \"{}\", which is not in {}",
                                    config.context_name, cluster_name, config.source));
  }
  if (auto applied = apply_cluster(cluster->second, config); !applied) return applied.error();
  if (!user_name.empty()) {
    const auto user = merged.users.find(user_name);
    if (user == merged.users.end()) {
      return config_error(fmt::format("context \"{}\" names user \"{}\", which is not in {}",
                                      config.context_name, user_name, config.source));
    }
    if (auto applied = apply_user(user->second, config); !applied) return applied.error();
  }
  const std::string context_namespace = scalar(context->second.node, "namespace");
  if (!context_namespace.empty()) config.namespace_name = context_namespace;
  return config;
}

std::vector<std::string> split_path_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(':', start), list.size());
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string service_account_dir(const EnvLookup& env) {
  return env("ESO_SERVICE_ACCOUNT_DIR").value_or(kServiceAccountDir);
}

// A pod's environment: the service's address and a mounted service-account token.
bool in_cluster(const EnvLookup& env) {
  const auto host = env("KUBERNETES_SERVICE_HOST");
  const auto port = env("KUBERNETES_SERVICE_PORT");
  return host && !host->empty() && port && !port->empty() &&
         file_exists(service_account_dir(env) + "/token");
}

// Only when in_cluster(env). (Not an optional<Result>: g++ 12 at -O3 reports a false
// -Wmaybe-uninitialized when that is moved out.)
Result<ClientConfig> in_cluster_config(const ConfigOverrides& overrides, const EnvLookup& env) {
  const auto host = env("KUBERNETES_SERVICE_HOST").value_or("");
  const auto port = env("KUBERNETES_SERVICE_PORT").value_or("");
  const std::string dir = service_account_dir(env);
  ClientConfig config;
  config.source = "in-cluster (" + dir + ")";
  // RFC 3986 §3.2.2: an IPv6 literal goes in brackets.
  const bool ipv6 = host.find(':') != std::string::npos;
  config.server = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
  config.token_file = dir + "/token";
  if (file_exists(dir + "/ca.crt")) {
    auto ca = read_file(dir + "/ca.crt", "service-account CA");
    if (!ca) return Result<ClientConfig>(ca.error());
    config.ca_pem = std::move(*ca);
    config.ca_origin = dir + "/ca.crt";
  }
  if (auto ns = read_file(dir + "/namespace", "namespace"); ns && !ns->empty()) {
    config.namespace_name = *ns;
    while (!config.namespace_name.empty() && isspace(config.namespace_name.back())) {
      config.namespace_name.pop_back();
    }
  }
  if (!overrides.namespace_name.empty()) config.namespace_name = overrides.namespace_name;
  return Result<ClientConfig>(std::move(config));
}

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

namespace {

Result<ClientConfig> load_client_config_unguarded(const ConfigOverrides& overrides,
                                                  const EnvLookup& env) {
  MergedKubeconfig merged;
  if (!overrides.kubeconfig.empty()) {
    if (!file_exists(overrides.kubeconfig)) {
      return config_error(fmt::format("--kubeconfig {}: no such file", overrides.kubeconfig));
    }
    if (auto m = merge_file(overrides.kubeconfig, merged); !m) return m.error();
  } else if (const auto list = env("KUBECONFIG"); list && !list->empty()) {
    for (const auto& file : split_path_list(*list)) {
      if (!file_exists(file)) continue;  // client-go skips missing files in the list
      if (auto m = merge_file(file, merged); !m) return m.error();
    }
    if (merged.files.empty()) {
      return config_error(fmt::format("none of the files in KUBECONFIG={} exists", *list));
    }
  } else if (in_cluster(env)) {
    return in_cluster_config(overrides, env);
  } else {
    const std::string home = env("HOME").value_or("");
    const std::string file = home + "/.kube/config";
    if (home.empty() || !file_exists(file)) {
      return config_error(
          "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, create "
          "~/.kube/config, or run in a pod with a service account");
    }
    if (auto m = merge_file(file, merged); !m) return m.error();
  }
  auto config = resolve(merged, overrides);
  if (config && !overrides.namespace_name.empty()) {
    config->namespace_name = overrides.namespace_name;
  }
  return config;
}

}  // namespace

Result<ClientConfig> load_client_config(const ConfigOverrides& overrides, const EnvLookup& env) {
  // The edge where yaml-cpp's exceptions become errors (STYLE.md "Errors").
  try {
    return load_client_config_unguarded(overrides, env);
  } catch (const YAML::Exception& e) {
    return config_error(fmt::format("kubeconfig: {}", e.what()));
  } catch (const std::exception& e) {
    return config_error(fmt::format("kubeconfig: {}", e.what()));
  }
}

}  // namespace eso::kube
