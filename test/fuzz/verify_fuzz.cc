// libFuzzer target: the cloud senders' decoders (webhook/verify) turn any bytes into a value or
// a clear error: SNS messages, their string to sign and their RFC 3339 times, delivery ids of
// every source, JWK sets, Bearer tokens up to the key lookup, base64url, URLs and Cache-Control
// values.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/rfc3339.h"
#include "webhook/verify/base64url.h"
#include "webhook/verify/delivery_id.h"
#include "webhook/verify/google_keys.h"
#include "webhook/verify/https_fetcher.h"
#include "webhook/verify/pubsub_token_verifier.h"
#include "webhook/verify/sns_message.h"

namespace {

// Every key fetch fails: a token is decoded and checked up to the key lookup, never further.
class NoNetwork final : public eso::webhook::HttpsFetcher {
 public:
  eso::Result<eso::webhook::FetchedDocument> get(const std::string&) override {
    return eso::Error{eso::ErrorCode::kUnreachable, "fuzz: no network"};
  }
};

const eso::webhook::PubSubTokenVerifier& token_verifier() {
  static const auto verifier = [] {
    eso::webhook::PubSubTokenConfig config;
    config.audience = "https://eso.example.com/";
    config.allowed_emails = {"pusher@example.iam.gserviceaccount.com"};
    return eso::webhook::PubSubTokenVerifier::create(config, std::make_shared<NoNetwork>()).value();
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eso::webhook;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first line, when there is one, is a header value; the rest is the body.
  const auto newline = input.find('\n');
  const std::string value(newline == std::string_view::npos ? "" : input.substr(0, newline));
  const std::string_view body =
      newline == std::string_view::npos ? input : input.substr(newline + 1);

  if (auto message = parse_sns_message(body)) {
    (void)sns_string_to_sign(*message);
    (void)eso::parse_rfc3339(message->timestamp);  // the verifier's staleness check reads it
  }
  (void)eso::parse_rfc3339(value);
  for (const auto source :
       {DeliverySource::kPubSub, DeliverySource::kSns, DeliverySource::kEventGrid,
        DeliverySource::kCloudEvents, DeliverySource::kAkeyless}) {
    (void)delivery_id(source, body);
    (void)delivery_id(source, body, {{"ce-source", value}, {"ce-id", value}});
  }
  (void)parse_jwk_set(body);
  (void)base64url_decode(body);
  (void)parse_cache_max_age(value);
  (void)parse_https_url(value);
  (void)token_verifier().verify("Bearer " + std::string(body));
  (void)token_verifier().verify(value);
  return 0;
}
