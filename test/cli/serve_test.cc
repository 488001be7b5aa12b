// `eso-updater serve` end to end: the built binary, curl as the webhook sender, the real API
// server, and the objects read back with kubectl.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/base64.h"
#include "core/event_decoder.h"
#include "core/http/escape.h"
#include "test/cli/cluster_fixture.h"
#include "test/cli/serve_process.h"
#include "test/loopback_socket.h"

namespace eso::test {
namespace {

using namespace std::chrono_literals;

void send_all(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// Reads until `marker` has arrived ("" : until the peer closes), the peer closes, or a read
// times out (10 s).
std::string read_until(int fd, const std::string& marker = "") {
  std::string in;
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    if (!marker.empty() && contains(in, marker)) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

// A POST head with Basic credentials hook:s3cret (or none), `Content-Length: length`, and
// `Expect: 100-continue` when asked.
std::string post_head(size_t length, bool expect_continue, bool credentials = true) {
  std::string head = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (credentials) head += "Authorization: Basic " + eso::base64_encode("hook:s3cret") + "\r\n";
  head += "Content-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n";
  if (expect_continue) head += "Expect: 100-continue\r\n";
  return head + "\r\n";
}

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

TEST_CASE("SIGTERM drains: a request still arriving is answered and acted on, then serve exits 0") {
  const auto ns = unique_namespace("serve-term");
  const std::string key = "/drain/" + ns;
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {key}));
  Server server({"-n", ns}, {"--drain-timeout", "60s"});
  const std::string body = R"({"keys":[")" + key + R"("]})";
  const int fd = connect_loopback(std::stoi(server.port()));
  REQUIRE(fd >= 0);
  send_all(fd, post_head(body.size(), true));
  // 100 Continue: serve has read and admitted the head; the request is in flight.
  REQUIRE(read_until(fd, "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(fd, body.substr(0, body.size() / 2));
  server.signal(SIGTERM);
  // Draining: the listener is closed, so a new connection is refused.
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {  // 10 s at most
    const int probe = connect_loopback(std::stoi(server.port()));
    refused = probe < 0;
    if (probe >= 0) ::close(probe);
    if (!refused) std::this_thread::sleep_for(50ms);
  }
  CHECK(refused);
  send_all(fd, body.substr(body.size() / 2));
  const std::string answer = read_until(fd);
  ::close(fd);
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(contains(answer, "Connection: close"));
  CHECK(contains(answer, R"("name":"db")"));
  CHECK_FALSE(annotation(get_object("externalsecret", ns, "db"), "force-sync").empty());
  CHECK(server.wait(30) == 0);  // drained: it exits without waiting out the 60 s
  CHECK(contains(server.log(), "eso-updater serve: stopped"));
}

TEST_CASE("SIGTERM drains for --drain-timeout at most: a request that never completes is cut") {
  const auto ns = unique_namespace("serve-term-cut");
  Server server({"-n", ns}, {"--drain-timeout", "2s"});
  const int fd = connect_loopback(std::stoi(server.port()));
  REQUIRE(fd >= 0);
  send_all(fd, post_head(100, true));
  REQUIRE(read_until(fd, "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  send_all(fd, "{\"keys\":");  // and never the rest
  const auto start = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  const int code = server.wait(30);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(code == 0);
  CHECK(took >= 2s);  // it did wait for the request
  const std::string rest = read_until(fd);
  ::close(fd);
  CHECK(rest.empty());  // closed unanswered once the drain ran out
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

namespace {

// The data/events fixture `name` with every `{NS}` replaced.
std::string event_fixture(const std::string& text, const std::string& ns) {
  std::string out = text;
  for (auto at = out.find("{NS}"); at != std::string::npos; at = out.find("{NS}")) {
    out.replace(at, 4, ns);
  }
  return out;
}

std::vector<std::string> patched_names(const HttpReply& reply) {
  return names_in(reply.body, "patched");
}

}  // namespace

TEST_CASE("serve reads AWS EventBridge events and accepts an API-key header") {
  const auto ns = unique_namespace("serve-aws");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "/db"}) +
                                    external_secret_yaml(ns, "api", {ns + "/api-key"}) +
                                    external_secret_yaml(ns, "rotated", {ns + "/rotated"}));
  Server server({"-n", ns}, {"--api-key-header", "X-Api-Key"}, {"WEBHOOK_API_KEY=eb-key-1"});
  auto post_key = [&](const std::string& body, const std::string& key) {
    return server.request({"-H", "X-Api-Key: " + key, "-H", "Content-Type: application/json",
                           "--data-binary", body, server.url("/webhook/aws")});
  };
  const std::string label = event_fixture(
      R"({"version": "0", "detail-type": "Secret Label Updated", "source": "aws.secretsmanager",
          "detail": {"name": "{NS}/db", "labelUpdated": "AWSCURRENT", "versionId": "v2"}})",
      ns);
  const auto current = post_key(label, "eb-key-1");
  INFO(current.body);
  REQUIRE(current.status == 200);
  CHECK(patched_names(current) == std::vector<std::string>{ns + "/db"});
  CHECK(post_key(label, "eb-key-2").status == 401);

  // Another label moved: nothing ESO reads by default changed.
  std::string custom = label;
  custom.replace(custom.find("AWSCURRENT"), 10, "blue");
  const auto ignored = server.post("/webhook", custom);
  CHECK(ignored.status == 200);
  CHECK(patched_names(ignored).empty());
  CHECK(contains(ignored.body, R"("eventType":"Secret Label Updated")"));

  // CloudTrail events name the secret by ARN, with AWS's random suffix.
  const auto put = server.post(
      "/webhook",
      event_fixture(
          R"([{"detail-type": "AWS API Call via CloudTrail", "source": "aws.secretsmanager",
          "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "PutSecretValue",
          "requestParameters": {"secretId":
            "arn:aws:secretsmanager:eu-central-1:111122223333:secret:{NS}/api-key-Qw34Er"}}},
        {"detail-type": "AWS Service Event via CloudTrail", "source": "aws.secretsmanager",
          "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationSucceeded",
          "additionalEventData": {"SecretId": "{NS}/rotated"}}}])",
          ns));
  INFO(put.body);
  CHECK(put.status == 200);
  CHECK(patched_names(put) == std::vector<std::string>{ns + "/api", ns + "/rotated"});
  CHECK(contains(put.body, R"("source":"aws")"));
}

