// Where kubectl works, eso-updater works: through an HTTP proxy, in a pod with a real
// service-account token and a least-privilege Role, and under API Priority and Fairness 429s.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

namespace fs = std::filesystem;

bool accepting(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string api_port() {
  const std::string server = cluster_server();
  return server.substr(server.rfind(':') + 1);
}

}  // namespace

TEST_CASE("proxy-url sends every request through a real HTTP proxy (tinyproxy)") {
  const auto ns = unique_namespace("proxy");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/proxy"}));
  const int port = free_loopback_port();
  const fs::path dir = fs::path(write_temp_file("tinyproxy.conf", "")).parent_path();
  std::ofstream(dir / "tinyproxy.conf") << fmt::format(
      "Port {}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nConnectPort {}\n"
      "LogFile \"{}\"\nLogLevel Info\nMaxClients 20\n",
      port, api_port(), (dir / "proxy.log").string());
  BackgroundProcess proxy({"tinyproxy", "-d", "-c", (dir / "tinyproxy.conf").string()});
  for (int i = 0; i < 50 && !accepting(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(accepting(port));

  const auto config = write_temp_file(
      "kubeconfig",
      fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}, "
                  "certificate-authority: {}/ca.crt, proxy-url: 'http://127.0.0.1:{}'}}\nusers:\n"
                  "- name: u\n  user: {{token: {}}}\ncontexts:\n- name: t\n"
                  "  context: {{cluster: c, user: u}}\n",
                  cluster_server(), cluster_state_dir(), port, static_token("eso-token-admin")));
  // NO_PROXY does not apply to proxy-url, as in client-go.
  const auto r = eso_updater({"--kubeconfig", config, "trigger", "-n", ns, "-k", "/proxy"},
                             {"NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "es"), "force-sync").empty());
  CHECK(contains(read_file_text(dir / "proxy.log"), "CONNECT 127.0.0.1:" + api_port()));
}

TEST_CASE("in a pod: a TokenRequest service-account token, a least-privilege Role, and a 403") {
  const auto ns = unique_namespace("in-cluster");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/pod"}));
  kubectl({"create", "serviceaccount", "eso-updater", "-n", ns});
  kubectl({"create", "role", "eso-updater", "-n", ns, "--verb=get,list,watch,patch",
           "--resource=externalsecrets.external-secrets.io"});
  kubectl({"create", "rolebinding", "eso-updater", "-n", ns, "--role=eso-updater",
           "--serviceaccount=" + ns + ":eso-updater"});
  std::string token = kubectl({"create", "token", "eso-updater", "-n", ns, "--duration=10m"});
  while (!token.empty() && token.back() == '\n') token.pop_back();
  const fs::path sa = fs::path(write_temp_file("token", token)).parent_path();
  fs::copy_file(fs::path(cluster_state_dir()) / "ca.crt", sa / "ca.crt");
  std::ofstream(sa / "namespace") << ns;
  const std::vector<std::string> pod_env{
      "KUBECONFIG=", "HOME=/nonexistent", "KUBERNETES_SERVICE_HOST=127.0.0.1",
      "KUBERNETES_SERVICE_PORT=" + api_port(), "ESO_SERVICE_ACCOUNT_DIR=" + sa.string()};

  ProcessResult r;
  for (int i = 0; i < 50; ++i) {  // the RoleBinding reaches the authorizer's cache within moments
    r = eso_updater({"trigger", "-k", "/pod", "-o", "name"}, pod_env);
    if (r.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "externalsecret.external-secrets.io/es\n");
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "es"), "force-sync").empty());

  const auto denied = eso_updater({"match", "-A", "-k", "/pod"}, pod_env);
  CHECK(denied.exit_code == 2);
  CHECK(contains(denied.err, "forbidden: cannot list externalsecrets at cluster scope"));
  CHECK(contains(denied.err, "system:serviceaccount:" + ns + ":eso-updater"));
  CHECK_FALSE(contains(denied.err, token));
}

