#include "core/event_decoder.h"

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <doctest/doctest.h>

namespace eso {

TEST_CASE("Akeyless and generic payloads decode to de-duplicated keys") {
  struct Case {
    const char* name;
    const char* body;
    const char* source;
    const char* want_source;
    std::vector<std::string> want_keys;
    size_t events;
    size_t ignored;
  };
  const Case cases[] = {
      {"single event",
       R"({"item_name": "/prod/db", "event_type": "static-secret-updated"})",
       "",
       "akeyless",
       {"/prod/db"},
       1,
       0},
      {"array of events",
       R"([{"item_name": "/a", "event_type": "rotated-secret-success", "event_id": 7,
            "payload": {"nested": [1, 2]}},
           {"item_name": "/b", "event_type": "static-secret-updated"},
           {"item_name": "/a", "event_type": "static-secret-updated"}])",
       "",
       "akeyless",
       {"/a", "/b"},
       3,
       0},
      {"grouped envelope",
       R"({"Akeyless_Events": {"static-secret-updated": [{"item_name": "/x"}, {"name": "/y"}],
           "certificate-expired": [{"item_name": "/cert"}]}})",
       "",
       "akeyless",
       {"/x", "/y"},
       3,
       1},
      {"name fallback and untyped event",
       R"({"name": "/legacy"})",
       "",
       "akeyless",
       {"/legacy"},
       1,
       0},
      {"ignored type",
       R"({"item_name": "/c", "event_type": "certificate-expired"})",
       "",
       "akeyless",
       {},
       1,
       1},
      {"missing item_name",
       R"([{"event_type": "static-secret-updated"}, 5])",
       "",
       "akeyless",
       {},
       2,
       2},
      {"generic",
       R"({"keys": ["/a", "b", "/a"], "store": "s", "provider": "akeyless"})",
       "",
       "generic",
       {"/a", "b"},
       1,
       0},
      {"explicit source", R"({"item_name": "/p"})", "akeyless", "akeyless", {"/p"}, 1, 0},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto r = decode_events(c.body, c.source);
    const std::string error = r.ok() ? std::string() : r.error().message;
    INFO(error);
    REQUIRE(r.ok());
    CHECK(r->source == c.want_source);
    CHECK(r->keys == c.want_keys);
    CHECK(r->events == c.events);
    CHECK(r->ignored.size() == c.ignored);
  }
  auto grouped = decode_events(
      R"({"Akeyless_Events": {"static-secret-updated": [{"item_name": "/x"}, {"name": "/y"}],
          "certificate-expired": [{"item_name": "/c"}]}})",
      "");
  REQUIRE(grouped.ok());
  CHECK(grouped->types ==
        std::map<std::string, size_t>{{"certificate-expired", 1}, {"static-secret-updated", 2}});
  auto generic = decode_events(R"({"keys": ["/a"], "store": "s", "provider": "aws"})", "");
  REQUIRE(generic.ok());
  CHECK(generic->store == "s");
  CHECK(generic->provider == "aws");
}

TEST_CASE("an event-type allow-list replaces the defaults") {
  DecodeOptions options;
  options.event_types = {"certificate-expired"};
  auto r = decode_events(
      R"([{"item_name": "/c", "event_type": "certificate-expired"},
          {"item_name": "/s", "event_type": "static-secret-updated"}])",
      "", options);
  REQUIRE(r.ok());
  CHECK(r->keys == std::vector<std::string>{"/c"});
  REQUIRE(r->ignored.size() == 1);
  CHECK(r->ignored[0].event_type == "static-secret-updated");
}