TEST_CASE("serve answers Azure Event Grid's handshakes and reads Key Vault events") {
  const auto ns = unique_namespace("serve-azure");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "secret", {"secret/" + ns + "-DB"}) +
                                    external_secret_yaml(ns, "cert", {"cert/" + ns + "-tls"}) +
                                    external_secret_yaml(ns, "ce", {ns + "-token"}));
  Server server({"-n", ns});
  const auto validation = server.request(
      {"-u", "hook:s3cret", "-H", "aeg-event-type: SubscriptionValidation", "-H",
       "Content-Type: application/json", "--data-binary",
       R"([{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "CODE-123"}, "dataVersion": "2"}])",
       server.url("/webhook/azure")});
  CHECK(validation.status == 200);
  CHECK(validation.body == R"({"validationResponse":"CODE-123"})");
  // Event Grid may send the handshake without the delivery properties: answered anyway, but
  // the header opens nothing else.
  const auto anonymous = server.request(
      {"-H", "aeg-event-type: SubscriptionValidation", "-H", "Content-Type: application/json",
       "--data-binary",
       R"([{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "data": {"validationCode": "CODE-456"}, "dataVersion": "2"}])",
       server.url("/webhook/azure")});
  CHECK(anonymous.status == 200);
  CHECK(anonymous.body == R"({"validationResponse":"CODE-456"})");
  const auto smuggled =
      server.request({"-H", "aeg-event-type: SubscriptionValidation", "-H",
                      "Content-Type: application/json", "--data-binary",
                      event_fixture(R"([{"eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
                          "subject": "{NS}-db", "data": {"ObjectName": "{NS}-db"}}])",
                                    ns),
                      server.url("/webhook/azure")});
  CHECK(smuggled.status == 401);
  CHECK(annotation(get_object("externalsecret", ns, "secret"), "force-sync").empty());

  const auto grid = server.post("/webhook", event_fixture(R"([
        {"eventType": "Microsoft.KeyVault.SecretNewVersionCreated", "subject": "{NS}-db",
         "data": {"ObjectName": "{NS}-db", "VaultName": "kv", "ObjectType": "Secret"}},
        {"eventType": "Microsoft.KeyVault.CertificateNewVersionCreated", "subject": "{NS}-tls",
         "data": {"objectName": "{NS}-tls", "vaultName": "kv", "objectType": "Certificate"}},
        {"eventType": "Microsoft.KeyVault.SecretNearExpiry", "subject": "{NS}-db",
         "data": {"ObjectName": "{NS}-db"}}])",
                                                          ns));
  INFO(grid.body);
  CHECK(grid.status == 200);
  CHECK(patched_names(grid) == std::vector<std::string>{ns + "/cert", ns + "/secret"});
  CHECK(contains(grid.body, "Microsoft.KeyVault.SecretNearExpiry"));

  // The CloudEvents schema: the OPTIONS abuse-protection handshake, then a structured event.
  const auto options = run_process({"curl", "-sS", "-i", "-X", "OPTIONS", "-H",
                                    "WebHook-Request-Origin: eventgrid.azure.net",
                                    server.url("/webhook/cloudevents")});
  CHECK(options.out.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(contains(options.out, "WebHook-Allowed-Origin: eventgrid.azure.net"));
  const auto ce =
      server.request({"-u", "hook:s3cret", "-H",
                      "Content-Type: application/cloudevents+json; charset=utf-8", "--data-binary",
                      event_fixture(R"({"specversion": "1.0", "id": "1", "source": "/kv",
          "type": "Microsoft.KeyVault.SecretNewVersionCreated", "subject": "{NS}-token",
          "data": {"objectName": "{NS}-token", "vaultName": "kv"}})",
                                    ns),
                      server.url("/webhook")});
  INFO(ce.body);
  CHECK(ce.status == 200);
  CHECK(patched_names(ce) == std::vector<std::string>{ns + "/ce"});
}

