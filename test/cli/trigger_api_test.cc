// serve's trigger API (DESIGN.md §11) end to end: `eso-updater trigger --server` with a
// kubeconfig that points nowhere, serve on the real API server, and the objects read back with
// kubectl. What ESO does after such a trigger is asserted with the real controller in
// real_eso_test.cc.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"
#include "test/cli/serve_process.h"
#include "test/kube/loopback_api_server.h"

namespace eso::test {
namespace {

constexpr const char* kToken = "trigger-api-test-token-5d1e";

// A pipeline's view: no kubeconfig at all, only the server's URL and the token.
ProcessResult remote_trigger(const Server& server, std::vector<std::string> args,
                             const std::string& token = kToken) {
  std::vector<std::string> argv{ESO_UPDATER_BINARY, "trigger", "--server", server.url("")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {"KUBECONFIG=/nonexistent/kubeconfig", "ESO_UPDATER_TOKEN=" + token});
}

HttpReply post_trigger(Server& server, const std::string& body, const std::string& token = kToken) {
  return server.request({"-H", "Authorization: Bearer " + token, "-H",
                         "Content-Type: application/json", "--data-binary", body,
                         server.url("/v1/trigger")});
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON: ", text);
  return doc;
}

std::string force_sync(const std::string& ns, const std::string& name) {
  return annotation(get_object("externalsecret", ns, name), "force-sync");
}

}  // namespace

TEST_CASE("trigger --server patches through serve with no kubeconfig and lists nothing") {
  const auto ns = unique_namespace("tapi");
  const std::string key = "/tapi/" + ns;  // no other test's object reads it
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {key}) +
                                    external_secret_yaml(ns, "other", {"/" + ns + "/other"}));
  Server server({"-A"}, {}, {std::string("TRIGGER_TOKEN=") + kToken});
  const double lists = apiserver_requests("LIST", "externalsecrets");
  const auto r = remote_trigger(server, {"-k", key});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "patched"));
  CHECK_FALSE(force_sync(ns, "db").empty());
  CHECK(force_sync(ns, "other").empty());
  // The index answered: the trigger cost the API server no LIST.
  CHECK(apiserver_requests("LIST", "externalsecrets") == lists);

  // The same JSON schema as a direct trigger -o json.
  const auto json = remote_trigger(server, {"-k", key, "-o", "json", "--dry-run"});
  INFO(json.out, json.err);
  CHECK(json.exit_code == 0);
  const auto doc = parse(json.out);
  CHECK(doc["dryRun"].GetBool());
  REQUIRE(doc["objects"].Size() == 1);
  CHECK(std::string(doc["objects"][0]["result"].GetString()) == "would-patch");
  CHECK(std::string(doc["objects"][0]["matches"][0]["field"].GetString()) ==
        "spec.data[0].remoteRef.key");
  const auto direct = eso_updater({"trigger", "-A", "-k", key, "-o", "json", "--dry-run"});
  const auto direct_doc = parse(direct.out);
  for (const char* field : {"value", "dryRun", "objects", "problems"}) {
    CAPTURE(field);
    CHECK(direct_doc.HasMember(field) == doc.HasMember(field));
  }
  CHECK(std::string(direct_doc["objects"][0]["result"].GetString()) == "would-patch");

  const auto names = remote_trigger(server, {"-k", key, "-o", "name"});
  CHECK(names.out == "externalsecret.external-secrets.io/db\n");
}

