#include "kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/base64.h"
#include "core/rfc3339.h"

extern char** environ;

namespace eso::kube {
namespace {

constexpr size_t kMaxOutput = size_t{1} << 20;
constexpr auto kNonInteractiveTimeout = std::chrono::seconds(60);
constexpr auto kInteractiveTimeout = std::chrono::minutes(10);

std::string where(const ClientConfig& config) {
  return config.context_name.empty() ? config.source : "context " + config.context_name;
}

Error plugin_error(const ClientConfig& config, const std::string& what) {
  return Error{ErrorCode::kUnauthorized, fmt::format("exec credential plugin \"{}\" ({}): {}",
                                                     config.exec->command, where(config), what)};
}

// KUBERNETES_EXEC_INFO: the ExecCredential the plugin is asked to complete.
std::string exec_info(const ClientConfig& config, bool interactive) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("apiVersion");
  w.String(config.exec->api_version);
  w.Key("kind");
  w.String("ExecCredential");
  w.Key("spec");
  w.StartObject();
  w.Key("interactive");
  w.Bool(interactive);
  if (config.exec->provide_cluster_info) {
    w.Key("cluster");
    w.StartObject();
    w.Key("server");
    w.String(config.server);
    if (!config.tls_server_name.empty()) {
      w.Key("tls-server-name");
      w.String(config.tls_server_name);
    }
    w.Key("insecure-skip-tls-verify");
    w.Bool(config.insecure_skip_tls_verify);
    if (!config.ca_pem.empty()) {
      w.Key("certificate-authority-data");
      w.String(base64_encode(config.ca_pem));
    }
    if (!config.proxy_url.empty()) {
      w.Key("proxy-url");
      w.String(config.proxy_url);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

struct PluginRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Reads the plugin's stdout (and stderr when captured) until both close or the deadline.
void collect(int out_fd, int err_fd, std::chrono::steady_clock::time_point deadline,
             PluginRun& run) {
  bool out_open = true;
  bool err_open = err_fd >= 0;
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{out_open ? out_fd : -1, POLLIN, 0}, {err_open ? err_fd : -1, POLLIN, 0}};
    if (::poll(fds, 2, 200) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[8192];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      std::string& into = i == 0 ? run.out : run.err;
      if (n > 0 && into.size() < kMaxOutput) into.append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        (i == 0 ? out_open : err_open) = false;
    }
  }
  run.timed_out = out_open || err_open;
}

Result<PluginRun> spawn_plugin(const ClientConfig& config) {
  const ExecConfig& exec = *config.exec;
  const bool terminal = isatty(STDIN_FILENO) != 0;
  const bool interactive = exec.interactive_mode != "Never" && terminal;
  if (exec.interactive_mode == "Always" && !terminal) {
    return plugin_error(config, "needs a terminal (interactiveMode Always) but stdin is none");
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& [name, value] : exec.env) env.push_back(name + "=" + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + exec_info(config, interactive));
  std::vector<std::string> argv{exec.command};
  argv.insert(argv.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> envp, args;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return plugin_error(config, std::string("cannot create pipes: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!interactive) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (!interactive) posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    const std::string hint = exec.install_hint.empty() ? "" : "; " + exec.install_hint;
    return plugin_error(config, rc == ENOENT ? "not found" + hint
                                             : std::string("cannot run: ") + std::strerror(rc));
  }
  PluginRun run;
  const auto deadline = std::chrono::steady_clock::now() +
                        (interactive ? kInteractiveTimeout : kNonInteractiveTimeout);
  collect(out_pipe[0], interactive ? -1 : err_pipe[0], deadline, run);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (run.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.size() > 2000) s = s.substr(0, 2000) + "...";
  return s;
}

std::string json_string(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

Result<ExecCredential> run_exec_plugin(const ClientConfig& config) {
  auto run = spawn_plugin(config);
  if (!run) return run.error();
  if (run->timed_out) return plugin_error(config, "did not finish in time");
  if (run->exit_code != 0) {
    return plugin_error(
        config, fmt::format("exited with status {}: {}", run->exit_code, trimmed(run->err)));
  }
  rapidjson::Document doc;
  doc.Parse(run->out.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    return plugin_error(config, "printed something that is not an ExecCredential JSON object");
  }
  if (json_string(doc, "apiVersion") != config.exec->api_version) {
    return plugin_error(config,
                        fmt::format("answered apiVersion \"{}\", expected \"{}\"",
                                    json_string(doc, "apiVersion"), config.exec->api_version));
  }
  const auto status = doc.FindMember("status");
  if (status == doc.MemberEnd() || !status->value.IsObject()) {
    return plugin_error(config, "answered an ExecCredential without status");
  }
  ExecCredential credential;
  credential.token = json_string(status->value, "token");
  credential.client_cert_pem = json_string(status->value, "clientCertificateData");
  credential.client_key_pem = json_string(status->value, "clientKeyData");
  if (credential.token.empty() && credential.client_cert_pem.empty()) {
    return plugin_error(config, "answered neither a token nor a client certificate");
  }
  if (credential.client_cert_pem.empty() != credential.client_key_pem.empty()) {
    return plugin_error(config, "answered a client certificate without its key, or a key alone");
  }
  if (const std::string expiry = json_string(status->value, "expirationTimestamp");
      !expiry.empty()) {
    credential.expiry = parse_rfc3339(expiry);
    if (!credential.expiry) {
      return plugin_error(config, "answered an invalid expirationTimestamp \"" + expiry + "\"");
    }
  }
  return credential;
}

}  // namespace eso::kube