TEST_CASE("serve reads CloudEvents in structured, batch and binary mode") {
  const auto ns = unique_namespace("serve-ce");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "a", {"/" + ns + "/a"}) +
                                    external_secret_yaml(ns, "b", {"/" + ns + "/b"}) +
                                    external_secret_yaml(ns, "c", {"/" + ns + "/c"}));
  Server server({"-n", ns});
  const auto batch = server.request(
      {"-u", "hook:s3cret", "-H", "Content-Type: application/cloudevents-batch+json",
       "--data-binary",
       event_fixture(R"([{"specversion": "1.0", "id": "1", "source": "/s", "type": "changed",
                          "subject": "/{NS}/a"},
                         {"specversion": "1.0", "id": "2", "source": "/s", "type": "changed",
                          "subject": "/{NS}/b"}])",
                     ns),
       server.url("/webhook/cloudevents")});
  INFO(batch.body);
  CHECK(batch.status == 200);
  CHECK(patched_names(batch) == std::vector<std::string>{ns + "/a", ns + "/b"});
  const auto binary =
      server.request({"-u", "hook:s3cret", "-H", "ce-specversion: 1.0", "-H", "ce-type: changed",
                      "-H", "ce-id: 3", "-H", "ce-source: /s", "-H", "ce-subject: /" + ns + "/c",
                      "-H", "Content-Type: application/octet-stream", "--data-binary", "opaque",
                      server.url("/webhook")});
  INFO(binary.body);
  CHECK(binary.status == 200);
  CHECK(patched_names(binary) == std::vector<std::string>{ns + "/c"});
}

TEST_CASE("serve reads Google Pub/Sub pushes and ignores SECRET_ROTATE") {
  const auto ns = unique_namespace("serve-gcp");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "-gdb"}));
  Server server({"-n", ns}, {"--api-key-query", "token"}, {"WEBHOOK_API_KEY=push-key"});
  const std::string add = event_fixture(
      R"({"message": {"attributes": {"eventType": "SECRET_VERSION_ADD",
          "secretId": "projects/p/secrets/{NS}-gdb", "dataFormat": "JSON_API_V1"},
          "data": "e30=", "messageId": "1"}, "subscription": "projects/p/subscriptions/s"})",
      ns);
  // Pub/Sub push sets no headers of ours: the key rides in the endpoint URL.
  const auto added = server.request({"-H", "Content-Type: application/json", "--data-binary", add,
                                     server.url("/webhook/gcp?token=push-key")});
  INFO(added.body);
  CHECK(added.status == 200);
  CHECK(patched_names(added) == std::vector<std::string>{ns + "/db"});
  std::string rotate = add;
  rotate.replace(rotate.find("SECRET_VERSION_ADD"), 18, "SECRET_ROTATE");
  const auto rotated = server.post("/webhook", rotate);
  CHECK(rotated.status == 200);
  CHECK(patched_names(rotated).empty());
  CHECK(contains(rotated.body, "rotation is due"));
  const auto wrong = server.request({"-H", "Content-Type: application/json", "--data-binary", add,
                                     server.url("/webhook/gcp?token=push-kez")});
  CHECK(wrong.status == 401);
  CHECK_FALSE(contains(server.log(), "push-key"));
}

TEST_CASE("serve checks Doppler and Infisical signatures instead of HTTP credentials") {
  const auto ns = unique_namespace("serve-signed");
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "doppler", {ns + "_DATABASE_URL"}) +
              external_secret_yaml(ns, "infisical", {"/" + ns + "/db/USER"}) +
              external_secret_yaml(ns, "elsewhere", {"/" + ns + "/other/USER"}));
  Server server({"-n", ns}, {},
                {"DOPPLER_WEBHOOK_SECRET=dop-secret", "INFISICAL_WEBHOOK_SECRET=inf-secret"});

  const std::string doppler = event_fixture(
      R"({"type": "config.secrets.update", "config": {"name": "prd"},
          "diff": {"added": [], "removed": [], "updated": ["{NS}_DATABASE_URL"]}})",
      ns);
  auto post_signed = [&](const std::string& path, const std::string& body,
                         const std::string& header) {
    return server.request({"-H", "Content-Type: application/json", "-H", header, "--data-binary",
                           body, server.url(path)});
  };
  const auto signed_ok =
      post_signed("/webhook/doppler", doppler,
                  "X-Doppler-Signature: sha256=" + hmac_sha256_hex("dop-secret", doppler));
  INFO(signed_ok.body);
  CHECK(signed_ok.status == 200);
  CHECK(patched_names(signed_ok) == std::vector<std::string>{ns + "/doppler"});
  const auto forged =
      post_signed("/webhook/doppler", doppler,
                  "X-Doppler-Signature: sha256=" + hmac_sha256_hex("guess", doppler));
  CHECK(forged.status == 401);
  CHECK(contains(forged.body, "does not match"));
  // Basic credentials do not stand in for a configured signature.
  CHECK(server.post("/webhook", doppler).status == 401);

  // Infisical signs the body, whose timestamp is the one that counts.
  auto infisical_at = [&](int64_t millis) {
    return event_fixture(
        R"({"event": "secrets.modified", "project": {"workspaceId": "w", "environment": "prod",
            "secretPath": "/{NS}/db"}, "timestamp": )" +
            std::to_string(millis) + "}",
        ns);
  };
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string infisical = infisical_at(now_ms);
  const auto fresh = post_signed("/webhook/infisical", infisical,
                                 fmt::format("x-infisical-signature: t={};{}", now_ms,
                                             hmac_sha256_hex("inf-secret", infisical)));
  INFO(fresh.body);
  CHECK(fresh.status == 200);
  CHECK(patched_names(fresh) == std::vector<std::string>{ns + "/infisical"});
  CHECK(contains(fresh.body, R"("paths":["/)" + ns + R"(/db"])"));
  CHECK(contains(fresh.body, "infisical-path"));
  const std::string old = infisical_at(now_ms - 3600 * 1000);
  const auto stale = post_signed("/webhook/infisical", old,
                                 fmt::format("x-infisical-signature: t={};{}", now_ms - 3600 * 1000,
                                             hmac_sha256_hex("inf-secret", old)));
  CHECK(stale.status == 401);
  CHECK(contains(stale.body, "stale"));
  // Replaying the old delivery with a fresh t does not make it fresh.
  const auto replay = post_signed(
      "/webhook/infisical", old,
      fmt::format("x-infisical-signature: t={};{}", now_ms, hmac_sha256_hex("inf-secret", old)));
  CHECK(replay.status == 401);
  CHECK(server.metric("eso_updater_auth_failures_total") >= 3);
}

