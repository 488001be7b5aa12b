#include "test/cli/real_eso.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/base64.h"

extern char** environ;

namespace eso::test {
namespace {

namespace fs = std::filesystem;

std::string secret_server_binary() {
  if (const char* s = std::getenv("ESO_TEST_SECRET_SERVER")) return s;
  const char* kubectl = std::getenv("ESO_TEST_KUBECTL");
  REQUIRE_MESSAGE(kubectl != nullptr,
                  "ESO_TEST_SECRET_SERVER is not set (scripts/test sets it to the secret-server "
                  "that ESO_CONTROLLER=real test/cluster/build builds)");
  return (fs::path(kubectl).parent_path() / "secret-server").string();
}

// The secret server's file name for a key (test/cluster/secretserver/main.go, fileName).
std::string key_file_name(const std::string& key) {
  std::string name;
  for (const char c : key) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    name += keep ? c : '_';
  }
  return name.empty() || name == "." || name == ".." ? "_" : name;
}

void write_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    REQUIRE_MESSAGE(out.good(), "cannot write ", tmp);
  }
  fs::rename(tmp, path);
}

bool pid_alive(const std::string& pid_file) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0;
}

}  // namespace

bool real_controller_running() {
  const bool required = std::getenv("ESO_TEST_REAL_ESO") != nullptr &&
                        std::string(std::getenv("ESO_TEST_REAL_ESO")) == "1";
  const char* kubeconfig = std::getenv("KUBECONFIG");
  const bool running = kubeconfig != nullptr &&
                       pid_alive((fs::path(kubeconfig).parent_path() / "eso-controller.pid"));
  if (running) return true;
  REQUIRE_MESSAGE(!required,
                  "ESO_TEST_REAL_ESO=1 but the test cluster runs no real ESO controller: start it "
                  "with ESO_CONTROLLER=real test/cluster/up and point ESO_TEST_REAL_KUBECONFIG "
                  "(or KUBECONFIG) at that cluster");
  std::cout << "SKIP: the real ESO controller is not running (ESO_CONTROLLER=real "
               "test/cluster/up)\n";
  return false;
}

double eso_metric(const std::string& metric, const std::string& namespace_name,
                  const std::string& name, const std::string& label) {
  const std::string address = read_file_text(cluster_state_dir() + "/eso-controller.metrics");
  const auto r = run_process({"curl", "-sS", "--max-time", "10", "http://" + address + "/metrics"});
  REQUIRE_MESSAGE(r.exit_code == 0, "cannot read ESO's metrics: ", r.err);
  std::istringstream lines(r.out);
  std::string line;
  auto has_label = [](const std::string& labels, const std::string& want) {
    return contains(labels, "{" + want) || contains(labels, "," + want);
  };
  double sum = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(metric + "{", 0) != 0) continue;
    const auto close = line.find('}');
    const std::string labels = line.substr(metric.size(), close - metric.size() + 1);
    const double value = std::strtod(line.c_str() + close + 1, nullptr);
    if (name.empty()) {
      if (has_label(labels, label)) sum += value;
      continue;
    }
    if (has_label(labels, "name=\"" + name + "\"") &&
        has_label(labels, "namespace=\"" + namespace_name + "\"")) {
      return value;
    }
  }
  return sum;
}

SecretServer::SecretServer() {
  dir_ = make_temp_dir("eso-secrets");
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{secret_server_binary(), "-dir", dir_, "-hang", "30s"},
      std::vector<std::string>{}, dir_ + "/server.log");
  const bool listening =
      wait_until([&] { return fs::exists(dir_ + "/addr"); }, std::chrono::seconds(20));
  REQUIRE_MESSAGE(listening, "secret-server did not start; see ", dir_, "/server.log");
  address_ = read_file_text(dir_ + "/addr");
}

void SecretServer::set(const std::string& key, const std::string& value) {
  write_atomically(dir_ + "/values/" + key_file_name(key), value);
}

void SecretServer::set_mode(const std::string& mode) { write_atomically(dir_ + "/mode", mode); }

int SecretServer::reads(const std::string& key) const {
  std::ifstream in(dir_ + "/requests.log");
  const std::string name = key_file_name(key);
  int count = 0;
  std::string stamp, file, status;
  while (in >> stamp >> file >> status) count += file == name ? 1 : 0;
  return count;
}