TEST_CASE("bad bodies are clear errors, never crashes") {
  struct Case {
    std::string body;
    const char* source;
    const char* want;
  };
  const Case cases[] = {
      {"", "", "malformed JSON"},
      {"{", "", "malformed JSON"},
      {"[1,2", "", "malformed JSON"},
      {R"({"item_name": "/a"} trailing)", "", "malformed JSON"},
      {std::string("{\"item_name\": \"/a\0b\"}", 20), "", "malformed JSON"},
      {"42", "", "no event format"},
      {"[]", "", "no event format"},
      {R"({"unrelated": true})", "", "no event format"},
      {R"({"keys": "x"})", "", "array of strings"},
      {R"({"keys": [1]})", "", "non-empty strings"},
      {R"({"keys": [""]})", "", "non-empty strings"},
      {R"({"Akeyless_Events": []})", "", "Akeyless_Events"},
      {R"({"item_name": "/a"})", "nosuch", "unknown event source"},
      // Parsed without recursion (no stack exhausted), then recognised as no format at all.
      {std::string(100000, '[') + std::string(100000, ']'), "", "no event format"},
      {R"([{"message": 1}])", "gcp", "\"message\" object"},
      {R"([1])", "doppler", "JSON object"},
      {R"("x")", "infisical", "JSON object"},
      {R"({"unrelated": 1})", "generic", "array of strings"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.substr(0, 40));
    REQUIRE_MESSAGE(std::string_view(c.want).size() > 0, "every case names its message");
    auto r = decode_events(c.body, c.source);
    REQUIRE_FALSE(r.ok());
    const ErrorCode want = std::string_view(c.source) == "nosuch" ? ErrorCode::kNotFound
                           : std::string_view(c.want) == "malformed JSON"
                               ? ErrorCode::kMalformed
                               : ErrorCode::kInvalidArgument;
    CHECK(r.error().code == want);
    CHECK(r.error().message.find(c.want) != std::string::npos);
  }
}

TEST_CASE("too many events in one body are rejected") {
  std::string body = "[";
  for (int i = 0; i < 20; ++i) body += std::string(i ? "," : "") + R"({"item_name": "/k"})";
  body += "]";
  DecodeOptions options;
  options.max_events = 10;
  auto r = decode_events(body, "", options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("at most 10") != std::string::npos);
}

}  // namespace eso

namespace eso {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(ESO_TEST_DATA_DIR) + "/events/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A request with headers, as serve builds it.
struct FakeRequest {
  FakeRequest(const FakeRequest&) = delete;
  FakeRequest& operator=(const FakeRequest&) = delete;
  std::string body;
  std::map<std::string, std::string> headers;
  EventRequest request;

  explicit FakeRequest(std::string b, std::map<std::string, std::string> h = {})
      : body(std::move(b)), headers(std::move(h)) {
    request.body = body;
    request.header = [this](std::string_view name) -> const std::string* {
      const auto it = headers.find(std::string(name));
      return it == headers.end() ? nullptr : &it->second;
    };
  }
};

}  // namespace

TEST_CASE("every provider's documented notifications decode to the keys ESO reads") {
  struct Case {
    const char* file;
    const char* route;  // "" = auto-detect
    const char* want_source;
    std::vector<std::string> keys;
    std::vector<std::string> paths;
    size_t events;
    size_t ignored;
  };
  const Case cases[] = {
      {"aws-label-updated.json", "", "aws", {"prod/db"}, {}, 1, 0},
      {"aws-label-updated.json", "aws", "aws", {"prod/db"}, {}, 1, 0},
      {"aws-label-custom.json", "", "aws", {}, {}, 1, 1},
      {"aws-cloudtrail-put.json",
       "",
       "aws",
       {"arn:aws:secretsmanager:eu-central-1:111122223333:secret:prod/api-key-Qw34Er"},
       {},
       1,
       0},
      {"aws-cloudtrail-rotation.json",
       "",
       "aws",
       {"arn:aws:secretsmanager:eu-central-1:111122223333:secret:prod/rotated-Zx98Cv"},
       {},
       1,
       0},
      {"aws-cloudtrail-failed.json", "", "aws", {}, {}, 1, 1},
      {"azure-eventgrid.json", "", "azure", {"db-password", "cert/tls-frontend"}, {}, 3, 1},
      {"azure-eventgrid.json", "azure", "azure", {"db-password", "cert/tls-frontend"}, {}, 3, 1},
      {"azure-cloudevent.json", "", "cloudevents", {"api-token"}, {}, 1, 0},
      {"cloudevents-structured.json", "", "cloudevents", {"/prod/payments/stripe"}, {}, 1, 0},
      {"cloudevents-batch.json", "", "cloudevents", {"/prod/a", "/prod/b"}, {}, 4, 2},
      {"gcp-version-add.json", "", "gcp", {"projects/my-project/secrets/db-password"}, {}, 1, 0},
      {"gcp-data-only.json", "gcp", "gcp", {"projects/my-project/secrets/api-key"}, {}, 1, 0},
      {"gcp-rotate.json", "", "gcp", {}, {}, 1, 1},
      {"doppler.json", "", "doppler", {"NEW_FLAG", "DATABASE_URL", "STRIPE_KEY"}, {}, 1, 0},
      {"infisical.json", "", "infisical", {}, {"/backend/db"}, 1, 0},
      {"infisical-test.json", "infisical", "infisical", {}, {}, 1, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    CAPTURE(c.route);
    const std::string body = fixture(c.file);
    auto r = decode_events(body, c.route);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->source == c.want_source);
    CHECK(r->keys == c.keys);
    CHECK(r->paths == c.paths);
    CHECK(r->events == c.events);
    CHECK(r->ignored.size() == c.ignored);
    CHECK_FALSE(r->reply.has_value());
  }
}