TEST_CASE("serve reads any JSON with --key-path, and trigger --event reads every format") {
  const auto ns = unique_namespace("serve-keypath");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "x", {"/" + ns + "/x"}) +
                                    external_secret_yaml(ns, "y", {ns + "-y"}));
  Server server({"-n", ns}, {"--key-path", "change.items[].path"});
  const auto reply = server.post(
      "/webhook", R"({"change": {"items": [{"path": "/)" + ns + R"(/x"}, {"path": 7}]}})");
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(patched_names(reply) == std::vector<std::string>{ns + "/x"});

  const std::string file =
      write_temp_file("gcp-event.json", event_fixture(R"({"message": {"attributes": {"eventType":
        "SECRET_VERSION_ADD", "secretId": "projects/p/secrets/{NS}-y"}}})",
                                                      ns));
  const auto r = eso_updater({"-n", ns, "trigger", "--event", file, "-o", "name"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.err, "event: gcp format, 1 event(s), 1 key(s)"));
  CHECK(contains(r.out, "externalsecret.external-secrets.io/y"));
}

TEST_CASE("serve over HTTPS takes a client certificate as the webhook's credential") {
  const auto ns = unique_namespace("serve-tls");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/" + ns + "/db"}));
  const std::string dir = write_temp_file("tls-" + ns, "");
  std::filesystem::remove(dir);
  std::filesystem::create_directories(dir);
  const std::string make =
      "set -e; cd " + dir +
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 "
      "-subj /CN=ca"
      "; openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=serve "
      "-addext subjectAltName=IP:127.0.0.1"
      "; openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-copy_extensions copyall -out server.crt"
      "; openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
      "-subj /CN=akeyless-forwarder"
      "; openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-out client.crt";
  const auto made = run_process({"sh", "-c", make});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  Server server({"-n", ns},
                {"--tls-cert", dir + "/server.crt", "--tls-key", dir + "/server.key",
                 "--tls-client-ca", dir + "/ca.crt"},
                {}, false);
  const std::string url = "https://127.0.0.1:" + server.port() + "/webhook";
  const std::string body = R"({"keys":["/)" + ns + R"(/db"]})";
  auto https = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{
        "--cacert", dir + "/ca.crt", "-H", "Content-Type: application/json", "--data-binary", body};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return server.request(argv);
  };
  HttpReply by_cert;
  for (int i = 0; i < 100 && by_cert.status != 200; ++i) {  // until the index is synced
    by_cert = https({"--cert", dir + "/client.crt", "--key", dir + "/client.key"});
    if (by_cert.status != 200) std::this_thread::sleep_for(100ms);
  }
  INFO(by_cert.body);
  CHECK(by_cert.status == 200);
  CHECK(patched_names(by_cert) == std::vector<std::string>{ns + "/db"});
  CHECK(https({}).status == 401);                     // no certificate, no password
  CHECK(https({"-u", "hook:s3cret"}).status == 200);  // Basic still works over HTTPS
  CHECK(server.request({"http://127.0.0.1:" + server.port() + "/healthz"}).status != 200);
  CHECK(
      server
          .request({"--cacert", dir + "/ca.crt", "https://127.0.0.1:" + server.port() + "/healthz"})
          .status == 200);
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "serve escapes and bounds sender-chosen metric labels, and refuses a key it cannot read") {
  const auto ns = unique_namespace("serve-labels");
  Server server({"-n", ns});
  const auto odd = server.post(
      "/webhook", R"({"specversion": "1.0", "id": "1", "source": "/s", "type": "a\"b\nc\\d",
                      "subject": "/x"})");
  CHECK(odd.status == 200);
  CHECK(server.get("/no/such/\"route\\").status == 404);
  const std::string metrics = server.get("/metrics").body;
  CHECK(contains(metrics, R"(type="a\"b\nc\\d"} 1)"));
  // A path is the client's to choose: unknown routes share one label.
  CHECK(contains(metrics, R"(eso_updater_http_requests_total{route="other",code="404"} 1)"));
  CHECK_FALSE(contains(metrics, "no/such"));
  const auto refused =
      run_process({ESO_UPDATER_BINARY, "-n", ns, "serve", "--listen", "127.0.0.1:0"},
                  {"BASIC_AUTH_USER=", "BASIC_AUTH_PASSWORD=", "WEBHOOK_API_KEY=k"});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "--api-key-header nor --api-key-query"));
}