TEST_CASE("429s from API Priority and Fairness are ridden out with Retry-After") {
  const auto ns = unique_namespace("apf");
  const std::string level = "tiny-" + ns;
  std::string manifests;
  for (int i = 0; i < 60; ++i)
    manifests += external_secret_yaml(ns, fmt::format("es-{}", i), {"/apf"});
  kubectl({"apply", "-f", "-"}, manifests);
  kubectl({"create", "serviceaccount", "victim", "-n", ns});
  kubectl({"create", "role", "victim", "-n", ns, "--verb=get,list,patch",
           "--resource=externalsecrets.external-secrets.io"});
  kubectl({"create", "rolebinding", "victim", "-n", ns, "--role=victim",
           "--serviceaccount=" + ns + ":victim"});
  // The smallest priority level there is, rejecting (not queueing) what does not fit.
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: "
                      "PriorityLevelConfiguration\nmetadata: {{name: {0}}}\nspec:\n  type: "
                      "Limited\n  limited:\n    nominalConcurrencyShares: 1\n    lendablePercent: "
                      "0\n    limitResponse: {{type: Reject}}\n---\napiVersion: "
                      "flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {{name: {0}}}\n"
                      "spec:\n  priorityLevelConfiguration: {{name: {0}}}\n  matchingPrecedence: "
                      "500\n  rules:\n  - subjects:\n    - kind: ServiceAccount\n"
                      "      serviceAccount: {{name: victim, namespace: {1}}}\n"
                      "    resourceRules:\n    - verbs: ['*']\n      apiGroups: ['*']\n"
                      "      resources: ['*']\n      namespaces: ['*']\n",
                      level, ns));
  std::string token = kubectl({"create", "token", "victim", "-n", ns});
  while (!token.empty() && token.back() == '\n') token.pop_back();
  const auto config = write_temp_file(
      "kubeconfig",
      fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}, "
                  "certificate-authority: {}/ca.crt}}\nusers:\n- name: u\n  user: {{token: {}}}\n"
                  "contexts:\n- name: t\n  context: {{cluster: c, user: u, namespace: {}}}\n",
                  cluster_server(), cluster_state_dir(), token, ns));
  auto rejected = [&] {
    const std::string metrics = kubectl({"get", "--raw", "/metrics"});
    double total = 0;
    std::istringstream lines(metrics);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("apiserver_flowcontrol_rejected_requests_total{", 0) == 0 &&
          contains(line, "priority_level=\"" + level + "\"")) {
        total += std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return total;
  };

  double rejections = 0;
  std::chrono::steady_clock::duration took{};
  for (int round = 0; round < 5 && rejections == 0; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = eso_updater(
        {"--kubeconfig", config, "trigger", "-k", "/apf", "--concurrency", "60", "-o", "name"});
    took = std::chrono::steady_clock::now() - start;
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    int lines = 0;
    for (char c : r.out) lines += c == '\n' ? 1 : 0;
    CHECK(lines == 60);
    rejections = rejected();
  }
  CHECK(rejections > 0);  // the server did say 429, and every patch still went through
  // The run that was rejected waited out APF's Retry-After (1 s) before trying again, and was not
  // stuck for long.
  CHECK(took >= std::chrono::seconds(1));
  CHECK(took < std::chrono::seconds(60));
  kubectl({"delete", "flowschema", level});
  kubectl({"delete", "prioritylevelconfiguration", level});
}

TEST_CASE("the API server sees the User-Agent eso-updater/VERSION (linux/ARCH)") {
  // A cluster of its own whose API server writes an audit log: each request's userAgent.
  const std::string policy =
      write_temp_file("audit-policy.yaml",
                      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n");
  const std::string audit_log = write_temp_file("audit.log", "");
  ExtraCluster cluster({fmt::format("ESO_APISERVER_ARGS=--audit-policy-file {} --audit-log-path {}",
                                    policy, audit_log)});
  const auto version = eso_updater({"version"});
  REQUIRE(version.exit_code == 0);
  REQUIRE(version.out.rfind("eso-updater ", 0) == 0);
  const std::string number = version.out.substr(12, version.out.find('\n') - 12);
  utsname host{};
  REQUIRE(::uname(&host) == 0);
  const std::string machine = host.machine;
  const std::string arch = machine == "x86_64" ? "amd64" : machine == "aarch64" ? "arm64" : machine;
  const std::string expected = fmt::format("eso-updater/{} (linux/{})", number, arch);

  const auto r =
      eso_updater({"match", "-A", "-k", "/user-agent"}, {"KUBECONFIG=" + cluster.kubeconfig()});
  INFO(r.err);
  REQUIRE(r.exit_code == 1);  // listed every namespace and matched nothing
  // The audit backend writes each event as the request completes; read until ours is there.
  int ours = 0;
  std::vector<std::string> agents;
  for (int attempt = 0; attempt < 100 && ours == 0; ++attempt) {
    agents.clear();
    std::istringstream lines(read_file_text(audit_log));
    for (std::string line; std::getline(lines, line);) {
      const auto at = line.find("\"userAgent\":\"eso-updater");
      if (at == std::string::npos) continue;
      const auto start = at + 13;
      agents.push_back(line.substr(start, line.find('"', start) - start));
      if (contains(line, "\"resource\":\"externalsecrets\"") && contains(line, "\"verb\":\"list\""))
        ++ours;
    }
    if (ours == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ours > 0);  // the LIST of ExternalSecrets, at least
  REQUIRE_FALSE(agents.empty());
  for (const auto& agent : agents) CHECK(agent == expected);
}

}  // namespace eso::test
