// The cloud senders end to end (issue 16): serve verifies Google Pub/Sub push tokens against a
// JWK set from a local HTTPS key server, Amazon SNS signatures with a certificate from a local
// HTTPS "SNS" host, and answers redeliveries without patching again. Keys, certificates, tokens
// and SNS messages are made here; the objects are read back with kubectl.
#include <openssl/evp.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/base64.h"
#include "test/cli/cluster_fixture.h"
#include "test/cli/serve_process.h"
#include "test/webhook/fakes.h"
#include "test/webhook/test_pki.h"
#include "webhook/verify/sns_message.h"

namespace eso::test {
namespace {

using namespace std::chrono_literals;
using webhook::test::LocalHttpsServer;

constexpr const char* kAudience = "https://eso-updater.example/webhook/gcp";
constexpr const char* kPusher = "pusher@my-project.iam.gserviceaccount.com";
constexpr const char* kKeysPath = "/oauth2/v3/certs";
constexpr const char* kTopic = "arn:aws:sns:us-east-1:123456789012:secret-changes";
constexpr const char* kCertPath = "/SimpleNotificationService-test.pem";

// The keys Google signs with (as far as serve knows): kid k1 is test key 2.
EVP_PKEY* google_key() { return webhook::test::rsa_key(2).get(); }
EVP_PKEY* other_key() { return webhook::test::rsa_key(3).get(); }

// A push subscription's OIDC token for `audience`, signed by `key` as kid k1.
std::string push_token(EVP_PKEY* key, const std::string& audience) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return webhook::test::make_jwt(
      key, R"({"alg":"RS256","kid":"k1","typ":"JWT"})",
      fmt::format(R"({{"iss":"https://accounts.google.com","aud":"{}","azp":"1","email":"{}",)"
                  R"("email_verified":true,"sub":"1","iat":{},"exp":{}}})",
                  audience, kPusher, now, now + 3600));
}

// A Pub/Sub push body for Secret Manager's SECRET_VERSION_ADD of `secret`.
std::string pubsub_body(const std::string& secret, const std::string& message_id) {
  return fmt::format(
      R"({{"message":{{"attributes":{{"eventType":"SECRET_VERSION_ADD",)"
      R"("secretId":"projects/p/secrets/{}","dataFormat":"JSON_API_V1"}},"data":"e30=",)"
      R"("messageId":"{}","publishTime":"2026-12-01T07:00:00Z"}},)"
      R"("subscription":"projects/p/subscriptions/eso"}})",
      secret, message_id);
}

HttpReply push(Server& server, const std::string& token, const std::string& body,
               const std::string& path = "/webhook/gcp") {
  return server.request({"-i", "-H", "Authorization: Bearer " + token, "-H",
                         "Content-Type: application/json", "--data-binary", body,
                         server.url(path)});
}

// A local HTTPS server publishing k1 as Google does.
struct KeyServer {
  LocalHttpsServer https{"google-keys"};
  KeyServer() {
    https.set(kKeysPath, {200, webhook::test::jwk_set({webhook::test::jwk(google_key(), "k1")}),
                          "public, max-age=300", ""});
  }
  std::vector<std::string> flags() const {
    return {"--pubsub-audience",        kAudience,
            "--pubsub-service-account", kPusher,
            "--pubsub-keys-url",        https.url(kKeysPath),
            "--verify-ca-file",         https.ca_file()};
  }
};

std::string force_sync(const std::string& ns, const std::string& name) {
  return annotation(get_object("externalsecret", ns, name), "force-sync");
}

bool has_metric(Server& server, const std::string& series) {
  return contains(server.get("/metrics").body, series);
}

}  // namespace