TEST_CASE(
    "an SNS notification's Message is read as the EventBridge and CloudTrail events aws reads") {
  // SNS's envelope around a Message; the signature is serve's to check, not the decoder's.
  auto sns = [](const std::string& type, const std::string& message) {
    return R"({"Type":")" + type +
           R"(","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":)" + message +
           R"(,"Timestamp":"2026-12-01T07:00:00.000Z","SignatureVersion":"2","Signature":"x",)"
           R"("SigningCertURL":"https://sns.us-east-1.amazonaws.com/c.pem"})";
  };
  const std::string cloudtrail =
      R"("{\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":{\"eventSource\":)"
      R"(\"secretsmanager.amazonaws.com\",\"eventName\":\"PutSecretValue\",)"
      R"(\"requestParameters\":{\"secretId\":\"prod/db\"}}}")";
  const std::string label =
      R"("{\"detail-type\":\"Secret Label Updated\",\"detail\":{\"name\":\"prod/api\",)"
      R"(\"labelUpdated\":\"AWSCURRENT\"}}")";
  struct Case {
    std::string body;
    const char* route;
    std::vector<std::string> keys;
    size_t events;
    size_t ignored;
  };
  const Case cases[] = {
      {sns("Notification", cloudtrail), "sns", {"prod/db"}, 1, 0},
      {sns("Notification", cloudtrail), "", {"prod/db"}, 1, 0},
      {sns("Notification", label), "sns", {"prod/api"}, 1, 0},
      {sns("Notification", R"("plain text, no event")"), "sns", {}, 1, 1},
      {sns("Notification", R"("{\"unrelated\":1}")"), "sns", {}, 1, 1},
      {sns("SubscriptionConfirmation", R"("confirm")"), "sns", {}, 1, 1},
      {sns("UnsubscribeConfirmation", R"("bye")"), "", {}, 1, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto r = decode_events(c.body, c.route);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->source == "sns");
    CHECK(r->key_rule == "aws");
    CHECK(r->keys == c.keys);
    CHECK(r->events == c.events);
    CHECK(r->ignored.size() == c.ignored);
  }
  auto not_string = decode_events(sns("Notification", "{}"), "sns");
  REQUIRE_FALSE(not_string.ok());
  CHECK(not_string.error().code == ErrorCode::kInvalidArgument);
  CHECK(not_string.error().message.find("\"Message\" string") != std::string::npos);
}

TEST_CASE("ignored events say why") {
  auto rotate = decode_events(fixture("gcp-rotate.json"), "");
  REQUIRE(rotate.ok());
  REQUIRE(rotate->ignored.size() == 1);
  CHECK(rotate->ignored[0].event_type == "SECRET_ROTATE");
  CHECK(rotate->ignored[0].reason.find("rotation is due") != std::string::npos);
  CHECK(rotate->types.at("SECRET_ROTATE") == 1);

  auto label = decode_events(fixture("aws-label-custom.json"), "");
  REQUIRE(label.ok());
  CHECK(label->ignored[0].reason.find("\"blue\"") != std::string::npos);

  // An explicit --event-type list replaces every source's defaults.
  DecodeOptions options;
  options.event_types = {"SECRET_ROTATE"};
  auto chosen = decode_events(fixture("gcp-rotate.json"), "", options);
  REQUIRE(chosen.ok());
  CHECK(chosen->keys == std::vector<std::string>{"projects/my-project/secrets/db-password"});
  auto not_chosen = decode_events(fixture("gcp-version-add.json"), "", options);
  REQUIRE(not_chosen.ok());
  CHECK(not_chosen->keys.empty());
  CHECK(not_chosen->ignored.size() == 1);
}

TEST_CASE("Azure Event Grid's subscription validation is answered with the code") {
  auto r = decode_events(fixture("azure-validation.json"), "");
  REQUIRE(r.ok());
  CHECK(r->source == "azure");
  REQUIRE(r->reply.has_value());
  CHECK(r->reply->status == 200);
  CHECK(r->reply->body == R"({"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})");
  CHECK(r->keys.empty());
  // Field names in any casing.
  auto lower = decode_events(
      R"([{"eventtype": "Microsoft.KeyVault.SecretNewVersionCreated",
           "data": {"objectname": "Mixed-Case"}}])",
      "azure");
  REQUIRE(lower.ok());
  CHECK(lower->keys == std::vector<std::string>{"Mixed-Case"});
}