TEST_CASE("match --server answers from serve's index as a direct match does") {
  const auto ns = unique_namespace("tapi-match");
  const std::string key = "/" + ns + "/db";
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "db", {key}) +
              external_secret_yaml(ns, "once", {key}, "  refreshPolicy: CreatedOnce\n"));
  mark_synced(ns, "once");  // ESO ignores a trigger on it from now on
  Server server({"-A"}, {}, {std::string("TRIGGER_TOKEN=") + kToken});
  const double lists = apiserver_requests("LIST", "externalsecrets");
  const auto remote = run_process(
      {ESO_UPDATER_BINARY, "match", "--server", server.url(""), "-k", key, "-o", "json"},
      {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  INFO(remote.out, remote.err);
  CHECK(remote.exit_code == 0);
  CHECK(apiserver_requests("LIST", "externalsecrets") == lists);
  const auto direct = eso_updater({"match", "-A", "-k", key, "-o", "json"});
  // The same report, field for field (the objects come in another order from the index).
  auto sorted = [](const std::string& json) {
    const auto doc = parse(json);
    std::vector<std::string> lines;
    for (const auto& m : doc["matches"].GetArray()) {
      lines.push_back(fmt::format("{} {} {} {} {} {}", m["name"].GetString(),
                                  m["field"].GetString(), m["verdict"].GetString(),
                                  m["store"]["name"].GetString(), m["willRefresh"].GetBool(),
                                  m["rule"].GetString()));
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  CHECK(sorted(remote.out) == sorted(direct.out));
  CHECK(sorted(remote.out).size() == 2);
  const auto table =
      run_process({ESO_UPDATER_BINARY, "match", "--server", server.url(""), "-k", key},
                  {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  CHECK(contains(table.out, "will-not-refresh (refreshPolicy CreatedOnce)"));
  // Read-only: nothing was patched.
  CHECK(force_sync(ns, "db").empty());
  const auto none = run_process(
      {ESO_UPDATER_BINARY, "match", "--server", server.url(""), "-k", "/" + ns + "/none"},
      {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  CHECK(none.exit_code == 1);
  const auto wrong = post_trigger(server, R"({"keys": [")" + key + R"("], "dryRun": true})");
  CHECK(wrong.status == 200);  // the trigger API takes dryRun; /v1/match does not:
  const auto refused =
      server.request({"-H", std::string("Authorization: Bearer ") + kToken, "-H",
                      "Content-Type: application/json", "--data-binary",
                      R"({"keys": [")" + key + R"("], "dryRun": true})", server.url("/v1/match")});
  CHECK(refused.status == 422);
}

TEST_CASE("trigger --server exits as a direct trigger does and says what is wrong") {
  const auto ns = unique_namespace("tapi-exit");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}) +
                                    external_secret_yaml(ns, "broken", {},
                                                         "  dataFrom:\n  - find: {path: /" + ns +
                                                             ", name: {regexp: \"(\"}}\n"));
  Server server({"-A"}, {}, {std::string("TRIGGER_TOKEN=") + kToken});

  // What the index could not read is warned of on stderr, as by a direct trigger.
  const auto warned = remote_trigger(server, {"-k", "/" + ns + "/db", "--dry-run"});
  INFO(warned.out, warned.err);
  CHECK(warned.exit_code == 0);
  CHECK(contains(warned.err, "warning: " + ns + "/broken spec.dataFrom[0].find.name.regexp"));

  const auto none = remote_trigger(server, {"-k", "/" + ns + "/none", "--require-match"});
  CHECK(none.exit_code == 1);
  CHECK(contains(none.err, "nothing to trigger"));
  CHECK(remote_trigger(server, {"-k", "/" + ns + "/none"}).exit_code == 0);

  // A dry run waits for nothing, as a direct one: no "wait" is sent (30m is past serve's
  // --trigger-max-wait) and the JSON still holds an empty "waits".
  const auto dry = remote_trigger(
      server, {"-k", "/" + ns + "/db", "--dry-run", "--wait", "--timeout", "30m", "-o", "json"});
  INFO(dry.out, dry.err);
  CHECK(dry.exit_code == 0);
  const auto dry_doc = parse(dry.out);
  REQUIRE(dry_doc.HasMember("waits"));
  CHECK(dry_doc["waits"].Empty());
  CHECK(force_sync(ns, "db").empty());

  const auto wrong = remote_trigger(server, {"-k", "/" + ns + "/db"}, "not-the-token");
  server.secret("not-the-token");
  CHECK(wrong.exit_code == 2);
  CHECK(contains(wrong.err, "refused the trigger token"));
  CHECK_FALSE(contains(wrong.err, "not-the-token"));
  CHECK(force_sync(ns, "db").empty());

  const auto no_api = run_process(
      {ESO_UPDATER_BINARY, "trigger", "--server", server.url("/elsewhere"), "-k", "/" + ns + "/db"},
      {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  CHECK(no_api.exit_code == 2);
  CHECK(contains(no_api.err, "has no trigger API"));

  const auto down = run_process(
      {ESO_UPDATER_BINARY, "trigger", "--server",
       fmt::format("http://127.0.0.1:{}", free_loopback_port()), "-k", "/" + ns + "/db"},
      {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  CHECK(down.exit_code == 2);
  CHECK(contains(down.err, "cannot reach the trigger API"));

  const auto no_token = run_process(
      {ESO_UPDATER_BINARY, "trigger", "--server", server.url(""), "-k", "/" + ns + "/db"},
      {"KUBECONFIG=/nonexistent", "ESO_UPDATER_TOKEN="});
  CHECK(no_token.exit_code == 2);
  CHECK(contains(no_token.err, "--token-file"));
  CHECK(force_sync(ns, "db").empty());
}

TEST_CASE("the trigger token and webhook credentials are not interchangeable") {
  const auto ns = unique_namespace("tapi-creds");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}));
  Server server({"-A"}, {}, {std::string("TRIGGER_TOKEN=") + kToken});
  const std::string body = R"({"keys": ["/)" + ns + R"(/db"]})";
  // A webhook sender's Basic credentials on the trigger API.
  const auto basic = server.request({"-u", "hook:s3cret", "-H", "Content-Type: application/json",
                                     "--data-binary", body, server.url("/v1/trigger")});
  CHECK(basic.status == 401);
  // The trigger token on the webhook route.
  const auto bearer = server.request({"-H", std::string("Authorization: Bearer ") + kToken, "-H",
                                      "Content-Type: application/json", "--data-binary", body,
                                      server.url("/webhook")});
  CHECK(bearer.status == 401);
  CHECK(force_sync(ns, "db").empty());
  CHECK(server.metric("eso_updater_auth_failures_total") == 2);

  // A serve without a trigger token has no trigger API.
  Server closed({"-A"});
  const auto off = post_trigger(closed, body);
  CHECK(off.status == 404);
  CHECK(contains(off.body, "trigger API is off"));

  // The same value for both is refused at start.
  const auto same =
      eso_updater({"serve", "--listen", "127.0.0.1:0"},
                  {"WEBHOOK_BEARER_TOKEN=shared-value-1", "TRIGGER_TOKEN=shared-value-1"});
  CHECK(same.exit_code == 2);
  CHECK(contains(same.err, "trigger token equals a webhook credential"));
}

TEST_CASE("the trigger token is re-read when its file changes") {
  const auto ns = unique_namespace("tapi-rotate");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}));
  const auto dir = std::filesystem::path(write_temp_file("trigger-token", "first-token-77\n"))
                       .parent_path()
                       .string();
  Server server({"-A"}, {"--credentials-dir", dir});
  server.secret("first-token-77");
  server.secret("second-token-88");
  CHECK(remote_trigger(server, {"-k", "/" + ns + "/db"}, "first-token-77").exit_code == 0);
  {
    std::ofstream(dir + "/trigger-token.new") << "second-token-88\n";
    std::filesystem::rename(dir + "/trigger-token.new", dir + "/trigger-token");
  }
  int old_refused = -1;
  for (int i = 0; i < 40 && old_refused != 2; ++i) {
    std::this_thread::sleep_for(100ms);
    old_refused = remote_trigger(server, {"-k", "/" + ns + "/db"}, "first-token-77").exit_code;
  }
  CHECK(old_refused == 2);
  CHECK(remote_trigger(server, {"-k", "/" + ns + "/db"}, "second-token-88").exit_code == 0);
}

TEST_CASE("the trigger API refuses bad requests with 400 422 and 403 and patches nothing") {
  const auto ns = unique_namespace("tapi-bad");
  const auto other = unique_namespace("tapi-bad-other");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}) +
                                    external_secret_yaml(other, "db", {"/" + ns + "/db"}));
  Server server({"-A"}, {"--trigger-namespaces", ns, "--trigger-max-wait", "1m"},
                {std::string("TRIGGER_TOKEN=") + kToken});
  const std::string key = "\"/" + ns + "/db\"";
  const std::pair<std::string, int> cases[] = {
      {"{oops", 400},
      {"[]", 422},
      {R"({"keys": []})", 422},
      {R"({"keys": )" + key + "}", 422},
      {R"({"keys": [)" + key + R"(], "bogus": true})", 422},
      {R"({"keys": [)" + key + R"(], "keys": ["/x"]})", 422},
      {R"({"keys": [)" + key + R"(], "wait": "soon"})", 422},
      {R"({"keys": [)" + key + R"(], "wait": "2m"})", 422},
      {R"({"keys": [)" + key + R"(], "dryRun": "yes"})", 422},
      {R"({"keys": [)" + key + R"(], "storeKind": "Vault"})", 422},
      {R"({"keys": [)" + key + R"(], "namespaces": [")" + other + R"("]})", 403},
  };

  for (const auto& [body, status] : cases) {
    CAPTURE(body);
    const auto r = post_trigger(server, body);
    CHECK(r.status == status);
    CHECK(contains(r.body, "\"error\""));
  }
  std::string many = R"({"keys": [)";
  for (int i = 0; i < 1001; ++i) many += fmt::format("{}\"/k{}\"", i ? "," : "", i);
  CHECK(post_trigger(server, many + "]}").status == 422);
  CHECK(force_sync(ns, "db").empty());
  CHECK(force_sync(other, "db").empty());

  // Without namespaces, only the allowed ones are reached.
  const auto ok = post_trigger(server, R"({"keys": [)" + key + "]}");
  CHECK(ok.status == 200);
  CHECK_FALSE(force_sync(ns, "db").empty());
  CHECK(force_sync(other, "db").empty());
}