namespace {

// An ExternalSecret reading `key` through the SecretStore `store`.
std::string es_via(const std::string& ns, const std::string& name, const std::string& key,
                   const std::string& store) {
  std::string yaml = external_secret_yaml(ns, name, {key});
  const std::string from = "{name: akeyless, kind: SecretStore}";
  yaml.replace(yaml.find(from), from.size(), "{name: " + store + ", kind: SecretStore}");
  return yaml;
}

std::string stores_yaml(const std::string& ns) {
  return event_fixture(R"(apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: inf-prod, namespace: {NS}}
spec:
  provider:
    infisical:
      auth:
        universalAuthCredentials:
          clientId: {name: inf, key: id}
          clientSecret: {name: inf, key: secret}
      secretsScope: {projectSlug: payments, environmentSlug: prod, secretsPath: /backend}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: kv, namespace: {NS}}
spec:
  provider:
    azurekv: {vaultUrl: "https://prod-kv.vault.azure.net"}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: gsm, namespace: {NS}}
spec:
  provider:
    gcpsm: {projectID: my-project}
---
)",
                       ns);
}

}  // namespace

TEST_CASE("serve --stores scopes by provider and places Infisical keys in their store's folder") {
  const auto ns = unique_namespace("serve-stores");
  kubectl({"apply", "-f", "-"},
          stores_yaml(ns) + es_via(ns, "infisical-plain", "DB_USER", "inf-prod") +
              es_via(ns, "akeyless-same-folder", "/backend/DB_USER", "akeyless") +
              es_via(ns, "azure", "shared-name", "kv") + es_via(ns, "gcp", "shared-name", "gsm"));
  {
    // Without store knowledge, ?provider= cannot be honoured: a clear 422, never a guess.
    Server plain({"-n", ns});
    const auto refused =
        plain.post("/webhook/generic?provider=azurekv", R"({"keys":["shared-name"]})");
    CHECK(refused.status == 422);
    CHECK(contains(refused.body, "--stores"));
  }
  Server server({"-n", ns}, {"--stores"});
  const auto both = server.post("/webhook", R"({"keys":["shared-name"]})");
  CHECK(patched_names(both) == std::vector<std::string>{ns + "/azure", ns + "/gcp"});
  const auto azure_only = server.post(
      "/webhook/azure?provider=azurekv",
      R"([{"eventType": "Microsoft.KeyVault.SecretNewVersionCreated", "subject": "shared-name",
           "data": {"ObjectName": "shared-name"}}])");
  INFO(azure_only.body);
  CHECK(azure_only.status == 200);
  CHECK(patched_names(azure_only) == std::vector<std::string>{ns + "/azure"});

  const std::string infisical = R"({"event": "secrets.modified", "project": {"workspaceId": "w",
      "environment": "prod", "secretPath": "/backend"}, "timestamp": 1})";
  const auto prod = server.post("/webhook/infisical?provider=infisical", infisical);
  INFO(prod.body);
  CHECK(prod.status == 200);
  CHECK(patched_names(prod) == std::vector<std::string>{ns + "/infisical-plain"});
  std::string dev = infisical;
  dev.replace(dev.find("prod"), 4, "dev");
  const auto other_env = server.post("/webhook/infisical?provider=infisical", dev);
  CHECK(other_env.status == 200);
  CHECK(patched_names(other_env).empty());
  CHECK(server.metric("eso_updater_event_lists_total") == 0);
}

TEST_CASE("a Doppler config change without names refreshes what reads that config's stores") {
  const auto ns = unique_namespace("serve-doppler");
  kubectl({"apply", "-f", "-"}, event_fixture(R"(apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: doppler-prd, namespace: {NS}}
spec:
  provider:
    doppler:
      auth: {secretRef: {dopplerToken: {name: doppler, key: token}}}
      project: backend
      config: prd
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: doppler-dev, namespace: {NS}}
spec:
  provider:
    doppler:
      auth: {secretRef: {dopplerToken: {name: doppler, key: token}}}
      project: backend
      config: dev
---
)",
                                              ns) +
                                    es_via(ns, "prd", "DATABASE_URL", "doppler-prd") +
                                    es_via(ns, "dev", "DATABASE_URL", "doppler-dev") +
                                    es_via(ns, "other", "DATABASE_URL", "akeyless"));
  const std::string body = R"({"type": "config.secrets.update",
      "config": {"name": "prd", "environment": "prd", "project": "backend"},
      "project": {"id": "backend", "name": "Backend"}, "workplace": {"id": "w"}})";
  {
    Server unaware({"-n", ns});
    const auto ignored = unaware.post("/webhook/doppler", body);
    CHECK(ignored.status == 200);
    CHECK(patched_names(ignored).empty());
    CHECK(contains(ignored.body, "--stores"));
  }
  Server server({"-n", ns}, {"--stores"});
  const auto reply = server.post("/webhook/doppler", body);
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(patched_names(reply) == std::vector<std::string>{ns + "/prd"});
  CHECK(contains(reply.body, "doppler-config"));
}