bool SecretServer::wait_reads(const std::string& key, int at_least, int timeout_seconds) const {
  return wait_until([&] { return reads(key) >= at_least; }, std::chrono::seconds(timeout_seconds));
}

std::string SecretServer::provider_yaml() const {
  // ESO fills the template with the URL-escaped remote key; 3 s bounds a hanging read.
  return fmt::format(
      "  provider:\n    webhook:\n"
      "      url: \"http://{}/secret?key={{{{ .remoteRef.key }}}}\"\n"
      "      method: GET\n      timeout: 3s\n      result: {{}}\n",
      address_);
}

std::string SecretServer::store_yaml(const std::string& namespace_name,
                                     const std::string& name) const {
  return fmt::format(
             "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata:\n  name: {}\n"
             "  namespace: {}\nspec:\n",
             name, namespace_name) +
         provider_yaml();
}

std::string SecretServer::cluster_store_yaml(const std::string& name) const {
  return fmt::format(
             "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata:\n"
             "  name: {}\nspec:\n",
             name) +
         provider_yaml();
}

void apply_store_and_wait(const std::string& yaml, const std::string& kind,
                          const std::string& namespace_name, const std::string& name) {
  kubectl({"apply", "-f", "-"}, yaml);
  std::vector<std::string> args{"wait", "--for=condition=Ready", "--timeout=60s",
                                kind + "/" + name};
  if (!namespace_name.empty()) args.insert(args.end(), {"-n", namespace_name});
  kubectl(args);
}

std::string webhook_external_secret(const std::string& namespace_name, const std::string& name,
                                    const std::string& store, const std::string& key,
                                    const std::string& spec_extra) {
  const std::string target =
      contains(spec_extra, "  target:") ? "" : fmt::format("  target: {{name: {}}}\n", name);
  return fmt::format(
      "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: {}\n"
      "  namespace: {}\nspec:\n  secretStoreRef: {{name: {}, kind: SecretStore}}\n"
      "{}{}  data:\n  - secretKey: value\n    remoteRef: {{key: \"{}\"}}\n",
      name, namespace_name, store, target, spec_extra, key);
}

namespace {

// Runs `argv` (a `kubectl get -w`) and reads its output until a line equals `want`; the child is
// killed then, or at the deadline.
bool wait_for_line(const std::vector<std::string>& argv, const std::string& want,
                   int timeout_seconds) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  REQUIRE_MESSAGE(rc == 0, "cannot run ", argv[0]);
  std::string buffer;
  bool found = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (!found && std::chrono::steady_clock::now() < deadline) {
    pollfd fd{out[0], POLLIN, 0};
    if (::poll(&fd, 1, 200) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;  // kubectl ended
    buffer.append(chunk, static_cast<size_t>(n));
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
      found |= buffer.substr(0, nl) == want;
      buffer.erase(0, nl + 1);
    }
  }
  ::kill(pid, SIGTERM);
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return found;
}

}  // namespace

bool wait_secret_value(const std::string& namespace_name, const std::string& name,
                       const std::string& value, int timeout_seconds) {
  // A watch (kubectl wait cannot compare values holding '=', as base64 padding does).
  return wait_for_line(
      {kubectl_binary(), "get", "secrets", "-n", namespace_name, "--field-selector",
       "metadata.name=" + name, "--watch", "-o", "jsonpath={.data.value}{\"\\n\"}"},
      base64_encode(value), timeout_seconds);
}

std::string secret_value(const std::string& namespace_name, const std::string& name) {
  const auto r = run_process({kubectl_binary(), "get", "secret", name, "-n", namespace_name, "-o",
                              "jsonpath={.data.value}"});
  if (r.exit_code != 0) return "";
  auto decoded = base64_decode(r.out);
  return decoded ? *decoded : std::string("<not base64>");
}

bool wait_reconciled_after(const std::string& namespace_name, const std::string& name,
                           double before, int timeout_seconds, const std::string& controller) {
  const std::string metric =
      name.empty() ? "controller_runtime_reconcile_total" : "externalsecret_sync_calls_total";
  const std::string label = "controller=\"" + controller + "\"";
  return wait_until([&] { return eso_metric(metric, namespace_name, name, label) > before; },
                    std::chrono::seconds(timeout_seconds), std::chrono::milliseconds(100));
}

}  // namespace eso::test
