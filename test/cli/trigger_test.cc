// `eso-updater trigger` as a user runs it; every assertion reads the objects back from the
// real API server.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

std::string resource_version(const rapidjson::Document& object) {
  return object["metadata"]["resourceVersion"].GetString();
}

bool managed_by_eso_updater(const rapidjson::Document& object) {
  const std::string managers =
      " " +
      kubectl({"get", "externalsecret", object["metadata"]["name"].GetString(), "-n",
               object["metadata"]["namespace"].GetString(), "--show-managed-fields", "-o",
               "jsonpath={.metadata.managedFields[*].manager}"}) +
      " ";
  return contains(managers, " eso-updater ");
}

}  // namespace

TEST_CASE("trigger annotates every match with a new value each run and leaves others alone") {
  const auto ns = unique_namespace("trigger");
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "db", {"/prod/db/pass"}) +
              external_secret_yaml(ns, "extract", {},
                                   "  dataFrom:\n  - extract: {key: prod/db/pass}\n") +
              external_secret_yaml(ns, "unrelated", {"/prod/else"}));
  const auto unrelated_before = resource_version(get_object("externalsecret", ns, "unrelated"));

  const auto first = eso_updater({"trigger", "-n", ns, "--key", "/prod/db/pass"});
  INFO(first.out, first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.out, "patched"));
  const auto db = get_object("externalsecret", ns, "db");
  const auto stamp1 = annotation(db, "force-sync");
  CHECK(stamp1.size() == 30);  // 2026-11-28T02:05:44.123456789Z
  CHECK(stamp1.back() == 'Z');
  CHECK(annotation(get_object("externalsecret", ns, "extract"), "force-sync") == stamp1);
  CHECK(managed_by_eso_updater(db));
  const auto unrelated = get_object("externalsecret", ns, "unrelated");
  CHECK(resource_version(unrelated) == unrelated_before);
  CHECK(annotation(unrelated, "force-sync").empty());

  const auto second = eso_updater({"trigger", "-n", ns, "--key", "prod/db/pass", "-o", "json"});
  REQUIRE(second.exit_code == 0);
  const auto stamp2 = annotation(get_object("externalsecret", ns, "db"), "force-sync");
  CHECK(stamp2 != stamp1);
  CHECK(stamp2 > stamp1);
  rapidjson::Document report;
  report.Parse(second.out.c_str());
  REQUIRE_FALSE(report.HasParseError());
  CHECK(std::string(report["value"].GetString()) == stamp2);
  CHECK(report["objects"].Size() == 2);
  for (const auto& o : report["objects"].GetArray()) {
    CHECK(std::string(o["result"].GetString()) == "patched");
    CHECK(o.HasMember("resourceVersion"));
  }
}

TEST_CASE("trigger keeps other annotations and labels and sets only its own") {
  const auto ns = unique_namespace("trigger-keep");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/keep"}));
  kubectl({"annotate", "externalsecret", "db", "-n", ns, "team=payments"});
  kubectl({"label", "externalsecret", "db", "-n", ns, "tier=gold"});
  const auto spec_before =
      kubectl({"get", "externalsecret", "db", "-n", ns, "-o", "jsonpath={.spec}"});
  REQUIRE(eso_updater({"trigger", "-n", ns, "-k", "/keep", "--annotation", "example.com/refresh"})
              .exit_code == 0);
  const auto db = get_object("externalsecret", ns, "db");
  CHECK(annotation(db, "team") == "payments");
  CHECK_FALSE(annotation(db, "example.com/refresh").empty());
  CHECK(annotation(db, "force-sync").empty());
  CHECK(std::string(db["metadata"]["labels"]["tier"].GetString()) == "gold");
  CHECK(kubectl({"get", "externalsecret", "db", "-n", ns, "-o", "jsonpath={.spec}"}) ==
        spec_before);
}

