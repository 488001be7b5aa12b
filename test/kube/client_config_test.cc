#include "kube/client_config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <doctest/doctest.h>

#include "core/base64.h"
#include "kube/exec_credential.h"

namespace eso::kube {
namespace {

namespace fs = std::filesystem;

// A temporary directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "eso-kubeconfig-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }
};

ConfigOverrides over(std::string kubeconfig = "", std::string context = "", std::string ns = "",
                     std::string cluster = "", std::string user = "") {
  return ConfigOverrides{std::move(kubeconfig), std::move(context), std::move(ns),
                         std::move(cluster), std::move(user)};
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string kubeconfig(const std::string& current, const std::string& cluster,
                       const std::string& server, const std::string& user, const std::string& token,
                       const std::string& ns = "") {
  std::string out = "apiVersion: v1\nkind: Config\n";
  if (!current.empty()) out += "current-context: " + current + "\n";
  out += "clusters:\n- name: " + cluster + "\n  cluster:\n    server: " + server + "\n";
  out += "users:\n- name: " + user + "\n  user:\n    token: " + token + "\n";
  out += "contexts:\n- name: " + current + "\n  context:\n    cluster: " + cluster +
         "\n    user: " + user + "\n";
  if (!ns.empty()) out += "    namespace: " + ns + "\n";
  return out;
}

}  // namespace

TEST_CASE("--kubeconfig reads only that file and must exist") {
  TempDir dir;
  const auto file =
      dir.write("a", kubeconfig("a-ctx", "c", "https://a:6443", "u", "tok-a", "team"));
  auto config = load_client_config(over(file, "", ""), env_of({{"KUBECONFIG", "/nonexistent"}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://a:6443");
  CHECK(config->token == "tok-a");
  CHECK(config->context_name == "a-ctx");
  CHECK(config->namespace_name == "team");

  auto missing = load_client_config(over((dir.path / "nope").string(), "", ""), env_of({}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("no such file") != std::string::npos);
}

TEST_CASE("KUBECONFIG merges files first-wins, skipping missing ones") {
  TempDir dir;
  // The first file sets current-context but defines its cluster in the second.
  const auto first = dir.write("first", R"(
current-context: shared-ctx
contexts:
- name: shared-ctx
  context: {cluster: shared, user: first-user, namespace: from-first}
users:
- name: first-user
  user: {token: first-token}
)");
  const auto second = dir.write("second", R"(
current-context: other-ctx
clusters:
- name: shared
  cluster: {server: "https://second:6443/"}
- name: other
  cluster: {server: "https://other:6443"}
contexts:
- name: shared-ctx
  context: {cluster: other, user: second-user}
- name: other-ctx
  context: {cluster: other, user: second-user}
users:
- name: first-user
  user: {token: shadowed}
- name: second-user
  user: {token: second-token}
)");
  const auto third = dir.write("third", R"(
clusters:
- name: shared
  cluster: {server: "https://third:6443"}
)");
  const std::string list =
      first + ":" + (dir.path / "missing").string() + "::" + second + ":" + third;

  auto merged = load_client_config(over(), env_of({{"KUBECONFIG", list}}));
  REQUIRE(merged.ok());
  CHECK(merged->context_name == "shared-ctx");
  CHECK(merged->server == "https://second:6443");  // trailing '/' dropped
  CHECK(merged->token == "first-token");
  CHECK(merged->namespace_name == "from-first");

  auto other = load_client_config(over("", "other-ctx", "ns-flag"), env_of({{"KUBECONFIG", list}}));
  REQUIRE(other.ok());
  CHECK(other->server == "https://other:6443");
  CHECK(other->token == "second-token");
  CHECK(other->namespace_name == "ns-flag");
}

TEST_CASE("namespace falls back to default") {
  TempDir dir;
  const auto file = dir.write("a", kubeconfig("a-ctx", "c", "https://a", "u", "t"));
  auto config = load_client_config(over(), env_of({{"KUBECONFIG", file}}));
  REQUIRE(config.ok());
  CHECK(config->namespace_name == "default");
}

TEST_CASE("relative certificate paths resolve against the kubeconfig that names them") {
  TempDir dir;
  dir.write("sub/pki/ca.pem", "CA-PEM");
  dir.write("sub/pki/client.pem", "CERT-PEM");
  dir.write("sub/pki/client.key", "KEY-PEM");
  const auto file = dir.write("sub/config", R"(
current-context: x
clusters:
- name: c
  cluster: {server: "https://h:1", certificate-authority: pki/ca.pem, tls-server-name: api.example}
users:
- name: u
  user: {client-certificate: pki/client.pem, client-key: pki/client.key}
contexts:
- name: x
  context: {cluster: c, user: u}
)");
  // Run from another directory to prove the paths do not depend on the working directory.
  auto config = load_client_config(over(file, "", ""), env_of({}));
  REQUIRE(config.ok());
  CHECK(config->ca_pem == "CA-PEM");
  CHECK(config->ca_origin.find("sub/pki/ca.pem") != std::string::npos);
  CHECK(config->client_cert_pem == "CERT-PEM");
  CHECK(config->client_key_pem == "KEY-PEM");
  CHECK(config->tls_server_name == "api.example");
}

TEST_CASE("embedded -data fields are base64-decoded in memory") {
  TempDir dir;
  const auto file =
      dir.write("c",
                "current-context: x\nclusters:\n- name: c\n  cluster:\n"
                "    server: https://h\n    certificate-authority-data: " +
                    base64_encode("CA") +
                    "\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n"
                    "  user:\n    client-certificate-data: " +
                    base64_encode("CERT") + "\n    client-key-data: " + base64_encode("KEY") +
                    "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n");
  auto config = load_client_config(over(file, "", ""), env_of({}));
  REQUIRE(config.ok());
  CHECK(config->ca_pem == "CA");
  CHECK(config->client_cert_pem == "CERT");
  CHECK(config->client_key_pem == "KEY");
  CHECK(config->insecure_skip_tls_verify);
}

TEST_CASE("unusable kubeconfigs give errors that name the file and the problem") {
  TempDir dir;
  struct Case {
    const char* name;
    std::string content;
    std::string context;
    const char* want;
  };
  const Case cases[] = {
      {"bad-yaml", "clusters: [\n  - name: x\n  bad", "", "line "},
      {"no-context", "clusters: []\n", "", "no context chosen"},
      {"unknown-context", kubeconfig("a", "c", "https://a", "u", "t"), "zzz",
       "context \"zzz\" not found"},
      {"no-cluster",
       "current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone, user: u}\n", "",
       "names cluster \"gone\""},
      {"no-server",
       "current-context: x\nclusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n"
       "  context: {cluster: c}\n",
       "", "has no server"},
      {"bad-ca-data",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h', "
       "certificate-authority-data: '!!notbase64'}\ncontexts:\n- name: x\n  context: {cluster: "
       "c}\n",
       "", "certificate-authority-data: invalid base64"},
      {"missing-ca-file",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h', "
       "certificate-authority: nope.pem}\ncontexts:\n- name: x\n  context: {cluster: c}\n",
       "", "cannot read certificate-authority"},
      {"gcp",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n"
       "- name: u\n  user:\n    auth-provider: {name: gcp}\ncontexts:\n- name: x\n"
       "  context: {cluster: c, user: u}\n",
       "", "gke-gcloud-auth-plugin"},
      {"cert-without-key",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n"
       "- name: u\n  user: {client-certificate-data: " +
           base64_encode("C") + "}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n",
       "", "without a key"},
      {"token-and-password",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n"
       "- name: u\n  user: {token: t, username: a, password: b}\ncontexts:\n- name: x\n"
       "  context: {cluster: c, user: u}\n",
       "", "more than one authentication method"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto file = dir.write(c.name, c.content);
    auto config = load_client_config(over(file, c.context, ""), env_of({}));
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().code == ErrorCode::kConfig);
    CHECK(config.error().message.find(c.want) != std::string::npos);
  }
}

TEST_CASE("in-cluster configuration reads the service-account directory") {
  TempDir dir;
  dir.write("sa/token", "sa-token\n");
  dir.write("sa/ca.crt", "SA-CA");
  dir.write("sa/namespace", "eso-system\n");
  const auto sa = (dir.path / "sa").string();
  auto config = load_client_config(over(), env_of({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                                   {"KUBERNETES_SERVICE_PORT", "443"},
                                                   {"ESO_SERVICE_ACCOUNT_DIR", sa}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://[fd00::1]:443");
  CHECK(config->token_file == sa + "/token");
  CHECK(config->ca_pem == "SA-CA");
  CHECK(config->namespace_name == "eso-system");

  // KUBECONFIG wins over in-cluster.
  const auto file = dir.write("k", kubeconfig("a", "c", "https://k", "u", "t"));
  auto from_file = load_client_config(over(), env_of({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                      {"KUBERNETES_SERVICE_PORT", "443"},
                                                      {"ESO_SERVICE_ACCOUNT_DIR", sa},
                                                      {"KUBECONFIG", file}}));
  REQUIRE(from_file.ok());
  CHECK(from_file->server == "https://k");
}

TEST_CASE("~/.kube/config is the last resort, with a clear error when absent") {
  TempDir dir;
  dir.write(".kube/config", kubeconfig("h", "c", "https://home", "u", "t"));
  auto config = load_client_config(over(), env_of({{"HOME", dir.path.string()}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://home");

  auto none = load_client_config(over(), env_of({{"HOME", (dir.path / "empty").string()}}));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no Kubernetes configuration") != std::string::npos);
}

TEST_CASE("a KUBECONFIG list of only missing files is an error") {
  auto config =
      load_client_config(over(), env_of({{"KUBECONFIG", "/nonexistent/a:/nonexistent/b"}}));
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().message.find("none of the files") != std::string::npos);
}

}  // namespace eso::kube

namespace eso::kube {

TEST_CASE("exec plugins are read with args, env and a command relative to the kubeconfig") {
  TempDir dir;
  const auto file = dir.write("k/config", R"(
current-context: x
clusters:
- name: c
  cluster: {server: "https://h"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/get-token
      args: [--cluster, prod]
      env:
      - {name: AWS_PROFILE, value: prod}
      installHint: brew install get-token
      provideClusterInfo: true
      interactiveMode: Never
- name: plain
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}
contexts:
- name: x
  context: {cluster: c, user: u}
)");
  auto config = load_client_config(over(file), env_of({}));
  REQUIRE(config.ok());
  REQUIRE(config->exec.has_value());
  CHECK(config->exec->api_version == "client.authentication.k8s.io/v1beta1");
  CHECK(config->exec->command == (dir.path / "k" / "./bin/get-token").string());
  CHECK(config->exec->args == std::vector<std::string>{"--cluster", "prod"});
  REQUIRE(config->exec->env.size() == 1);
  CHECK(config->exec->env[0].first == "AWS_PROFILE");
  CHECK(config->exec->provide_cluster_info);
  CHECK(config->exec->interactive_mode == "Never");

  auto plain = load_client_config(over(file, "", "", "", "plain"), env_of({}));
  REQUIRE(plain.ok());
  CHECK(plain->exec->command == "aws");  // looked up on PATH
  CHECK(plain->exec->interactive_mode == "IfAvailable");
}

TEST_CASE("bad exec settings, conflicting methods and auth-providers are errors") {
  TempDir dir;
  auto user_config = [&](const std::string& user) {
    return "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n"
           "- name: u\n  user:\n" +
           user + "contexts:\n- name: x\n  context: {cluster: c, user: u}\n";
  };
  const std::pair<std::string, const char*> cases[] = {
      {"    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}\n",
       "is not client.authentication.k8s.io/v1"},
      {"    exec: {apiVersion: client.authentication.k8s.io/v1}\n", "exec has no command"},
      {"    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: "
       "Sometimes}\n",
       "interactiveMode"},
      {"    token: t\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: x}\n",
       "[token exec]"},
      {"    tokenFile: /t\n    username: a\n", "[token basicAuth]"},
      {"    auth-provider: {name: azure}\n", "kubelogin"},
      {"    auth-provider: {name: oidc, config: {client-id: k}}\n", "has no id-token"},
  };
  int i = 0;
  for (const auto& [user, want] : cases) {
    CAPTURE(user);
    const auto file = dir.write("c" + std::to_string(i++), user_config(user));
    auto config = load_client_config(over(file), env_of({}));
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find(want) != std::string::npos);
  }
  const auto oidc = dir.write(
      "oidc", user_config("    auth-provider: {name: oidc, config: {id-token: eyJ.x.y}}\n"));
  auto config = load_client_config(over(oidc), env_of({}));
  REQUIRE(config.ok());
  CHECK(config->token == "eyJ.x.y");
}

TEST_CASE("--cluster and --user replace the context's choices") {
  TempDir dir;
  const auto file = dir.write("k", R"(
current-context: x
clusters:
- {name: a, cluster: {server: "https://a"}}
- {name: b, cluster: {server: "https://b"}}
users:
- {name: ua, user: {token: ta}}
- {name: ub, user: {token: tb}}
contexts:
- {name: x, context: {cluster: a, user: ua}}
)");
  auto config = load_client_config(over(file, "", "", "b", "ub"), env_of({}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://b");
  CHECK(config->token == "tb");
  auto missing = load_client_config(over(file, "", "", "zz"), env_of({}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("\"zz\"") != std::string::npos);
}

}  // namespace eso::kube

namespace eso::kube {

// Found by test/fuzz/kubeconfig_fuzz: yaml-cpp throws when a scalar is indexed like a map.
TEST_CASE("kubeconfigs of the wrong shape are errors, never exceptions") {
  TempDir dir;
  // A shape, and the configuration error it gives ("" where the wrong parts are ignored).
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"current-context: x\nclusters: [{name: c, cluster: 5}]\ncontexts: [{name: x, context: "
       "{cluster: c}}]\n",
       "context \"x\" names cluster \"c\", which is not in "},
      {"current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: "
       "[{name: u, user: {exec: just-a-string}}]\ncontexts: [{name: x, context: {cluster: c, "
       "user: u}}]\n",
       ": exec has no command"},
      {"current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: "
       "[{name: u, user: {auth-provider: oidc}}]\ncontexts: [{name: x, context: {cluster: c, "
       "user: u}}]\n",
       "was removed from kubectl; use its exec credential plugin instead"},
      {"current-context: x\nclusters: [{name: c, cluster: {server: 'https://h'}}]\nusers: "
       "[{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x, args: "
       "1, env: [a, {name: [1]}]}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n",
       ""},
      {"current-context: x\nclusters: {c: 1}\ncontexts: [x, [1], {name: x, context: text}]\n",
       "context \"x\" not found in "},
      {"- just\n- a list\n", ": not a YAML mapping"},
      {"current-context: [x]\n", "no context chosen: "},
  };
  int i = 0;
  for (const Case& c : cases) {
    CAPTURE(i);
    const auto file = dir.write("k" + std::to_string(i++), c.yaml);
    Result<ClientConfig> config = Error{};
    REQUIRE_NOTHROW(config = load_client_config(over(file), env_of({})));
    if (std::string(c.error).empty()) {
      REQUIRE(config.ok());
      REQUIRE(config->exec.has_value());
      CHECK(config->exec->command == "x");
      CHECK(config->exec->args.empty());
      continue;
    }
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().code == ErrorCode::kConfig);
    CHECK_MESSAGE(config.error().message.find(c.error) != std::string::npos,
                  config.error().message);
  }
}

}  // namespace eso::kube