TEST_CASE("CloudEvents in binary mode read the ce- headers") {
  FakeRequest binary(R"({"path": "/from/data"})", {{"ce-specversion", "1.0"},
                                                   {"ce-type", "com.example.changed"},
                                                   {"ce-subject", "/from/subject"},
                                                   {"ce-id", "1"},
                                                   {"content-type", "application/json"}});
  auto r = decode_events(binary.request, "");
  REQUIRE(r.ok());
  CHECK(r->source == "cloudevents");
  CHECK(r->keys == std::vector<std::string>{"/from/subject"});

  DecodeOptions options;
  options.cloudevents_key_path = "path";
  auto from_data = decode_events(binary.request, "cloudevents", options);
  REQUIRE(from_data.ok());
  CHECK(from_data->keys == std::vector<std::string>{"/from/data"});

  // Binary data need not be JSON; the subject still names the key.
  FakeRequest text("not json at all", {{"ce-specversion", "1.0"},
                                       {"ce-type", "t"},
                                       {"ce-subject", "/s"},
                                       {"content-type", "text/plain"}});
  auto plain = decode_events(text.request, "cloudevents");
  REQUIRE(plain.ok());
  CHECK(plain->keys == std::vector<std::string>{"/s"});

  // Header values are percent-encoded by the HTTP binding.
  FakeRequest encoded(
      "", {{"ce-specversion", "1.0"}, {"ce-type", "t"}, {"ce-subject", "/team%20a/caf%C3%A9%2"}});
  auto decoded = decode_events(encoded.request, "");
  REQUIRE(decoded.ok());
  CHECK(decoded->keys == std::vector<std::string>{"/team a/caf\xC3\xA9%2"});

  FakeRequest batch(R"({"specversion": "1.0", "type": "t", "subject": "/x"})",
                    {{"content-type", "application/cloudevents-batch+json"}});
  auto not_array = decode_events(batch.request, "");
  REQUIRE_FALSE(not_array.ok());
  CHECK(not_array.error().message.find("batch must be a JSON array") != std::string::npos);
}

