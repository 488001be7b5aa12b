#pragma once
// For the TLS tests: certificates made with the openssl command in a temporary directory, and
// serve's listener with TLS on 127.0.0.1:0.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "server/http_server.h"

namespace eso::http {

// The command's output and errors.
inline std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

// A CA, a server certificate for 127.0.0.1 with common name `cn`, and a client certificate.
struct Pki {
  std::string dir;
  explicit Pki(const std::string& name) {
    dir = (std::filesystem::temp_directory_path() /
           ("eso-tls-" + name + "-" + std::to_string(::getpid())))
              .string();
    std::filesystem::create_directories(dir);
    run("cd " + dir +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2"
        " -subj /CN=test-ca"
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt"
        " -days 2 -subj /CN=other-ca");
    issue("server", "server-one", "-addext subjectAltName=IP:127.0.0.1");
    issue("client", "akeyless-forwarder", "");
    issue("stranger", "stranger", "", "other-ca");
  }
  // Signs NAME.crt (CN=cn) with the CA; the server certificate gets the SAN.
  void issue(const std::string& name, const std::string& cn, const std::string& ext,
             const std::string& ca = "ca") {
    run("cd " + dir + " && openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " +
        name + ".csr -subj /CN=" + cn + " " + ext + " && openssl x509 -req -in " + name +
        ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -days 2 -copy_extensions"
        " copyall -out " +
        name + ".crt");
    REQUIRE(std::filesystem::exists(dir + "/" + name + ".crt"));
  }
  std::string file(const std::string& name) const { return dir + "/" + name; }
  ~Pki() { std::filesystem::remove_all(dir); }
};

/// serve's HTTP listener with TLS on 127.0.0.1:0, answering with a handler of type `H`, in a
/// thread of its own until destroyed.
template <class H>
struct TlsTestServer {
  H handler;
  std::atomic<bool> stop{false};
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;

  explicit TlsTestServer(std::shared_ptr<TlsContext> tls) {
    ServerOptions options;
    options.listen = {"127.0.0.1:0"};
    options.phase_timeout = std::chrono::milliseconds(2000);
    options.tls = std::move(tls);
    server = std::make_unique<HttpServer>(options, handler);
    auto ports = server->bind();
    REQUIRE(ports.ok());
    port = ports->front();
    thread = std::thread([this] { server->serve(stop, std::chrono::milliseconds(2000)); });
  }
  ~TlsTestServer() {
    stop = true;
    thread.join();
  }
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(port) + "/x";
  }
};

}  // namespace eso::http