// A ClusterExternalSecret refreshes its children in every namespace: a trigger API confined to
// some namespaces must not patch one because a child in an allowed namespace matched.
TEST_CASE(
    "the trigger API confined by --trigger-namespaces never patches a ClusterExternalSecret") {
  const auto ns = unique_namespace("tapi-ces");
  const auto other = unique_namespace("tapi-ces-other");
  const std::string ces = "ces-" + ns;
  const std::string key = "/tapi-ces/" + ns;
  create_ces_with_children(ces, key, {ns, other});
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "own", {key}));
  Server server({"-A"}, {"--trigger-namespaces", ns}, {std::string("TRIGGER_TOKEN=") + kToken});

  const auto r = post_trigger(server, R"({"keys": [")" + key + R"("], "force": true})");
  INFO(r.body);
  CHECK(r.status == 200);
  const auto doc = parse(r.body);
  std::map<std::string, std::string> results;
  for (const auto& o : doc["objects"].GetArray()) {
    results[std::string(o["kind"].GetString()) + "/" + o["name"].GetString()] =
        o["result"].GetString();
    if (std::string(o["result"].GetString()) == "skipped") {
      CHECK(contains(o["reason"].GetString(), "--trigger-namespaces"));
    }
  }
  CHECK(results["ExternalSecret/own"] == "patched");
  CHECK(results["ExternalSecret/" + ces] == "skipped");
  CHECK(results.count("ClusterExternalSecret/" + ces) == 0);
  CHECK_FALSE(force_sync(ns, "own").empty());
  CHECK(kubectl({"get", "clusterexternalsecret", ces, "-o",
                 "jsonpath={.metadata.annotations.external-secrets\\.io/force-sync}"})
            .empty());
}