TEST_CASE("--key-path reads keys from any JSON") {
  DecodeOptions options;
  options.key_paths = {"detail.name", "items[].path"};
  auto r = decode_events(
      R"({"detail": {"name": "/one"}, "items": [{"path": "/two"}, {"path": 3}, {"path": "/one"}]})",
      "", options);
  REQUIRE(r.ok());
  CHECK(r->source == "generic");
  CHECK(r->keys == std::vector<std::string>{"/one", "/two"});

  auto each = decode_events(R"([{"detail": {"name": "/a"}}, {"other": 1}])", "", options);
  REQUIRE(each.ok());
  CHECK(each->events == 2);
  CHECK(each->keys == std::vector<std::string>{"/a"});
  CHECK(each->ignored.size() == 1);

  // Without --key-path the same body is no known format.
  CHECK_FALSE(decode_events(R"({"detail": {"name": "/one"}})", "").ok());
}

TEST_CASE("Doppler signatures are checked over the raw body") {
  const std::string body = fixture("doppler.json");
  const std::string good = "sha256=" + hmac_sha256_hex("doppler-signing-key", body);
  // RFC 4231 test case 2: the HMAC itself.
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  FakeRequest signed_ok(body, {{"x-doppler-signature", good}});
  signed_ok.request.signing_secrets["doppler"] = "doppler-signing-key";
  auto r = decode_events(signed_ok.request, "doppler");
  REQUIRE(r.ok());
  CHECK(r->keys.size() == 3);
  auto detected = decode_events(signed_ok.request, "");
  REQUIRE(detected.ok());
  CHECK(detected->source == "doppler");

  const std::pair<const char*, std::map<std::string, std::string>> bad[] = {
      {"missing", {}},
      {"wrong key", {{"x-doppler-signature", "sha256=" + hmac_sha256_hex("other", body)}}},
      {"no prefix", {{"x-doppler-signature", hmac_sha256_hex("doppler-signing-key", body)}}},
      {"upper-case hex", {{"x-doppler-signature", "sha256=" + std::string(64, 'A')}}},
  };
  for (const auto& [name, headers] : bad) {
    CAPTURE(name);
    FakeRequest request(body, headers);
    request.request.signing_secrets["doppler"] = "doppler-signing-key";
    auto rejected = decode_events(request.request, "doppler");
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.error().code == ErrorCode::kUnauthorized);
  }
  // A changed body no longer matches its signature.
  const std::string tampered = body + " ";
  FakeRequest changed(tampered, {{"x-doppler-signature", good}});
  changed.request.signing_secrets["doppler"] = "doppler-signing-key";
  CHECK(decode_events(changed.request, "").error().code == ErrorCode::kUnauthorized);
  // Without a configured secret nothing is checked (HTTP credentials guard the route).
  FakeRequest unsigned_request(body);
  CHECK(decode_events(unsigned_request.request, "doppler").ok());
}

TEST_CASE("Infisical signatures carry a timestamp that must be fresh") {
  // The fixture's body says "timestamp": 1793610845000; the HMAC covers the body only.
  const std::string body = fixture("infisical.json");
  const auto sent = std::chrono::system_clock::time_point(std::chrono::milliseconds(1793610845000));
  const std::string mac = hmac_sha256_hex("infisical-key", body);
  auto request = [&](const std::string& header, std::chrono::system_clock::time_point now) {
    auto r = std::make_unique<FakeRequest>(
        body, std::map<std::string, std::string>{{"x-infisical-signature", header}});
    r->request.signing_secrets["infisical"] = "infisical-key";
    r->request.now = now;
    return r;
  };
  const std::string good = "t=1793610845000;" + mac;
  auto fresh = request(good, sent);
  auto r = decode_events(fresh->request, "infisical");
  REQUIRE(r.ok());
  CHECK(r->paths == std::vector<std::string>{"/backend/db"});
  CHECK(decode_events(request(good, sent + std::chrono::seconds(245))->request, "").ok());

  const struct {
    const char* name;
    std::string header;
    std::chrono::system_clock::time_point now;
    const char* why;
  } bad[] = {
      {"stale", good, sent + std::chrono::minutes(10), "stale"},
      {"from the future", good, sent - std::chrono::minutes(10), "stale"},
      // A replay with a fresh t: the signed body still says when it was sent.
      {"replayed with a new t", "t=1793611445000;" + mac, sent + std::chrono::minutes(10),
       "differs"},
      {"wrong mac", "t=1793610845000;" + hmac_sha256_hex("other", body), sent, "does not match"},
      {"no timestamp", mac, sent, "t=<ms>"},
      {"junk timestamp", "t=17936x0845000;" + mac, sent, "no valid timestamp"},
      {"empty timestamp", "t=;" + mac, sent, "no valid timestamp"},
      {"overflowing timestamp", "t=99999999999999999999999;" + mac, sent, "no valid timestamp"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.name);
    REQUIRE_MESSAGE(std::string_view(b.why).size() > 0, "every case names its message");
    auto rejected = decode_events(request(b.header, b.now)->request, "infisical");
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.error().code == ErrorCode::kUnauthorized);
    CHECK(rejected.error().message.find(b.why) != std::string::npos);
  }
}