TEST_CASE("objects ESO will not refresh are reported and skipped unless --force") {
  const auto ns = unique_namespace("trigger-skip");
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "once", {"/s"}, "  refreshPolicy: CreatedOnce\n") +
              external_secret_yaml(ns, "zero", {"/s"}, "  refreshInterval: 0s\n") +
              external_secret_yaml(ns, "normal", {"/s"}));
  mark_synced(ns, "once");
  mark_synced(ns, "zero");

  const auto r = eso_updater({"trigger", "-n", ns, "-k", "/s"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "skipped"));
  CHECK(contains(r.err, "refreshPolicy CreatedOnce"));
  CHECK(contains(r.err, "--force"));
  CHECK(annotation(get_object("externalsecret", ns, "once"), "force-sync").empty());
  CHECK(annotation(get_object("externalsecret", ns, "zero"), "force-sync").empty());
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "normal"), "force-sync").empty());

  REQUIRE(eso_updater({"trigger", "-n", ns, "-k", "/s", "--force"}).exit_code == 0);
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "once"), "force-sync").empty());
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "zero"), "force-sync").empty());
}

TEST_CASE("--dry-run reports what would be patched and changes nothing") {
  const auto ns = unique_namespace("trigger-dry");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/dry"}));
  const auto before = resource_version(get_object("externalsecret", ns, "db"));
  const auto r = eso_updater({"trigger", "-n", ns, "-k", "/dry", "--dry-run"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "would-patch"));
  const auto after = get_object("externalsecret", ns, "db");
  CHECK(resource_version(after) == before);
  CHECK(annotation(after, "force-sync").empty());
}

TEST_CASE("trigger with nothing matched exits 0, or 1 with --require-match") {
  const auto ns = unique_namespace("trigger-none");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/x"}));
  CHECK(eso_updater({"trigger", "-n", ns, "-k", "/y"}).exit_code == 0);
  CHECK(eso_updater({"trigger", "-n", ns, "-k", "/y", "--require-match"}).exit_code == 1);
}

TEST_CASE("trigger -A patches across namespaces, many objects concurrently") {
  const auto a = unique_namespace("trigger-all-a");
  const auto b = unique_namespace("trigger-all-b");
  const std::string key = "/all/" + a;
  std::string manifests;
  for (int i = 0; i < 30; ++i) {
    manifests += external_secret_yaml(i % 2 == 0 ? a : b, "es-" + std::to_string(i), {key});
  }
  kubectl({"apply", "-f", "-"}, manifests);
  const double lists_before = apiserver_requests("LIST", "externalsecrets");
  const auto r = eso_updater(
      {"trigger", "-A", "-k", key, "--concurrency", "8", "--chunk-size", "7", "-o", "name"});
  const double lists = apiserver_requests("LIST", "externalsecrets") - lists_before;
  REQUIRE(r.exit_code == 0);
  CHECK(lists >= 5);  // at least 30 objects, 7 a page, as the API server counted them
  int lines = 0;
  for (char c : r.out) lines += c == '\n' ? 1 : 0;
  CHECK(lines == 30);
  for (int i = 0; i < 30; ++i) {
    CAPTURE(i);
    CHECK_FALSE(
        annotation(get_object("externalsecret", i % 2 == 0 ? a : b, "es-" + std::to_string(i)),
                   "force-sync")
            .empty());
  }
}

}  // namespace eso::test