TEST_CASE("a Pub/Sub push patches only with a valid Google token for serve's audience") {
  const auto ns = unique_namespace("pubsub-oidc");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "-gdb"}));
  KeyServer keys;
  Server server({"-n", ns}, keys.flags());
  const std::string body = pubsub_body(ns + "-gdb", "m-1");

  const auto wrong_audience = push(server, push_token(google_key(), "https://elsewhere/"), body);
  CHECK(wrong_audience.status == 403);
  const auto forged = push(server, push_token(other_key(), kAudience), body);
  CHECK(forged.status == 401);
  CHECK(contains(forged.body, "WWW-Authenticate: Bearer"));
  // The token replaces the HTTP credentials on this route: Basic alone is no way in.
  const auto basic = server.request({"-u", "hook:s3cret", "-H", "Content-Type: application/json",
                                     "--data-binary", body, server.url("/webhook/gcp")});
  CHECK(basic.status == 401);
  CHECK(force_sync(ns, "db").empty());

  // Authenticated by the token alone, the query string cannot choose a scope.
  const std::string good = push_token(google_key(), kAudience);
  CHECK(push(server, good, body, "/webhook/gcp?store=other").status == 422);
  const auto accepted = push(server, good, body);
  INFO(accepted.body);
  CHECK(accepted.status == 200);
  CHECK(contains(accepted.body, R"("name":"db")"));
  CHECK_FALSE(force_sync(ns, "db").empty());
  CHECK(keys.https.hits(kKeysPath) == 1);  // cached by its max-age

  CHECK(has_metric(
      server, R"(eso_updater_auth_failures_by_reason_total{reason="pubsub_wrong_audience"} 1)"));
  CHECK(has_metric(
      server, R"(eso_updater_auth_failures_by_reason_total{reason="pubsub_bad_signature"} 1)"));
  CHECK(has_metric(
      server, R"(eso_updater_auth_failures_by_reason_total{reason="pubsub_missing_token"} 1)"));
  const std::string log = server.log();
  CHECK(contains(log, "wrong_audience"));
  CHECK(contains(log, "bad_signature"));
}

TEST_CASE("a Pub/Sub push answers 503 with Retry-After while Google's keys cannot be fetched") {
  const auto ns = unique_namespace("pubsub-keys");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "-gdb"}));
  KeyServer keys;
  keys.https.set(kKeysPath, {500, "down", "", ""});
  Server server({"-n", ns}, keys.flags());
  const auto refused =
      push(server, push_token(google_key(), kAudience), pubsub_body(ns + "-gdb", "m-1"));
  CHECK(refused.status == 503);
  CHECK(contains(refused.body, "Retry-After:"));
  CHECK(force_sync(ns, "db").empty());
}

namespace {

// A service account of `ns` that may read ExternalSecrets (and patch them once `patch` is
// granted), and a kubeconfig with its token.
std::string kubeconfig_of_reader(const std::string& ns) {
  kubectl({"create", "role", "reader", "-n", ns, "--verb=get,list,watch",
           "--resource=externalsecrets.external-secrets.io"});
  kubectl({"create", "serviceaccount", "serve", "-n", ns});
  kubectl({"create", "rolebinding", "reader", "-n", ns, "--role=reader",
           "--serviceaccount=" + ns + ":serve"});
  std::string token = kubectl({"create", "token", "serve", "-n", ns});
  while (!token.empty() && token.back() == '\n') token.pop_back();
  const auto token_file = write_temp_file("token", token + "\n");
  return write_temp_file(
      "kubeconfig",
      fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}, "
                  "certificate-authority: {}/ca.crt}}\nusers:\n- name: u\n  user: {{tokenFile: "
                  "{}}}\ncontexts:\n- name: t\n  context: {{cluster: c, user: u}}\n",
                  cluster_server(), cluster_state_dir(), token_file));
}

void grant_patch(const std::string& ns) {
  kubectl({"create", "role", "patcher", "-n", ns, "--verb=patch",
           "--resource=externalsecrets.external-secrets.io"});
  kubectl({"create", "rolebinding", "patcher", "-n", ns, "--role=patcher",
           "--serviceaccount=" + ns + ":serve"});
  // RBAC takes effect a moment after it is written: wait until it does (bounded).
  bool allowed = false;
  for (int i = 0; i < 100 && !allowed; ++i) {
    allowed = run_process({kubectl_binary(), "auth", "can-i", "patch",
                           "externalsecrets.external-secrets.io", "-n", ns,
                           "--as=system:serviceaccount:" + ns + ":serve"})
                  .exit_code == 0;
    if (!allowed) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(allowed);
}

}  // namespace