TEST_CASE("keys are de-duplicated in linear time and capped per body") {
  std::string body = R"({"keys": [)";
  for (int i = 0; i < 60000; ++i) body += (i ? ",\"/k" : "\"/k") + std::to_string(i % 30000) + "\"";
  body += "]}";
  DecodeOptions options;
  options.max_keys = 40000;
  const auto start = std::chrono::steady_clock::now();
  auto r = decode_events(body, "", options);
  REQUIRE(r.ok());
  CHECK(r->keys.size() == 30000);
  CHECK(r->keys.front() == "/k0");
  CHECK(r->keys.back() == "/k29999");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  options.max_keys = 1000;
  auto capped = decode_events(body, "", options);
  REQUIRE_FALSE(capped.ok());
  CHECK(capped.error().message.find("30000 distinct keys") != std::string::npos);
}

TEST_CASE("AWS: a PutSecretValue staged elsewhere than AWSCURRENT changes nothing ESO reads") {
  auto r = decode_events(
      R"({"detail-type": "AWS API Call via CloudTrail", "source": "aws.secretsmanager",
          "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "PutSecretValue",
          "requestParameters": {"secretId": "prod/db", "versionStages": ["AWSPENDING"]}}})",
      "");
  REQUIRE(r.ok());
  CHECK(r->keys.empty());
  REQUIRE(r->ignored.size() == 1);
  CHECK(r->ignored[0].reason.find("AWSCURRENT") != std::string::npos);
}

TEST_CASE("Infisical folders are normalised") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"event": "secrets.modified", "project": {"secretPath": "/"}})", "/"},
      {R"({"event": "secrets.modified", "project": {"secretPath": "a//b/"}})", "/a/b"},
      {R"({"event": "secret.modified", "project": {}})", "/"},
  };
  for (const auto& [body, want] : cases) {
    CAPTURE(body);
    auto r = decode_events(body, "infisical");
    REQUIRE(r.ok());
    CHECK(r->paths == std::vector<std::string>{want});
  }
}

}  // namespace eso

namespace eso {

TEST_CASE("Doppler's default payload, without a diff, names its config") {
  auto r = decode_events(R"({"type": "config.secrets.update",
      "config": {"name": "prd", "environment": "prd", "project": "714faaa5958"},
      "project": {"id": "714faaa5958", "name": "Backend"}, "workplace": {"id": "fcd76"}})",
                         "");
  REQUIRE(r.ok());
  CHECK(r->source == "doppler");
  CHECK(r->keys.empty());
  CHECK(r->ignored.empty());
  REQUIRE(r->configs.size() == 1);
  CHECK(r->configs[0] == ConfigScope{"doppler", {"714faaa5958", "Backend"}, "prd"});
  auto enclave = decode_events(R"({"type": "enclave.project.config.secrets.update",
      "config": {"name": "dev", "project": "backend"}})",
                               "");
  REQUIRE(enclave.ok());
  CHECK(enclave->source == "doppler");
  REQUIRE(enclave->configs.size() == 1);
  CHECK(enclave->configs[0].config == "dev");
  auto nameless = decode_events(R"({"type": "config.secrets.update"})", "doppler");
  REQUIRE(nameless.ok());
  CHECK(nameless->configs.empty());
  CHECK(nameless->ignored.size() == 1);
}

}  // namespace eso