namespace eso::test {

TEST_CASE("--event takes keys from an Akeyless payload in a file or on stdin") {
  const auto ns = unique_namespace("event");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/ev/db"}) +
                                    external_secret_yaml(ns, "api", {"/ev/api"}) +
                                    external_secret_yaml(ns, "cert", {"/ev/cert"}));
  const std::string payload = R"({"Akeyless_Events": {
      "static-secret-updated": [{"item_name": "/ev/db", "event_id": 1, "payload": {"v": [1]}}],
      "rotated-secret-success": [{"item_name": "ev/api"}],
      "certificate-expired": [{"item_name": "/ev/cert"}]}})";
  const auto file = write_temp_file("event.json", payload);
  const auto r = eso_updater({"trigger", "-n", ns, "--event", file, "-o", "name"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.err, "akeyless format, 3 event(s), 2 key(s)"));
  CHECK(contains(r.err, "ignored certificate-expired"));
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "db"), "force-sync").empty());
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "api"), "force-sync").empty());
  CHECK(annotation(get_object("externalsecret", ns, "cert"), "force-sync").empty());

  const auto piped =
      run_process({ESO_UPDATER_BINARY, "match", "-n", ns, "--event", "-", "-o", "name"}, {},
                  R"({"keys": ["/ev/cert"]})");
  CHECK(piped.exit_code == 0);
  CHECK(piped.out == "externalsecret.external-secrets.io/cert\n");

  const auto bad = eso_updater({"trigger", "-n", ns, "--event", write_temp_file("bad", "{oops")});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "malformed JSON"));
  CHECK(eso_updater({"trigger", "-n", ns, "--event", "/nonexistent.json"}).exit_code == 2);
  CHECK(eso_updater({"trigger", "-n", ns}).exit_code == 2);
}

// serve_test.cc covers serve; this one counts its LISTs where they land: on the API server.
TEST_CASE("serve answers events from its index: 0 LISTs of ExternalSecrets on the API server") {
  const auto ns = unique_namespace("serve-lists");
  const std::string key = "/serve-lists/" + ns;
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "a", {key}) + external_secret_yaml(ns, "b", {key}));
  const auto port_file = write_temp_file("port", "");
  std::filesystem::remove(port_file);
  BackgroundProcess serve(
      {ESO_UPDATER_BINARY, "-n", ns, "serve", "--listen", "127.0.0.1:0", "--port-file", port_file},
      {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=s3cret"}, port_file + ".log");
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    if (std::filesystem::exists(port_file)) port = read_file_text(port_file);
    if (port.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(!port.empty(), "serve did not start");
  const std::string base = "http://127.0.0.1:" + port;
  auto curl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "60",
                                  "-o",   "-",   "-w",         "\n%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv).out;
  };
  bool ready = false;  // the index has listed and is watching
  for (int i = 0; i < 200 && !ready; ++i) {
    const std::string health = curl({base + "/readyz"});
    ready = health.substr(health.rfind('\n') + 1) == "200";
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(ready);
  // The start-up log says where serve listens, what it watches and whom it lets in.
  std::string log;
  for (int i = 0; i < 100 && !contains(log, "index synced"); ++i) {
    log = read_file_text(port_file + ".log");
    if (!contains(log, "index synced")) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(log);
  CHECK(contains(log, "listening on 127.0.0.1:" + port.substr(0, port.find('\n'))));
  CHECK(contains(log, "scope: namespace " + ns + " (-A: every namespace)"));
  CHECK(contains(log, "webhook auth: basic\n"));
  CHECK(contains(log, "index synced: 2 object(s) in "));
  CHECK_FALSE(contains(log, "s3cret"));

  // The API server counts every client's LISTs, and other tests run alongside (ctest -j): a
  // window of 5 events with no LIST at all shows serve made none; a serve that listed per event
  // would show 5 or more in every window. At most 10 windows.
  double fewest = -1;
  for (int window = 0; window < 10 && fewest != 0; ++window) {
    const double lists_before = apiserver_requests("LIST", "externalsecrets");
    for (int i = 0; i < 5; ++i) {
      CAPTURE(i);
      const std::string reply =
          curl({"-u", "hook:s3cret", "-H", "Content-Type: application/json", "--data-binary",
                fmt::format(R"([{{"item_name":"{}","event_type":"static-secret-updated"}}])", key),
                base + "/webhook"});
      INFO(reply);
      CHECK(reply.substr(reply.rfind('\n') + 1) == "200");
      CHECK(contains(reply, R"("name":"a","annotation":"force-sync")"));  // patched
      CHECK(contains(reply, R"("name":"b","annotation":"force-sync")"));
    }
    const double lists = apiserver_requests("LIST", "externalsecrets") - lists_before;
    if (fewest < 0 || lists < fewest) fewest = lists;
  }
  CHECK(fewest == 0);
}

}  // namespace eso::test
