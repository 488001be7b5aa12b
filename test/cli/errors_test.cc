// Connection settings and failures, against the real API server: each failure must be a clear
// message and exit code, never a crash or a hang.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

// A kubeconfig with one context "t" whose cluster and user entries are the given YAML lines.
std::string write_kubeconfig(const std::string& cluster_lines, const std::string& user_lines) {
  const std::string yaml = fmt::format(
      "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n{}"
      "users:\n- name: u\n  user:\n{}contexts:\n- name: t\n  context: {{cluster: c, user: u}}\n",
      cluster_lines, user_lines);
  return write_temp_file("kubeconfig", yaml);
}

std::string ca_line() { return "    certificate-authority: " + cluster_state_dir() + "/ca.crt\n"; }

std::string token_user(const std::string& user) {
  return "    token: " + static_token(user) + "\n";
}

}  // namespace

TEST_CASE("a static bearer token authenticates") {
  const auto ns = unique_namespace("auth-token");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/tok"}));
  const auto config = write_kubeconfig("    server: " + cluster_server() + "\n" + ca_line(),
                                       token_user("eso-token-admin"));
  const auto r =
      eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/tok", "-o", "name"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "externalsecret.external-secrets.io/es\n");
}

TEST_CASE("client certificate and CA from files given by relative paths") {
  namespace fs = std::filesystem;
  const auto ns = unique_namespace("auth-cert");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/cert"}));
  const auto config = write_kubeconfig(
      "    server: " + cluster_server() + "\n    certificate-authority: pki/ca.crt\n",
      "    client-certificate: pki/admin.crt\n"
      "    client-key: pki/admin.key\n");
  const fs::path pki = fs::path(config).parent_path() / "pki";
  fs::create_directories(pki);
  for (const char* f : {"ca.crt", "admin.crt", "admin.key"}) {
    fs::copy_file(fs::path(cluster_state_dir()) / f, pki / f);
  }
  const auto r = eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/cert"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("tls-server-name verifies against a SAN that is not the address dialled") {
  const auto ns = unique_namespace("tls-name");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/sni"}));
  const auto good = write_kubeconfig("    server: " + cluster_server() + "\n" + ca_line() +
                                         "    tls-server-name: apiserver.eso-test.invalid\n",
                                     token_user("eso-token-admin"));
  const auto ok = eso_updater({"--kubeconfig", good, "match", "-n", ns, "-k", "/sni"});
  INFO(ok.err);
  CHECK(ok.exit_code == 0);

  const auto bad = write_kubeconfig("    server: " + cluster_server() + "\n" + ca_line() +
                                        "    tls-server-name: elsewhere.eso-test.invalid\n",
                                    token_user("eso-token-admin"));
  const auto fail = eso_updater({"--kubeconfig", bad, "match", "-n", ns, "-k", "/sni"});
  CHECK(fail.exit_code == 2);
  CHECK(contains(fail.err, "TLS verification"));
}

TEST_CASE("insecure-skip-tls-verify connects without a CA") {
  const auto ns = unique_namespace("tls-insecure");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/insecure"}));
  const auto config =
      write_kubeconfig("    server: " + cluster_server() + "\n    insecure-skip-tls-verify: true\n",
                       token_user("eso-token-admin"));
  const auto r = eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/insecure"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("an unreachable server is named with its context") {
  const std::string server = fmt::format("https://127.0.0.1:{}", free_loopback_port());
  const auto config =
      write_kubeconfig("    server: " + server + "\n" + ca_line(), token_user("eso-token-admin"));
  const auto r = eso_updater({"--kubeconfig", config, "match", "-k", "/x"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "cannot reach " + server + " (context t)"));
}

TEST_CASE("a server certificate from another CA is a TLS error naming the CA used") {
  const auto config =
      write_kubeconfig("    server: " + cluster_server() +
                           "\n    certificate-authority: " + cluster_state_dir() + "/admin.crt\n",
                       token_user("eso-token-admin"));
  const auto r = eso_updater({"--kubeconfig", config, "match", "-k", "/x"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "TLS verification of " + cluster_server()));
  CHECK(contains(r.err, "admin.crt"));
}

TEST_CASE("wrong credentials are a 401 message that never prints the token") {
  const auto config = write_kubeconfig("    server: " + cluster_server() + "\n" + ca_line(),
                                       "    token: not-a-valid-token-0123456789\n");
  const auto r = eso_updater({"--kubeconfig", config, "match", "-k", "/x"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "unauthorized"));
  CHECK(contains(r.err, "context t"));
  CHECK_FALSE(contains(r.err, "not-a-valid-token"));
}

TEST_CASE("RBAC denials name the verb, resource and namespace") {
  const auto ns = unique_namespace("rbac");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/rbac"}));
  const auto config = write_kubeconfig("    server: " + cluster_server() + "\n" + ca_line(),
                                       token_user("eso-token-user"));
  const auto denied_list = eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/rbac"});
  CHECK(denied_list.exit_code == 2);
  CHECK(contains(denied_list.err, "forbidden: cannot list externalsecrets in namespace " + ns));

  // Allowed to list but not to patch: the trigger fails per object, exit 3.
  kubectl({"create", "role", "list-only", "-n", ns, "--verb=list",
           "--resource=externalsecrets.external-secrets.io"});
  kubectl({"create", "rolebinding", "list-only", "-n", ns, "--role=list-only",
           "--user=eso-token-user"});
  ProcessResult denied_patch;
  for (int i = 0; i < 50; ++i) {  // RBAC caches catch up within moments
    denied_patch = eso_updater({"--kubeconfig", config, "trigger", "-n", ns, "-k", "/rbac"});
    if (denied_patch.exit_code != 2) break;
    usleep(100000);
  }
  INFO(denied_patch.err);
  CHECK(denied_patch.exit_code == 3);
  CHECK(contains(denied_patch.err, "cannot patch externalsecrets in namespace " + ns));
  CHECK(contains(denied_patch.out, "failed"));
}

TEST_CASE("a server that does not serve external-secrets.io is a 404 with advice") {
  // The real API server, under a path where no API group lives.
  const auto config =
      write_kubeconfig("    server: " + cluster_server() + "/no-such-prefix\n" + ca_line(),
                       token_user("eso-token-admin"));
  const auto r = eso_updater({"--kubeconfig", config, "match", "-k", "/x"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "does not serve external-secrets.io"));
}

TEST_CASE("a missing --kubeconfig file and an unknown context are configuration errors") {
  const auto missing = eso_updater({"--kubeconfig", "/nonexistent/config", "match", "-k", "/x"});
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.err, "/nonexistent/config"));
  const auto context = eso_updater({"--context", "no-such-context", "match", "-k", "/x"});
  CHECK(context.exit_code == 2);
  CHECK(contains(context.err, "context \"no-such-context\" not found"));
}

}  // namespace eso::test