TEST_CASE("serve refuses to start on half-configured Basic credentials, naming what is missing") {
  const auto no_password =
      run_process({ESO_UPDATER_BINARY, "serve", "--listen", "127.0.0.1:0"},
                  {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=", "WEBHOOK_BEARER_TOKEN=t"});
  CHECK(no_password.exit_code == 2);
  CHECK(contains(no_password.err, "BASIC_AUTH_PASSWORD"));
  const auto no_user = run_process({ESO_UPDATER_BINARY, "serve", "--listen", "127.0.0.1:0"},
                                   {"BASIC_AUTH_USER=", "BASIC_AUTH_PASSWORD=s3cret"});
  CHECK(no_user.exit_code == 2);
  CHECK(contains(no_user.err, "BASIC_AUTH_USER"));
}

TEST_CASE("bytes a sender chose reach metrics, responses and logs as valid UTF-8") {
  const auto ns = unique_namespace("serve-utf8");
  Server server({"-n", ns}, {"--log-format", "json"});
  const auto reply =
      server.post("/webhook/akeyless", R"([{"item_name":"/k\u0001)"
                                       "\xff"
                                       R"(","event_type":"static-secret-updated"},)"
                                       R"({"item_name":"/x","event_type":")" +
                                           std::string("t\xff\xfe\xc0\xaf") + R"("}])");
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(http::valid_utf8(reply.body) == reply.body);
  rapidjson::Document doc;
  doc.Parse(reply.body.c_str());
  CHECK_FALSE(doc.HasParseError());
  const auto store_error =
      server.post("/webhook/generic?store=%FF%22", R"({"keys":["/a"],"store":"b"})");
  CHECK(store_error.status == 422);
  CHECK(http::valid_utf8(store_error.body) == store_error.body);
  const std::string metrics = server.get("/metrics").body;
  CHECK(http::valid_utf8(metrics) == metrics);
  CHECK(contains(metrics, "type=\"t\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 1"));
  const std::string log = server.log();
  CHECK(http::valid_utf8(log) == log);
}

TEST_CASE("an anonymous validation handshake is limited on its decoded body, chunked too") {
  const auto ns = unique_namespace("serve-anon");
  Server server({"-n", ns});
  const std::string big = write_temp_file(
      "big.json",
      R"([{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":")" +
          std::string(100 * 1024, 'a') + R"("}}])");
  for (const char* framing : {"Transfer-Encoding: chunked", "X-Framing: length"}) {
    CAPTURE(framing);
    const auto reply = server.request({"-H", "aeg-event-type: SubscriptionValidation", "-H",
                                       "Content-Type: application/json", "-H", framing,
                                       "--data-binary", "@" + big, server.url("/webhook/azure")});
    CHECK(reply.status == 413);
  }
}