TEST_CASE("a redelivered Pub/Sub message is answered duplicate unless its first try failed") {
  const auto ns = unique_namespace("pubsub-redelivery");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "-gdb"}));
  const auto kubeconfig = kubeconfig_of_reader(ns);
  KeyServer keys;
  Server server({"--kubeconfig", kubeconfig, "-n", ns}, keys.flags());
  const std::string body = pubsub_body(ns + "-gdb", "4821937");

  // serve may not patch yet: the first try fails, so Pub/Sub's redelivery is processed again.
  const auto failed = push(server, push_token(google_key(), kAudience), body);
  INFO(failed.body);
  CHECK(failed.status != 200);
  CHECK(force_sync(ns, "db").empty());
  grant_patch(ns);
  const auto retried = push(server, push_token(google_key(), kAudience), body);
  INFO(retried.body);
  CHECK(retried.status == 200);
  CHECK_FALSE(contains(retried.body, "duplicate"));
  const std::string patched = force_sync(ns, "db");
  REQUIRE_FALSE(patched.empty());

  // Processed in full: a redelivery patches nothing.
  std::this_thread::sleep_for(1100ms);  // a second patch would write a later stamp
  const auto again = push(server, push_token(google_key(), kAudience), body);
  INFO(again.body);
  CHECK(again.status == 200);
  CHECK(contains(again.body, R"("duplicate":true)"));
  CHECK(contains(again.body, R"("patched":[])"));
  CHECK(force_sync(ns, "db") == patched);
  CHECK(has_metric(server, R"(eso_updater_redeliveries_total{result="duplicate"} 1)"));
  // Another message about the same secret is no redelivery.
  const auto next =
      push(server, push_token(google_key(), kAudience), pubsub_body(ns + "-gdb", "4821938"));
  CHECK(next.status == 200);
  CHECK_FALSE(contains(next.body, "duplicate"));
}

namespace {

// SNS's messages as an SNS host would post them, signed by a certificate the local "SNS" host
// serves (issued by its CA, which serve is told to trust).
struct SnsHost {
  LocalHttpsServer https{"sns"};
  webhook::test::Cert signer = webhook::test::make_cert(
      webhook::test::CertSpec{"sns.amazonaws.com", false, "", -3600s, 2 * 86400s},
      webhook::test::rsa_key(4), &https.ca());
  SnsHost() { https.set(kCertPath, {200, signer.pem(), "", ""}); }

  std::vector<std::string> flags() const {
    return {"--sns-topic-arn",  kTopic,         "--sns-host-pattern", R"(^127\.0\.0\.1$)",
            "--verify-ca-file", https.ca_file()};
  }

  webhook::SnsMessage notification(const std::string& id, const std::string& secret_id) const {
    webhook::SnsMessage m;
    m.type = webhook::SnsMessageType::kNotification;
    m.type_name = "Notification";
    m.message_id = id;
    m.topic_arn = kTopic;
    m.subject = "Secrets Manager";
    m.message = fmt::format(
        R"({{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.secretsmanager",)"
        R"("detail":{{"eventSource":"secretsmanager.amazonaws.com","eventName":"PutSecretValue",)"
        R"("requestParameters":{{"secretId":"{}"}}}}}})",
        secret_id);
    m.timestamp = webhook::test::sns_time(std::chrono::system_clock::now());
    m.signature_version = "2";
    m.signing_cert_url = https.url(kCertPath);
    return m;
  }

  webhook::SnsMessage confirmation(const std::string& topic, const std::string& token) const {
    webhook::SnsMessage m = notification("c-1", "");
    m.type = webhook::SnsMessageType::kSubscriptionConfirmation;
    m.type_name = "SubscriptionConfirmation";
    m.topic_arn = topic;
    m.subject.reset();
    m.message = "You have chosen to subscribe to the topic.";
    m.token = token;
    m.subscribe_url = https.url("/confirm?Action=ConfirmSubscription&Token=" + token);
    return m;
  }

