// `eso-updater serve` end to end: the built binary, curl as the webhook sender, the real API
// server, and the objects read back with kubectl.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

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

  HttpReply request(const std::vector<std::string>& curl_args) {
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
  int stop(int signal) { return process_->stop(signal); }
  std::string log() const { return read_file_text(log_file_); }

  double metric(const std::string& name) {
    const std::string text = get("/metrics").body;
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

 private:
  std::string port_file_;
  std::string log_file_;
  std::string port_;
  std::unique_ptr<BackgroundProcess> process_;
};

std::vector<std::string> names_in(const std::string& json, const char* list) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  std::vector<std::string> out;
  for (const auto& o : doc[list].GetArray()) {
    out.push_back(std::string(o["namespace"].GetString()) + "/" + o["name"].GetString());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("serve patches exactly the objects an Akeyless event names, found through the watch") {
  const auto a = unique_namespace("serve-a");
  const auto b = unique_namespace("serve-b");
  const std::string key = "/serve/" + a;
  kubectl({"apply", "-f", "-"}, external_secret_yaml(a, "db", {key}) +
                                    external_secret_yaml(b, "db", {key}) +
                                    external_secret_yaml(a, "other", {"/serve/other"}));
  Server server({"-n", a + "," + b});

  const std::string event = fmt::format(
      R"([{{"item_name":"{}","event_type":"static-secret-updated","event_id":12,"payload":{{"v":[1]}}}},
          {{"item_name":"{}","event_type":"static-secret-updated"}},
          {{"item_name":"/x","event_type":"certificate-expired"}}])",
      key, key);
  const auto reply = server.post("/webhook", event);
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  CHECK(names_in(reply.body, "patched") == std::vector<std::string>{a + "/db", b + "/db"});
  CHECK(contains(reply.body, R"("events":3)"));
  CHECK(contains(reply.body, "certificate-expired"));
  const auto stamp = annotation(get_object("externalsecret", a, "db"), "force-sync");
  CHECK(stamp.size() == 30);
  CHECK_FALSE(annotation(get_object("externalsecret", b, "db"), "force-sync").empty());
  CHECK(annotation(get_object("externalsecret", a, "other"), "force-sync").empty());
  CHECK(server.metric("eso_updater_event_lists_total") == 0);  // the index answered

  // Created after start: found through the watch. Deleted: no longer patched.
  kubectl({"apply", "-f", "-"}, external_secret_yaml(b, "late", {key}));
  kubectl({"delete", "externalsecret", "db", "-n", a});
  std::vector<std::string> patched;
  for (int i = 0; i < 50; ++i) {
    const auto again = server.post("/webhook/akeyless", R"({"item_name":")" + key + R"("})");
    REQUIRE(again.status == 200);
    patched = names_in(again.body, "patched");
    if (patched == std::vector<std::string>{b + "/db", b + "/late"}) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(patched == std::vector<std::string>{b + "/db", b + "/late"});
  CHECK(server.metric("eso_updater_event_lists_total") == 0);
  CHECK(server.metric("eso_updater_index_lists_total") == 2);  // one LIST per namespace, once
  const std::string metrics = server.get("/metrics").body;
  CHECK(contains(
      metrics,
      R"(eso_updater_events_by_type_total{source="akeyless",type="static-secret-updated"} 2)"));
  CHECK(contains(
      metrics,
      R"(eso_updater_events_by_type_total{source="akeyless",type="certificate-expired"} 1)"));
  CHECK(contains(metrics, R"(eso_updater_patches_total{result="succeeded"})"));
  // One access-log line per request and one per patch; never the credentials.
  const std::string log = server.log();
  CHECK(contains(log, "POST /webhook 200"));
  CHECK(contains(log, "patch ExternalSecret/" + b + "/db force-sync patched"));
  CHECK_FALSE(contains(log, "s3cret"));
  CHECK_FALSE(contains(log, "aG9vazpzM2NyZXQ"));  // base64 of hook:s3cret
}

TEST_CASE("serve refuses what it cannot use, with clear statuses") {
  const auto ns = unique_namespace("serve-bad");
  Server server({"-n", ns});
  CHECK(server.post("/webhook", R"({"keys":["/x"]})", "hook:wrong").status == 401);
  CHECK(server.post("/webhook", R"({"keys":["/x"]})", "nobody:s3cret").status == 401);
  const auto no_auth = server.request({"--data-binary", "{}", server.url("/webhook")});
  CHECK(no_auth.status == 401);
  const auto malformed = server.post("/webhook", "{not json");
  CHECK(malformed.status == 400);
  CHECK(contains(malformed.body, "malformed JSON"));
  CHECK(server.post("/webhook", R"({"unrelated":1})").status == 422);
  CHECK(server.post("/webhook/doppler-ish", R"({"keys":["/x"]})").status == 404);
  CHECK(server
            .request({"-u", "hook:s3cret", "-H", "Content-Type: text/xml", "--data-binary", "<a/>",
                      server.url("/webhook")})
            .status == 415);
  CHECK(server.get("/webhook").status == 405);
  CHECK(server.get("/nope").status == 404);
  CHECK(server.get("/healthz").status == 200);
  CHECK(server.metric("eso_updater_auth_failures_total") == 3);
  CHECK(server.post("/webhook", R"({"keys":["/nothing/here"]})").status == 200);
}

TEST_CASE("serve will not start without credentials unless told so") {
  const auto r = run_process({ESO_UPDATER_BINARY, "serve", "--listen", "127.0.0.1:0"},
                             {"BASIC_AUTH_USER=", "BASIC_AUTH_PASSWORD="});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--insecure-no-auth"));
}

TEST_CASE("--no-index lists per event and still patches") {
  const auto ns = unique_namespace("serve-noindex");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/noindex"}));
  Server server({"-n", ns}, {"--no-index"});
  const auto reply = server.post("/webhook", R"({"keys":["noindex"]})");
  CHECK(reply.status == 200);
  CHECK(names_in(reply.body, "patched") == std::vector<std::string>{ns + "/db"});
  CHECK(server.metric("eso_updater_event_lists_total") == 1);
}

TEST_CASE("SIGTERM drains and exits 0") {
  const auto ns = unique_namespace("serve-term");
  Server server({"-n", ns});
  CHECK(server.get("/healthz").status == 200);
  CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("API server down gives 503 with Retry-After, and once it is back the index re-syncs") {
  ExtraCluster cluster({});
  cluster.kubectl_here({"create", "namespace", "outage"});
  cluster.kubectl_here({"apply", "-f", "-"}, external_secret_yaml("outage", "db", {"/outage"}));
  Server server({"--kubeconfig", cluster.kubeconfig(), "-n", "outage"});
  REQUIRE(server.post("/webhook", R"({"keys":["/outage"]})").status == 200);

  const auto env = std::vector<std::string>{"ESO_TEST_CLUSTER_DIR=" + cluster.state_dir()};
  REQUIRE(
      run_process({std::string(ESO_SOURCE_DIR) + "/test/cluster/restart-apiserver", "stop"}, env)
          .exit_code == 0);
  HttpReply down;
  for (int i = 0; i < 100; ++i) {  // until the reflector has noticed, or patches fail
    down = server.post("/webhook", R"({"keys":["/outage"]})");
    if (down.status == 503) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(down.status == 503);
  const auto with_headers =
      run_process({"curl", "-sS", "-i", "--max-time", "60", "-u", "hook:s3cret", "-H",
                   "Content-Type: application/json", "--data-binary", R"({"keys":["/outage"]})",
                   server.url("/webhook")});
  INFO(with_headers.out, with_headers.err);
  CHECK(with_headers.out.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(contains(with_headers.out, "Retry-After: 5"));
  CHECK(server.get("/readyz").status == 503);

  REQUIRE(run_process({std::string(ESO_SOURCE_DIR) + "/test/cluster/restart-apiserver"}, env)
              .exit_code == 0);
  REQUIRE(server.ready(30));
  const auto up = server.post("/webhook", R"({"keys":["/outage"]})");
  INFO(up.body);
  CHECK(up.status == 200);
  CHECK(names_in(up.body, "patched") == std::vector<std::string>{"outage/db"});
}

}  // namespace eso::test