TEST_CASE("a request signed without HTTP credentials takes its scope from serve's flags") {
  const auto ns = unique_namespace("serve-route-scope");
  const std::string key = ns + "_DATABASE_URL";
  kubectl({"apply", "-f", "-"},
          es_via(ns, "prd", key, "doppler-prd") + es_via(ns, "dev", key, "doppler-dev"));
  Server server({"-n", ns}, {"--route-store", "doppler=doppler-prd"},
                {"DOPPLER_WEBHOOK_SECRET=dop-secret"});
  const std::string body = event_fixture(
      R"({"type": "config.secrets.update", "config": {"name": "prd"},
          "diff": {"added": [], "removed": [], "updated": ["{NS}_DATABASE_URL"]}})",
      ns);
  auto post_signed = [&](const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Doppler-Signature: sha256=" + hmac_sha256_hex("dop-secret", body),
        "--data-binary",
        body,
        server.url(path)};
    args.insert(args.begin(), extra.begin(), extra.end());
    return server.request(args);
  };
  // A replayed body cannot be pointed at another store.
  const auto redirected = post_signed("/webhook/doppler?store=doppler-dev");
  INFO(redirected.body);
  CHECK(redirected.status == 422);
  CHECK(contains(redirected.body, "--route-store doppler=STORE"));
  CHECK(post_signed("/webhook/doppler?provider=akeyless").status == 422);
  // The configured scope applies, and repeating it in the query is harmless.
  for (const char* path : {"/webhook/doppler", "/webhook/doppler?store=doppler-prd"}) {
    CAPTURE(path);
    const auto scoped = post_signed(path);
    CHECK(scoped.status == 200);
    CHECK(patched_names(scoped) == std::vector<std::string>{ns + "/prd"});
  }
  // With HTTP credentials too, the query may narrow as before.
  const auto with_basic = post_signed("/webhook/doppler?store=doppler-dev", {"-u", "hook:s3cret"});
  CHECK(with_basic.status == 200);
  CHECK(patched_names(with_basic) == std::vector<std::string>{ns + "/dev"});
  const auto bad_flag = run_process({ESO_UPDATER_BINARY, "serve", "--route-store", "nosuch=x"},
                                    {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=s3cret"});
  CHECK(bad_flag.exit_code == 2);
  CHECK(contains(bad_flag.err, "SOURCE=VALUE"));
}

TEST_CASE(
    "slow heads and non-reading clients without credentials delay neither /healthz nor a webhook") {
  const auto ns = unique_namespace("serve-slowloris");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/slow/" + ns}));
  Server server({"-n", ns});
  auto connect_raw = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(server.port())));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  std::vector<int> hostile;
  for (int i = 0; i < 40; ++i) {  // ten times serve's 4 workers: half heads, no credentials
    hostile.push_back(connect_raw());
    const std::string half = i % 2 == 0 ? "GET /heal" : "POST /webhook HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::send(hostile.back(), half.data(), half.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(half.size()));
  }
  for (int i = 0; i < 4; ++i) {  // pipelined /metrics requests, never read
    const int fd = connect_raw();
    const int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string many;
    for (int j = 0; j < 500; ++j) many += "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    ::send(fd, many.data(), many.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    hostile.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);
  auto timed = [&](auto request) {
    const auto start = std::chrono::steady_clock::now();
    const HttpReply reply = request();
    return std::pair{reply, std::chrono::steady_clock::now() - start};
  };
  const auto [health, health_took] = timed([&] { return server.get("/healthz"); });
  CHECK(health.status == 200);
  CHECK(health_took < 1s);  // was ~10 s (serve's phase timeout) with a worker per connection
  const auto [hook, hook_took] =
      timed([&] { return server.post("/webhook", R"({"keys":["/slow/)" + ns + R"("]})"); });
  INFO(hook.body);
  CHECK(hook.status == 200);
  CHECK(names_in(hook.body, "patched") == std::vector<std::string>{ns + "/db"});
  CHECK(hook_took < 2s);
  for (int fd : hostile) ::close(fd);
}

TEST_CASE("a watch that goes silent (API server frozen) makes serve unready until it re-lists") {
  ExtraCluster cluster({});
  cluster.kubectl_here({"create", "namespace", "frozen"});
  cluster.kubectl_here({"apply", "-f", "-"}, external_secret_yaml("frozen", "db", {"/frozen"}));
  Server server({"--kubeconfig", cluster.kubeconfig(), "-n", "frozen"}, {"--watch-timeout", "3s"});
  REQUIRE(server.post("/webhook", R"({"keys":["/frozen"]})").status == 200);
  const int apiserver = std::stoi(read_file_text(cluster.state_dir() + "/kube-apiserver.pid"));
  // SIGSTOP: connections stay open and nothing comes, no error, no close: a silent watch.
  REQUIRE(::kill(apiserver, SIGSTOP) == 0);
  bool unready = false;
  for (int i = 0; i < 300 && !unready; ++i) {  // the watch timeout, plus margin: 30 s at most
    unready = server.get("/readyz").status == 503;
    if (!unready) std::this_thread::sleep_for(100ms);
  }
  const auto stale = server.post("/webhook", R"({"keys":["/frozen"]})");
  REQUIRE(::kill(apiserver, SIGCONT) == 0);
  CHECK(unready);
  CHECK(stale.status == 503);  // not synced: the sender retries
  CHECK(contains(server.log(), "no event or bookmark for 3 s; listing again"));
  REQUIRE(server.ready(60));
  const auto back = server.post("/webhook", R"({"keys":["/frozen"]})");
  INFO(back.body);
  CHECK(back.status == 200);
  CHECK(names_in(back.body, "patched") == std::vector<std::string>{"frozen/db"});
}