// Why the stand-in: the real controller (real_eso_test.cc) answers every object; here it must
// answer one and stay silent for another on cue.
TEST_CASE("trigger --server --wait exits 0 when ESO synced and 4 when the wait ran out") {
  const auto ns = unique_namespace("tapi-wait");
  std::string yaml = external_secret_yaml(ns, "fine", {"/" + ns + "/fine"}) +
                     external_secret_yaml(ns, "silent", {"/" + ns + "/silent"});
  const std::string marker = "  name: \"silent\"\n";
  yaml.insert(yaml.find(marker) + marker.size(), "  annotations: {eso-player/behaviour: ignore}\n");
  kubectl({"apply", "-f", "-"}, yaml);
  const auto player = start_eso_player(ns);
  Server server({"-A"}, {}, {std::string("TRIGGER_TOKEN=") + kToken});
  const auto synced =
      remote_trigger(server, {"-k", "/" + ns + "/fine", "--wait", "--timeout", "30s"});
  INFO(synced.out, synced.err);
  CHECK(synced.exit_code == 0);
  CHECK(contains(synced.out, "synced"));
  const auto silent =
      remote_trigger(server, {"-k", "/" + ns + "/silent", "--wait", "--timeout", "2s"});
  INFO(silent.out, silent.err);
  CHECK(silent.exit_code == 4);
  CHECK(contains(silent.out, "timeout"));
}

}  // namespace eso::test

