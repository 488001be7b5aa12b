#include "kube/client_config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <doctest/doctest.h>

#include "core/base64.h"

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
  auto config = load_client_config({file, "", ""}, env_of({{"KUBECONFIG", "/nonexistent"}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://a:6443");
  CHECK(config->token == "tok-a");
  CHECK(config->context_name == "a-ctx");
  CHECK(config->namespace_name == "team");

  auto missing = load_client_config({(dir.path / "nope").string(), "", ""}, env_of({}));
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

  auto merged = load_client_config({}, env_of({{"KUBECONFIG", list}}));
  REQUIRE(merged.ok());
  CHECK(merged->context_name == "shared-ctx");
  CHECK(merged->server == "https://second:6443");  // trailing '/' dropped
  CHECK(merged->token == "first-token");
  CHECK(merged->namespace_name == "from-first");

  auto other = load_client_config({"", "other-ctx", "ns-flag"}, env_of({{"KUBECONFIG", list}}));
  REQUIRE(other.ok());
  CHECK(other->server == "https://other:6443");
  CHECK(other->token == "second-token");
  CHECK(other->namespace_name == "ns-flag");
}

TEST_CASE("namespace falls back to default") {
  TempDir dir;
  const auto file = dir.write("a", kubeconfig("a-ctx", "c", "https://a", "u", "t"));
  auto config = load_client_config({}, env_of({{"KUBECONFIG", file}}));
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
  auto config = load_client_config({file, "", ""}, env_of({}));
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
  auto config = load_client_config({file, "", ""}, env_of({}));
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
       "", "both a token and a username"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto file = dir.write(c.name, c.content);
    auto config = load_client_config({file, c.context, ""}, env_of({}));
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
  auto config = load_client_config({}, env_of({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                               {"KUBERNETES_SERVICE_PORT", "443"},
                                               {"ESO_SERVICE_ACCOUNT_DIR", sa}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://[fd00::1]:443");
  CHECK(config->token_file == sa + "/token");
  CHECK(config->ca_pem == "SA-CA");
  CHECK(config->namespace_name == "eso-system");

  // KUBECONFIG wins over in-cluster.
  const auto file = dir.write("k", kubeconfig("a", "c", "https://k", "u", "t"));
  auto from_file = load_client_config({}, env_of({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                  {"KUBERNETES_SERVICE_PORT", "443"},
                                                  {"ESO_SERVICE_ACCOUNT_DIR", sa},
                                                  {"KUBECONFIG", file}}));
  REQUIRE(from_file.ok());
  CHECK(from_file->server == "https://k");
}

TEST_CASE("~/.kube/config is the last resort, with a clear error when absent") {
  TempDir dir;
  dir.write(".kube/config", kubeconfig("h", "c", "https://home", "u", "t"));
  auto config = load_client_config({}, env_of({{"HOME", dir.path.string()}}));
  REQUIRE(config.ok());
  CHECK(config->server == "https://home");

  auto none = load_client_config({}, env_of({{"HOME", (dir.path / "empty").string()}}));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no Kubernetes configuration") != std::string::npos);
}

TEST_CASE("a KUBECONFIG list of only missing files is an error") {
  auto config = load_client_config({}, env_of({{"KUBECONFIG", "/nonexistent/a:/nonexistent/b"}}));
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().message.find("none of the files") != std::string::npos);
}

}  // namespace eso::kube