  std::string sign(webhook::SnsMessage& m) const {
    m.signature = base64_encode(
        webhook::test::sign(signer.key.get(), EVP_sha256(), webhook::sns_string_to_sign(m)));
    return to_json(m);
  }

  static std::string to_json(const webhook::SnsMessage& m) {
    std::string out = "{\"Type\":" + quoted(m.type_name);
    auto add = [&out](const char* name, const std::string& value) {
      out += std::string(",\"") + name + "\":" + quoted(value);
    };
    add("MessageId", m.message_id);
    add("TopicArn", m.topic_arn);
    if (m.subject) add("Subject", *m.subject);
    add("Message", m.message);
    add("Timestamp", m.timestamp);
    add("SignatureVersion", m.signature_version);
    add("Signature", m.signature);
    add("SigningCertURL", m.signing_cert_url);
    if (!m.subscribe_url.empty()) add("SubscribeURL", m.subscribe_url);
    if (!m.token.empty()) add("Token", m.token);
    return out + "}";
  }

  static std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out + "\"";
  }
};

// A POST as SNS makes it: no credentials, text/plain, the message type in a header.
HttpReply sns_post(Server& server, const std::string& type, const std::string& body) {
  return server.request({"-i", "-H", "x-amz-sns-message-type: " + type, "-H",
                         "Content-Type: text/plain; charset=UTF-8", "--data-binary", body,
                         server.url("/webhook/sns")});
}

}  // namespace

TEST_CASE("an SNS notification patches on its signature and a tampered one does not") {
  const auto ns = unique_namespace("sns-notify");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "/db"}) +
                                    external_secret_yaml(ns, "other", {ns + "/other"}));
  SnsHost sns;
  Server server({"-n", ns}, sns.flags());

  auto genuine = sns.notification("n-1", ns + "/db");
  const std::string body = sns.sign(genuine);
  auto tampered = genuine;
  tampered.message_id = "n-2";
  tampered.message.replace(tampered.message.find(ns + "/db"), ns.size() + 3, ns + "/other");
  const auto forged = sns_post(server, "Notification", SnsHost::to_json(tampered));
  CHECK(forged.status == 401);
  CHECK(force_sync(ns, "other").empty());

  auto elsewhere = sns.notification("n-3", ns + "/db");
  elsewhere.topic_arn = "arn:aws:sns:us-east-1:123456789012:someone-elses";
  CHECK(sns_post(server, "Notification", sns.sign(elsewhere)).status == 403);
  CHECK(force_sync(ns, "db").empty());

  // Genuine, but published two hours ago: SNS retries for one, so it is a replay.
  auto captured = sns.notification("n-0", ns + "/db");
  captured.timestamp = webhook::test::sns_time(std::chrono::system_clock::now() - 2h);
  const auto replayed = sns_post(server, "Notification", sns.sign(captured));
  CHECK(replayed.status == 401);
  CHECK(force_sync(ns, "db").empty());

  const auto accepted = sns_post(server, "Notification", body);
  INFO(accepted.body);
  CHECK(accepted.status == 200);
  CHECK(contains(accepted.body, R"("name":"db")"));
  CHECK_FALSE(force_sync(ns, "db").empty());
  CHECK(force_sync(ns, "other").empty());
  CHECK(sns.https.hits(kCertPath) == 1);  // cached
  // SNS retries a delivery it got no answer for: the same message, answered as a duplicate.
  const std::string stamp = force_sync(ns, "db");
  std::this_thread::sleep_for(1100ms);  // a second patch would write a later stamp
  const auto redelivered = sns_post(server, "Notification", body);
  CHECK(redelivered.status == 200);
  CHECK(contains(redelivered.body, R"("duplicate":true)"));
  CHECK(force_sync(ns, "db") == stamp);

  CHECK(has_metric(server,
                   R"(eso_updater_auth_failures_by_reason_total{reason="sns_bad_signature"} 1)"));
  CHECK(has_metric(
      server, R"(eso_updater_auth_failures_by_reason_total{reason="sns_topic_not_allowed"} 1)"));
  CHECK(has_metric(server, R"(eso_updater_auth_failures_by_reason_total{reason="sns_stale"} 1)"));
  const std::string log = server.log();
  CHECK(contains(log, "bad_signature"));
  CHECK(contains(log, "SNS stops retrying a delivery after 3600 s"));
  CHECK(contains(log, "SNS signatures of 1 topic(s) on /webhook/sns"));
}

