#include "test/cli/cluster_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

extern char** environ;

namespace eso::test {
std::string kubectl_binary() {
  const char* k = std::getenv("ESO_TEST_KUBECTL");
  return k != nullptr ? k : "kubectl";
}

namespace {

void drain(int fd, std::string& into, bool& open) {
  char buf[65536];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) into.append(buf, static_cast<size_t>(n));
  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) open = false;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env, const std::string& input,
                          int timeout_seconds) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(in_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  // extra_env replaces inherited variables of the same name.
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=') + 1); };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const bool replaced =
        std::any_of(extra_env.begin(), extra_env.end(),
                    [&](const std::string& x) { return name_of(x) == name_of(entry); });
    if (!replaced) env.push_back(entry);
  }
  for (const auto& e : extra_env) env.push_back(e);
  std::vector<char*> envp, args;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_pipe[0]);
  REQUIRE_MESSAGE(rc == 0, "cannot run ", argv[0]);
  (void)!::write(in_pipe[1], input.data(), input.size());
  ::close(in_pipe[1]);

  ProcessResult result;
  bool out_open = true, err_open = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    if (::poll(fds, 2, 200) <= 0) continue;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP)) != 0)
      drain(out_pipe[0], result.out, out_open);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP)) != 0)
      drain(err_pipe[0], result.err, err_open);
  }
  if (out_open || err_open) ::kill(pid, SIGKILL);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& extra_env,
                                     const std::string& stderr_file) {
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& e : extra_env) env.push_back(e);
  std::vector<char*> envp;
  // Later entries win for getenv in our programs only if earlier ones are gone: put extras first.
  for (auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  for (size_t i = 0; i + extra_env.size() < env.size(); ++i) envp.push_back(env[i].data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stderr_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
  }
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "cannot run ", argv[0]);
  pid_ = pid;
}

void BackgroundProcess::signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

int BackgroundProcess::wait(int timeout_seconds) {
  if (pid_ <= 0) return -1;
  int status = 0;
  for (int i = 0; i < timeout_seconds * 20; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ::usleep(50000);
  }
  return -1;
}

int BackgroundProcess::stop(int signal, int timeout_seconds) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  if (const int code = wait(timeout_seconds); code != -1 || pid_ <= 0) return code;
  int status = 0;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) stop(SIGTERM);
}

std::unique_ptr<BackgroundProcess> start_eso_player(const std::string& namespace_name) {
  const char* player = std::getenv("ESO_TEST_ESO_PLAYER");
  REQUIRE_MESSAGE(player != nullptr, "ESO_TEST_ESO_PLAYER is not set (scripts/test sets it)");
  return std::make_unique<BackgroundProcess>(
      std::vector<std::string>{player, "--kubeconfig", std::getenv("KUBECONFIG"), "--namespace",
                               namespace_name, "--duration", "90s"});
}

ExtraCluster::ExtraCluster(std::vector<std::string> env) {
  state_ = make_temp_dir("eso-extra");
  env.push_back("ESO_TEST_CLUSTER_DIR=" + state_);
  env_ = std::move(env);
  const auto r = run_process({std::string(ESO_SOURCE_DIR) + "/test/cluster/up"}, env_, "", 300);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  kubeconfig_ = state_ + "/kubeconfig";
}

ExtraCluster::~ExtraCluster() {
  run_process({std::string(ESO_SOURCE_DIR) + "/test/cluster/down"}, env_);
}

std::string ExtraCluster::kubectl_here(std::vector<std::string> args,
                                       const std::string& input) const {
  args.insert(args.begin(), {"--kubeconfig", kubeconfig_});
  return kubectl(args, input);
}

ProcessResult eso_updater(const std::vector<std::string>& args,
                          const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv{ESO_UPDATER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, extra_env);
}

std::string kubectl(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{kubectl_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, {}, input);
  REQUIRE_MESSAGE(r.exit_code == 0, "kubectl ", fmt::format("{}", fmt::join(args, " ")),
                  " failed: ", r.err);
  return r.out;
}

std::string unique_namespace(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const auto run_id = std::random_device{}() % 1000000;
  const std::string name =
      fmt::format("{}-{}-{}-{}", prefix, ::getpid() % 100000, run_id, counter++);
  kubectl({"create", "namespace", name});
  return name;
}

std::string external_secret_yaml(const std::string& namespace_name, const std::string& name,
                                 const std::vector<std::string>& keys,
                                 const std::string& extra_spec) {
  std::string yaml = fmt::format(
      "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: \"{}\"\n"
      "  namespace: \"{}\"\nspec:\n  secretStoreRef: {{name: akeyless, kind: SecretStore}}\n"
      "  target: {{name: \"{}\"}}\n",
      name, namespace_name, name);
  yaml += extra_spec;
  if (!keys.empty()) yaml += "  data:\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    yaml += fmt::format("  - secretKey: k{}\n    remoteRef: {{key: \"{}\"}}\n", i, keys[i]);
  }
  return yaml + "---\n";
}