namespace eso::test {

// A waiting trigger must not hold serve's shutdown until the drain timeout: SIGTERM ends the
// wait at once, the client gets the report (not synced: exit 4, saying why) and serve exits 0.
TEST_CASE("SIGTERM ends a waiting trigger at once with its report and serve exits 0") {
  const auto ns = unique_namespace("tapi-term");
  const std::string key = "/" + ns + "/db";
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {key}));  // no ESO: never synced
  Server server({"-A"}, {"--drain-timeout", "30s"}, {std::string("TRIGGER_TOKEN=") + kToken});
  auto waiting = std::async(std::launch::async, [&] {
    return remote_trigger(server, {"-k", key, "--wait", "--timeout", "2m", "-o", "json"});
  });
  for (int i = 0; i < 100 && force_sync(ns, "db").empty(); ++i) std::this_thread::sleep_for(100ms);
  REQUIRE_FALSE(force_sync(ns, "db").empty());
  std::this_thread::sleep_for(500ms);  // into the wait
  const auto signalled = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  const auto r = waiting.get();
  const auto took = std::chrono::steady_clock::now() - signalled;
  INFO(r.out, r.err);
  CHECK(r.exit_code == 4);
  CHECK(took < std::chrono::seconds(10));
  const auto doc = parse(r.out);
  REQUIRE(doc.HasMember("waits"));
  REQUIRE(doc["waits"].Size() == 1);
  CHECK(contains(doc["waits"][0]["detail"].GetString(), "serve is stopping"));
  CHECK(server.wait(15) == 0);
}

TEST_CASE("waiting triggers leave webhooks a worker and trigger namespaces are trimmed") {
  // More waiting triggers than workers would let pipelines stall every webhook.
  const auto refused = eso_updater(
      {"serve", "--listen", "127.0.0.1:0", "--workers", "2", "--trigger-max-waiting", "2"},
      {"WEBHOOK_BEARER_TOKEN=hook-token-1", std::string("TRIGGER_TOKEN=") + kToken});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "--trigger-max-waiting 2 must be below --workers 2"));
  const auto one = eso_updater(
      {"serve", "--listen", "127.0.0.1:0", "--workers", "1", "--trigger-max-waiting", "3"},
      {"WEBHOOK_BEARER_TOKEN=hook-token-1", std::string("TRIGGER_TOKEN=") + kToken});
  CHECK(one.exit_code == 2);
  CHECK(contains(one.err, "must be below --workers 1"));

  const auto ns = unique_namespace("tapi-one");
  const std::string key = "/" + ns + "/db";
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {key}));
  Server server({"-A"}, {"--workers", "1", "--trigger-namespaces", "elsewhere, " + ns},
                {std::string("TRIGGER_TOKEN=") + kToken});
  // One worker: a trigger may not wait on it, but may trigger; "elsewhere, NS" allows NS.
  const auto wait = post_trigger(server, R"({"keys": [")" + key + R"("], "wait": "1m"})");
  CHECK(wait.status == 422);
  CHECK(contains(wait.body, "--workers 1"));
  CHECK(force_sync(ns, "db").empty());
  const auto now =
      post_trigger(server, R"({"keys": [")" + key + R"("], "namespaces": [")" + ns + R"("]})");
  INFO(now.body);
  CHECK(now.status == 200);
  CHECK_FALSE(force_sync(ns, "db").empty());
}

}  // namespace eso::test

