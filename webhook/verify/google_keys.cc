#include "webhook/verify/google_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "core/json_fields.h"
#include "webhook/verify/base64url.h"

namespace eso::webhook {
namespace {

constexpr size_t kMaxKeys = 64;  // Google publishes two or three
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;

using BigNum = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

BigNum big_endian_number(const std::string& bytes) {
  return BigNum(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()), nullptr),
                BN_free);
}

// An RSA public key from its modulus and exponent (RFC 7518 §6.3.1: big-endian, base64url).
PublicKey rsa_key_from(const std::string& n, const std::string& e) {
  BigNum bn_n = big_endian_number(n);
  BigNum bn_e = big_endian_number(e);
  if (!bn_n || !bn_e) return nullptr;
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return adopt_public_key(key);
}

// The key a JWK describes, or nullptr when it is not an RSA signing key we accept.
PublicKey signing_key(const rapidjson::Value& jwk) {
  if (json_string(jwk, "kty") != "RSA") return nullptr;
  if (json_member(jwk, "use") != nullptr && json_string(jwk, "use") != "sig") return nullptr;
  if (json_member(jwk, "alg") != nullptr && json_string(jwk, "alg") != "RS256") return nullptr;
  auto n = base64url_decode(json_string(jwk, "n"));
  auto e = base64url_decode(json_string(jwk, "e"));
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return nullptr;
  PublicKey key = rsa_key_from(*n, *e);
  const int bits = rsa_bits(key.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return nullptr;
  return key;
}

}  // namespace

Result<std::map<std::string, PublicKey, std::less<>>> parse_jwk_set(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  const auto* keys = doc.HasParseError() ? nullptr : json_member(doc, "keys");
  if (keys == nullptr || !keys->IsArray()) {
    return Error{ErrorCode::kMalformed, "not a JWK set (a JSON object with a \"keys\" array)"};
  }
  std::map<std::string, PublicKey, std::less<>> out;
  for (const auto& jwk : keys->GetArray()) {
    if (out.size() == kMaxKeys) break;
    const std::string kid = json_string(jwk, "kid");
    if (kid.empty()) continue;
    if (PublicKey key = signing_key(jwk)) out.emplace(kid, std::move(key));
  }
  if (out.empty()) {
    return Error{ErrorCode::kMalformed,
                 "the JWK set has no RSA signing key of 2048 bits or more with a kid"};
  }
  return out;
}

GoogleKeySet::GoogleKeySet(KeySetOptions options, std::shared_ptr<HttpsFetcher> fetcher,
                           WallClock clock)
    : options_(std::move(options)),
      fetcher_(std::move(fetcher)),
      clock_(or_system_clock(std::move(clock))) {}

bool GoogleKeySet::fresh(std::chrono::system_clock::time_point now) const {
  return !keys_.empty() && now < fresh_until_;
}

bool GoogleKeySet::usable(std::chrono::system_clock::time_point now) const {
  return !keys_.empty() && now < fresh_until_ + options_.stale_for;
}

bool GoogleKeySet::may_fetch(std::chrono::system_clock::time_point now) const {
  // A clock set back is not a reason to stop fetching for good.
  return attempts_ == 0 || now < last_attempt_ ||
         now - last_attempt_ >= options_.min_fetch_interval;
}

void GoogleKeySet::fetch(std::chrono::system_clock::time_point now) {
  ++attempts_;
  last_attempt_ = now;
  auto document = fetcher_->get(options_.url);
  if (!document) {
    last_error_ = document.error().message;
    return;
  }
  auto keys = parse_jwk_set(document->body);
  if (!keys) {
    last_error_ = fmt::format("GET {}: {}", options_.url, keys.error().message);
    return;
  }
  keys_ = std::move(*keys);
  const auto max_age = std::clamp(document->max_age.value_or(options_.default_max_age),
                                  std::chrono::seconds(0), options_.longest_max_age);
  fresh_until_ = now + max_age;
  last_error_.clear();
}

GoogleKeySet::Lookup GoogleKeySet::found_or_why(std::string_view kid,
                                                std::chrono::system_clock::time_point now) const {
  using Status = Lookup::Status;
  if (!usable(now)) {
    return {Status::kUnavailable, nullptr,
            last_error_.empty() ? "no signing keys fetched yet" : last_error_};
  }
  if (auto it = keys_.find(kid); it != keys_.end()) return {Status::kFound, it->second, ""};
  if (!last_error_.empty()) {
    return {
        Status::kUnavailable, nullptr,
        "the token's kid is not among the keys held, and refetching them failed: " + last_error_};
  }
  return {Status::kUnknownKid, nullptr, "the token's kid is not among Google's signing keys"};
}

GoogleKeySet::Lookup GoogleKeySet::find(std::string_view kid) {
  std::lock_guard lock(mu_);
  const auto now = clock_();
  if (!fresh(now) && may_fetch(now)) fetch(now);
  // Google rotates its keys: a kid we have not seen may be a new one.
  if (fresh(now) && keys_.find(kid) == keys_.end() && may_fetch(now)) fetch(now);
  return found_or_why(kid, now);
}

size_t GoogleKeySet::fetch_count() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

}  // namespace eso::webhook
