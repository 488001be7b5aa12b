// The serve binary as tests run it: on 127.0.0.1:0, curl as the client, and a check that its log
// holds none of the secrets it was given or a client sent.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/base64.h"
#include "test/cli/cluster_fixture.h"

namespace eso::test {

using namespace std::chrono_literals;

struct HttpReply {
  int status = 0;
  std::string body;
};

// The serve binary on 127.0.0.1:0 with Basic credentials hook:s3cret.
class Server {
 public:
  explicit Server(std::vector<std::string> args, std::vector<std::string> serve_args = {},
                  std::vector<std::string> env = {}, bool wait_ready = true) {
    port_file_ = write_temp_file("port", "");
    std::filesystem::remove(port_file_);
    std::vector<std::string> argv{ESO_UPDATER_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* a : {"serve", "--listen", "127.0.0.1:0", "--port-file"}) argv.emplace_back(a);
    argv.push_back(port_file_);
    argv.insert(argv.end(), serve_args.begin(), serve_args.end());
    env.push_back("BASIC_AUTH_USER=hook");
    env.push_back("BASIC_AUTH_PASSWORD=s3cret");
    for (const auto& e : env) {
      const auto eq = e.find('=');
      if (is_secret_variable(e.substr(0, eq))) secret(e.substr(eq + 1));
    }
    secret(eso::base64_encode("hook:s3cret"));
    log_file_ = port_file_ + ".log";
    process_ = std::make_unique<BackgroundProcess>(argv, env, log_file_);
    for (int i = 0; i < 200 && port_.empty(); ++i) {
      std::this_thread::sleep_for(50ms);
      if (std::filesystem::exists(port_file_)) port_ = read_file_text(port_file_);
    }
    REQUIRE_MESSAGE(!port_.empty(), "serve did not start");
    if (wait_ready) REQUIRE(ready(20));
  }

  bool ready(int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (get("/readyz").status == 200) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // The log must hold none of the secrets serve was given or a client sent (issue 17).
  ~Server() {
    process_->stop(SIGTERM);
    const std::string text = log();
    for (size_t i = 0; i < secrets_.size(); ++i) {
      // The secret itself is never printed, only which one it was.
      CHECK_MESSAGE(!contains(text, secrets_[i]), "secret #", i, " (", secrets_[i].size(),
                    " bytes) appears in serve's log ", log_file_);
    }
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Also look for `value` in the log when the server is stopped (a credential a test used).
  void secret(const std::string& value) {
    if (!value.empty()) secrets_.push_back(value);
  }

  HttpReply request(const std::vector<std::string>& curl_args) {
    note_sent_credentials(curl_args);
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "60",
                                  "-o",   "-",   "-w",         "\n%{http_code}"};
    argv.insert(argv.end(), curl_args.begin(), curl_args.end());
    const auto r = run_process(argv);
    const auto nl = r.out.rfind('\n');
    HttpReply reply;
    reply.body = r.out.substr(0, nl);
    reply.status = std::atoi(r.out.substr(nl + 1).c_str());
    return reply;
  }
  HttpReply get(const std::string& path) { return request({url(path)}); }
  HttpReply post(const std::string& path, const std::string& body,
                 const std::string& user = "hook:s3cret") {
    return request(
        {"-u", user, "-H", "Content-Type: application/json", "--data-binary", body, url(path)});
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + port_ + path; }
  const std::string& port() const { return port_; }
  int stop(int signal) { return process_->stop(signal); }
  void signal(int signal) const { process_->signal(signal); }
  int wait(int seconds) { return process_->wait(seconds); }
  std::string log() const { return read_file_text(log_file_); }

  double metric(const std::string& name) {
    const std::string text = get("/metrics").body;
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

 private:
  static bool is_secret_variable(const std::string& name) {
    for (const char* n : {"BASIC_AUTH_PASSWORD", "WEBHOOK_BEARER_TOKEN", "WEBHOOK_API_KEY",
                          "DOPPLER_WEBHOOK_SECRET", "INFISICAL_WEBHOOK_SECRET", "TRIGGER_TOKEN",
                          "ESO_UPDATER_TOKEN"}) {
      if (name == n) return true;
    }
    return false;
  }

  // What a client sends as a credential counts as a secret too, right or wrong: -u's password
  // (and the Basic header it makes), a Bearer token, an API-key header.
  void note_sent_credentials(const std::vector<std::string>& args) {
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      const std::string& v = args[i + 1];
      if (args[i] == "-u" && v.find(':') != std::string::npos) {
        secret(v.substr(v.find(':') + 1));
        secret(eso::base64_encode(v));
      }
      if (args[i] != "-H") continue;
      for (const char* prefix :
           {"Authorization: Bearer ", "Authorization: Basic ", "X-Api-Key: "}) {
        if (v.rfind(prefix, 0) == 0) secret(v.substr(std::string_view(prefix).size()));
      }
    }
  }

  std::string port_file_;
  std::string log_file_;
  std::string port_;
  std::vector<std::string> secrets_;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace eso::test