void create_ces_with_children(const std::string& ces, const std::string& key,
                              const std::vector<std::string>& namespaces) {
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\n"
                      "metadata: {{name: {}}}\nspec:\n  namespaceSelectors:\n"
                      "  - matchLabels: {{eso-test: {}}}\n  externalSecretSpec:\n"
                      "    secretStoreRef: {{name: global, kind: ClusterSecretStore}}\n"
                      "    target: {{name: shared}}\n    data:\n    - secretKey: p\n"
                      "      remoteRef: {{key: \"{}\"}}\n",
                      ces, ces, key));
  const std::string uid =
      kubectl({"get", "clusterexternalsecret", ces, "-o", "jsonpath={.metadata.uid}"});
  for (const auto& ns : namespaces) {
    kubectl({"apply", "-f", "-"},
            fmt::format("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n"
                        "  name: {}\n  namespace: {}\n  ownerReferences:\n"
                        "  - {{apiVersion: external-secrets.io/v1, kind: ClusterExternalSecret, "
                        "name: {}, uid: {}, controller: true}}\nspec:\n"
                        "  secretStoreRef: {{name: global, kind: ClusterSecretStore}}\n"
                        "  target: {{name: shared}}\n  data:\n  - secretKey: p\n"
                        "    remoteRef: {{key: \"{}\"}}\n",
                        ces, ns, ces, uid, key));
  }
}

void mark_synced(const std::string& namespace_name, const std::string& name) {
  kubectl({"patch", "externalsecret", name, "-n", namespace_name, "--subresource=status",
           "--type=merge", "-p", R"({"status":{"syncedResourceVersion":"1-0123456789abcdef"}})"});
}

rapidjson::Document get_object(const std::string& resource, const std::string& namespace_name,
                               const std::string& name) {
  const std::string json = kubectl({"get", resource, name, "-n", namespace_name, "-o", "json"});
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::string annotation(const rapidjson::Document& object, const std::string& key) {
  const auto& metadata = object["metadata"];
  if (!metadata.HasMember("annotations")) return "";
  const auto& annotations = metadata["annotations"];
  auto it = annotations.FindMember(key.c_str());
  return it == annotations.MemberEnd() ? "" : it->value.GetString();
}

void require_test_cluster() {
  const char* kubeconfig = std::getenv("KUBECONFIG");
  const std::string path = kubeconfig == nullptr ? "" : kubeconfig;
  const auto refuse = [&](const std::string& why) {
    std::cerr << "refusing to run cluster tests: " << why
              << "\nStart the test cluster with `eval \"$(test/cluster/up | tail -n 1)\"`.\n";
    std::exit(2);
  };
  if (path.empty()) refuse("KUBECONFIG is not set");
  if (path.find(':') != std::string::npos) refuse("KUBECONFIG names more than one file: " + path);
  const std::string marker_file =
      std::filesystem::path(path).parent_path().string() + "/eso-updater-test-cluster";
  std::ifstream marker_in(marker_file);
  std::string marker;
  if (!(marker_in >> marker)) refuse(path + " is not a test cluster's (no " + marker_file + ")");
  if (marker.rfind("https://127.0.0.1:", 0) != 0 && marker.rfind("https://[::1]:", 0) != 0) {
    refuse("the marked server " + marker + " is not on loopback");
  }
  std::ifstream in(path);
  std::string line;
  int servers = 0;
  while (std::getline(in, line)) {
    const auto at = line.find("server: ");
    if (at == std::string::npos) continue;
    ++servers;
    if (line.substr(at + 8) != marker) refuse(path + " names a server other than " + marker);
  }
  if (servers == 0) refuse(path + " names no server");
}

bool lists_only(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    arg = arg.substr(0, arg.find('='));
    if (arg.rfind("--dt-", 0) == 0) arg = "--" + arg.substr(5);
    for (const char* option :
         {"--list-test-cases", "-ltc", "--list-test-suites", "-lts", "--list-reporters", "-lr",
          "--count", "-c", "--help", "-h", "-?", "--version", "-v"}) {
      if (arg == option) return true;
    }
  }
  return false;
}

std::string cluster_state_dir() {
  const char* kubeconfig = std::getenv("KUBECONFIG");
  REQUIRE_MESSAGE(kubeconfig != nullptr,
                  "KUBECONFIG is not set: start the test cluster with test/cluster/up");
  return std::filesystem::path(kubeconfig).parent_path().string();
}

std::string static_token(const std::string& user) {
  std::ifstream in(cluster_state_dir() + "/tokens.csv");
  std::string line;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    const auto second = line.find(',', comma + 1);
    if (line.substr(comma + 1, second - comma - 1) == user) return line.substr(0, comma);
  }
  FAIL("no token for ", user);
  return "";
}

std::string cluster_server() {
  return kubectl({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"});
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

namespace {

// Every temporary directory the tests made, removed by remove_temp_dirs().
std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

}  // namespace

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  static std::mutex mu;
  std::lock_guard lock(mu);
  temp_dirs().push_back(tmpl);
  return tmpl;
}

void remove_temp_dirs() {
  for (const auto& dir : temp_dirs()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  temp_dirs().clear();
}

int run_and_clean_up(doctest::Context& context) {
  const int result = context.run();
  if (result == 0 && !context.shouldExit()) remove_temp_dirs();
  return result;
}

std::string write_temp_file(const std::string& name, const std::string& content) {
  const std::string dir = make_temp_dir("eso-test");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << content;
  return path;
}

double apiserver_requests(const std::string& verb, const std::string& resource) {
  const std::string metrics = kubectl({"get", "--raw", "/metrics"});
  const std::string verb_label = "verb=\"" + verb + "\"";
  const std::string resource_label = "resource=\"" + resource + "\"";
  double total = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("apiserver_request_total{", 0) == 0 && contains(line, verb_label) &&
        contains(line, resource_label)) {
      total += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return total;
}

}  // namespace eso::test