namespace eso::test {

// A request that left but whose answer did not come back may have run: the pipeline must hear
// that, not "cannot reach" or "refused" (an Ingress in front of serve ends a long --wait at its
// read timeout with a 504 page of its own).
TEST_CASE("trigger --server says the trigger may have run when its answer is lost") {
  const auto trigger_at = [](const std::string& url) {
    return run_process({ESO_UPDATER_BINARY, "trigger", "--server", url, "-k", "/lost/answer"},
                       {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  };
  LoopbackApiServer gateway([](int, const std::string&, const LoopbackApiServer::Send& send) {
    send(LoopbackApiServer::response(504, "<html>504 Gateway Time-out</html>"));
  });
  const auto page = trigger_at(gateway.url());
  INFO(page.err);
  CHECK(page.exit_code == 2);
  CHECK(contains(page.err, "HTTP 504 without serve's report"));
  CHECK(contains(page.err, "may have run"));

  LoopbackApiServer silent([](int, const std::string&, const LoopbackApiServer::Send&) {});
  const auto lost = trigger_at(silent.url());
  INFO(lost.err);
  CHECK(lost.exit_code == 2);
  CHECK(contains(lost.err, "answer was lost"));
  CHECK(contains(lost.err, "may have run"));
  CHECK_FALSE(contains(lost.err, kToken));
  // match changes nothing: its lost answer may simply be asked again.
  const auto asked =
      run_process({ESO_UPDATER_BINARY, "match", "--server", silent.url(), "-k", "/lost/answer"},
                  {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
  INFO(asked.err);
  CHECK(asked.exit_code == 2);
  CHECK(contains(asked.err, "retrying is safe"));
  CHECK_FALSE(contains(asked.err, "may have run"));
}

}  // namespace eso::test

namespace eso::test {

TEST_CASE("a trigger token equal to any webhook credential is refused at start and on rotation") {
  const auto signing =
      eso_updater({"serve", "--listen", "127.0.0.1:0"},
                  {"DOPPLER_WEBHOOK_SECRET=shared-signing-2", "TRIGGER_TOKEN=shared-signing-2"});
  CHECK(signing.exit_code == 2);
  CHECK(contains(signing.err, "trigger token equals a webhook credential"));

  const auto ns = unique_namespace("tapi-same");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}));
  const auto dir = std::filesystem::path(write_temp_file("trigger-token", "own-token-31\n"))
                       .parent_path()
                       .string();
  std::ofstream(dir + "/token") << "hook-token-32\n";
  Server server({"-A"}, {"--credentials-dir", dir});
  server.secret("own-token-31");
  server.secret("hook-token-32");
  CHECK(remote_trigger(server, {"-k", "/" + ns + "/db", "--dry-run"}, "own-token-31").exit_code ==
        0);
  {  // a rotation that makes the trigger token the webhook's bearer token
    std::ofstream(dir + "/trigger-token.new") << "hook-token-32\n";
    std::filesystem::rename(dir + "/trigger-token.new", dir + "/trigger-token");
  }
  int status = 0;
  for (int i = 0; i < 40 && status != 404; ++i) {
    std::this_thread::sleep_for(100ms);
    status = post_trigger(server, R"({"keys": ["/x"], "dryRun": true})", "hook-token-32").status;
  }
  CHECK(status == 404);
  CHECK(contains(server.log(), "equals a webhook credential; the trigger API is off"));
  CHECK(contains(post_trigger(server, R"({"keys": ["/x"]})", "own-token-31").body,
                 "its token equals a webhook credential"));
  // The webhook still takes its own token.
  const auto hook = server.request({"-H", "Authorization: Bearer hook-token-32", "-H",
                                    "Content-Type: application/json", "--data-binary",
                                    R"({"keys": ["/x"]})", server.url("/webhook")});
  CHECK(hook.status == 200);
}

TEST_CASE("trigger --server over HTTPS checks serve's certificate, and a proxy goes via libcurl") {
  const auto ns = unique_namespace("tapi-tls");
  const std::string key = "/" + ns + "/db";
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {key}));
  const std::string dir = write_temp_file("tapi-tls-" + ns, "");
  std::filesystem::remove(dir);
  std::filesystem::create_directories(dir);
  const auto made = run_process(
      {"sh", "-c",
       "set -e; cd " + dir +
           "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
           "-subj /CN=ca; openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out "
           "other.crt -days 2 -subj /CN=other; openssl req -newkey rsa:2048 -nodes -keyout "
           "server.key -out server.csr -subj /CN=serve -addext subjectAltName=IP:127.0.0.1; "
           "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
           "-copy_extensions copyall -out server.crt"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  Server server({"-n", ns}, {"--tls-cert", dir + "/server.crt", "--tls-key", dir + "/server.key"},
                {std::string("TRIGGER_TOKEN=") + kToken}, false);
  const std::string https = "https://127.0.0.1:" + server.port();
  auto trigger = [&](const std::string& url, std::vector<std::string> args,
                     std::vector<std::string> env = {}) {
    std::vector<std::string> argv{ESO_UPDATER_BINARY, "trigger", "--server", url, "-k", key};
    argv.insert(argv.end(), args.begin(), args.end());
    env.insert(env.end(), {"KUBECONFIG=/nonexistent", std::string("ESO_UPDATER_TOKEN=") + kToken});
    return run_process(argv, env);
  };
  ProcessResult ok;
  for (int i = 0; i < 100; ++i) {  // until serve's index is synced (503 before)
    ok = trigger(https, {"--server-ca", dir + "/ca.crt", "--dry-run", "--require-match"});
    if (ok.exit_code == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO(ok.out, ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.out, "would-patch"));

  const auto untrusted = trigger(https, {"--server-ca", dir + "/other.crt"});
  CHECK(untrusted.exit_code == 2);
  CHECK(contains(untrusted.err, "not trusted"));
  CHECK(contains(untrusted.err, "--server-ca"));
  const auto by_name =
      trigger("https://localhost:" + server.port(), {"--server-ca", dir + "/ca.crt"});
  CHECK(by_name.exit_code == 2);
  CHECK(contains(by_name.err, "hostname mismatch"));
  const auto no_ca = trigger(https, {"--server-ca", dir + "/missing.crt"});
  CHECK(no_ca.exit_code == 2);
  CHECK(contains(no_ca.err, "--server-ca"));
  CHECK(contains(no_ca.err, "missing.crt"));
  CHECK(force_sync(ns, "db").empty());

  // With https_proxy set, libcurl sends the request (a CONNECT to the proxy here, which
  // refuses it); with the host in no_proxy it goes straight to serve again and patches.
  LoopbackApiServer proxy([](int, const std::string&, const LoopbackApiServer::Send& send) {
    send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  const auto proxied =
      trigger(https, {"--server-ca", dir + "/ca.crt"}, {"https_proxy=" + proxy.url()});
  CHECK(proxied.exit_code == 2);
  CHECK(contains(proxied.err, "cannot reach the trigger API"));  // refused before it was sent
  CHECK_FALSE(contains(proxied.err, "may have run"));
  const auto seen = proxy.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].line == "CONNECT 127.0.0.1:" + server.port() + " HTTP/1.1");
  CHECK(force_sync(ns, "db").empty());
  const auto direct = trigger(https, {"--server-ca", dir + "/ca.crt"},
                              {"https_proxy=" + proxy.url(), "no_proxy=127.0.0.1"});
  INFO(direct.out, direct.err);
  CHECK(direct.exit_code == 0);
  CHECK(proxy.seen().size() == 1);
  CHECK_FALSE(force_sync(ns, "db").empty());
  std::filesystem::remove_all(dir);
}

}  // namespace eso::test