TEST_CASE("Expect: 100-continue over --max-body is refused 413 without a 100 Continue") {
  const auto ns = unique_namespace("serve-expect");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/expect/" + ns}));
  Server server({"-n", ns}, {"--max-body", "1024"});
  {
    const int fd = connect_loopback(std::stoi(server.port()));
    REQUIRE(fd >= 0);
    send_all(fd, post_head(1025, true));
    const std::string answer = read_until(fd);  // serve closes after an early error
    ::close(fd);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
    CHECK_FALSE(contains(answer, "100 Continue"));
    CHECK(contains(answer, "larger than 1024 bytes"));
  }
  {
    // Within the limit but without credentials: 401, and no 100 Continue either.
    const int fd = connect_loopback(std::stoi(server.port()));
    REQUIRE(fd >= 0);
    send_all(fd, post_head(100, true, false));
    const std::string answer = read_until(fd);
    ::close(fd);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 401", 0) == 0);
    CHECK_FALSE(contains(answer, "100 Continue"));
  }
  {
    // Within the limit: 100 Continue, then the body, then the answer.
    const std::string body = R"({"keys":["/expect/)" + ns + R"("]})";
    const int fd = connect_loopback(std::stoi(server.port()));
    REQUIRE(fd >= 0);
    send_all(fd, post_head(body.size(), true));
    CHECK(read_until(fd, "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(fd, body);
    const std::string answer = read_until(fd, R"("name":"db")");
    ::close(fd);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  }
}

TEST_CASE("serve takes WEBHOOK_BEARER_TOKEN as a Bearer credential, and a wrong token is 401") {
  const auto ns = unique_namespace("serve-bearer");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/bearer/" + ns}));
  Server server({"-n", ns}, {"--log-format", "json"}, {"WEBHOOK_BEARER_TOKEN=bt-7Qx2-env"});
  const std::string body = R"({"keys":["/bearer/)" + ns + R"("]})";
  auto with_bearer = [&](const std::string& token) {
    return server.request({"-H", "Authorization: Bearer " + token, "-H",
                           "Content-Type: application/json", "--data-binary", body,
                           server.url("/webhook")});
  };
  const auto good = with_bearer("bt-7Qx2-env");
  INFO(good.body);
  CHECK(good.status == 200);
  CHECK(names_in(good.body, "patched") == std::vector<std::string>{ns + "/db"});
  CHECK(with_bearer("bt-7Qx2-enw").status == 401);
  CHECK(with_bearer("bt-7Qx2-env-and-more").status == 401);
  CHECK(server.post("/webhook", body).status == 200);  // Basic still works beside it
  CHECK(server.metric("eso_updater_auth_failures_total") == 2);
  const std::string log = server.log();
  CHECK(contains(log, R"("status":401)"));  // the JSON access log saw the refusals
}

namespace {

// A directory laid out as the kubelet mounts a Secret: files are symlinks through `..data`,
// which is swapped atomically to a new timestamped directory on every update.
class MountedSecret {
 public:
  MountedSecret() {
    dir_ = write_temp_file("mounted", "");
    std::filesystem::remove(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~MountedSecret() { std::filesystem::remove_all(dir_); }
  const std::string& dir() const { return dir_; }

  void update(const std::map<std::string, std::string>& files) {
    const std::string version = "..v" + std::to_string(++version_);
    std::filesystem::create_directories(dir_ + "/" + version);
    for (const auto& [name, content] : files) {
      std::ofstream(dir_ + "/" + version + "/" + name) << content << "\n";
      if (!std::filesystem::is_symlink(dir_ + "/" + name)) {
        std::filesystem::create_symlink("..data/" + name, dir_ + "/" + name);
      }
    }
    std::filesystem::create_symlink(version, dir_ + "/..data_tmp");
    std::filesystem::rename(dir_ + "/..data_tmp", dir_ + "/..data");
  }

 private:
  std::string dir_;
  int version_ = 0;
};

}  // namespace

TEST_CASE("--credentials-dir is re-read when the mounted Secret changes: new token in, old out") {
  const auto ns = unique_namespace("serve-credsdir");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/credsdir/" + ns}));
  MountedSecret mounted;
  mounted.update({{"token", "dir-token-one-5k"}, {"password", "dir-pass-one-5k"}});
  Server server({"-n", ns}, {"--credentials-dir", mounted.dir(), "--log-format", "json"});
  for (const char* s : {"dir-token-one-5k", "dir-pass-one-5k", "dir-token-two-8m",
                        "dir-pass-two-8m", "dir-token-three-2z"}) {
    server.secret(s);
  }
  const std::string body = R"({"keys":["/credsdir/)" + ns + R"("]})";
  auto with_bearer = [&](const std::string& token) {
    return server
        .request({"-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
                  "--data-binary", body, server.url("/webhook")})
        .status;
  };
  CHECK(with_bearer("dir-token-one-5k") == 200);
  CHECK(with_bearer("dir-token-two-8m") == 401);
  // The file's password replaces BASIC_AUTH_PASSWORD; the environment's user stays.
  CHECK(server.post("/webhook", body, "hook:dir-pass-one-5k").status == 200);
  CHECK(server.post("/webhook", body, "hook:s3cret").status == 401);

  mounted.update({{"token", "dir-token-two-8m"}, {"password", "dir-pass-two-8m"}});
  bool rotated = false;
  for (int i = 0; i < 100 && !rotated; ++i) {  // re-read within about a second; 10 s at most
    rotated = with_bearer("dir-token-two-8m") == 200;
    if (!rotated) std::this_thread::sleep_for(100ms);
  }
  CHECK(rotated);
  CHECK(with_bearer("dir-token-one-5k") == 401);
  CHECK(server.post("/webhook", body, "hook:dir-pass-two-8m").status == 200);
  CHECK(server.post("/webhook", body, "hook:dir-pass-one-5k").status == 401);

  // Edited in place (no symlink swap): read again too.
  std::ofstream(mounted.dir() + "/token") << "dir-token-three-2z\n";
  bool edited = false;
  for (int i = 0; i < 100 && !edited; ++i) {
    edited = with_bearer("dir-token-three-2z") == 200;
    if (!edited) std::this_thread::sleep_for(100ms);
  }
  CHECK(edited);
  CHECK(with_bearer("dir-token-two-8m") == 401);
}

}  // namespace eso::test