TEST_CASE("--signature-tolerance widens SNS's hour of retries by the clocks' gap") {
  const auto ns = unique_namespace("sns-skew");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {ns + "/db"}));
  SnsHost sns;
  std::vector<std::string> flags = sns.flags();
  flags.insert(flags.end(), {"--signature-tolerance", "20m"});
  Server server({"-n", ns}, flags);
  const auto now = std::chrono::system_clock::now();
  auto late = sns.notification("skew-1", ns + "/db");
  late.timestamp = webhook::test::sns_time(now - 75min);  // within 1 h + 20 min
  const auto accepted = sns_post(server, "Notification", sns.sign(late));
  INFO(accepted.body);
  CHECK(accepted.status == 200);
  CHECK_FALSE(force_sync(ns, "db").empty());
  auto early = sns.notification("skew-2", ns + "/db");
  early.timestamp = webhook::test::sns_time(now + 25min);
  const auto refused = sns_post(server, "Notification", sns.sign(early));
  CHECK(refused.status == 401);
  CHECK(contains(refused.body, "SNS message refused: stale"));
  CHECK(contains(server.log(), "ahead of serve's clock"));
}

TEST_CASE("an SNS subscription is confirmed for an allowed topic only") {
  const auto ns = unique_namespace("sns-confirm");
  SnsHost sns;
  Server server({"-n", ns}, sns.flags());
  const std::string token = "2336412f37fb687f5d51e6e2425dacbb";
  server.secret(token);  // the confirmation token stays out of the log
  auto other = sns.confirmation("arn:aws:sns:us-east-1:123456789012:someone-elses", token);
  const std::string confirm_path = "/confirm?Action=ConfirmSubscription&Token=" + token;
  sns.https.set(confirm_path, {200, "<ConfirmSubscriptionResponse/>", "", ""});
  CHECK(sns_post(server, "SubscriptionConfirmation", sns.sign(other)).status == 403);
  CHECK(sns.https.hits(confirm_path) == 0);

  auto ours = sns.confirmation(kTopic, token);
  const auto confirmed = sns_post(server, "SubscriptionConfirmation", sns.sign(ours));
  INFO(confirmed.body);
  CHECK(confirmed.status == 200);
  CHECK(sns.https.hits(confirm_path) == 1);
  CHECK(contains(server.log(), "SNS subscription confirmed"));

  auto bye = sns.confirmation(kTopic, token);
  bye.type = webhook::SnsMessageType::kUnsubscribeConfirmation;
  bye.type_name = "UnsubscribeConfirmation";
  CHECK(sns_post(server, "UnsubscribeConfirmation", sns.sign(bye)).status == 200);
  CHECK(sns.https.hits(confirm_path) == 1);
}

TEST_CASE("serve refuses SNS and Pub/Sub flags that cannot work") {
  const auto ns = unique_namespace("senders-flags");
  const auto without_audience = eso_updater(
      {"-n", ns, "serve", "--listen", "127.0.0.1:0", "--pubsub-service-account", kPusher},
      {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=s3cret"});
  CHECK(without_audience.exit_code == 2);
  CHECK(contains(without_audience.err, "need --pubsub-audience"));
  const auto without_account =
      eso_updater({"-n", ns, "serve", "--listen", "127.0.0.1:0", "--pubsub-audience", kAudience},
                  {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=s3cret"});
  CHECK(without_account.exit_code == 2);
  CHECK(contains(without_account.err, "--pubsub-service-account"));
  // The SNS route is off unless topics are given.
  Server server({"-n", ns});
  CHECK(server.post("/webhook/sns", "{}").status == 404);
}

}  // namespace eso::test
