#include "webhook/verify/sns_verifier.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>
#include <regex>
#include <vector>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/rfc3339.h"

namespace eso::webhook {
namespace {

constexpr size_t kMaxHostBytes = 253;  // RFC 1035 §2.3.4, and a bound for std::regex
constexpr int kMaxChainCerts = 8;
constexpr size_t kMaxAiaHops = 2;  // issuers fetched from AIA URLs for one chain

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;
using Clock = std::chrono::system_clock;

struct Chain {
  X509Ptr leaf{nullptr, X509_free};
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> rest{
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }};
};

// The certificates of a PEM document, leaf first.
std::optional<Chain> read_chain(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  Chain chain;
  if (!bio || !chain.rest) return std::nullopt;
  for (int i = 0; i < kMaxChainCerts; ++i) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    if (!chain.leaf) {
      chain.leaf.reset(cert);
    } else if (sk_X509_push(chain.rest.get(), cert) == 0) {
      X509_free(cert);
    }
  }
  ERR_clear_error();  // the end of the PEM data is reported as an error
  if (!chain.leaf) return std::nullopt;
  return chain;
}

// A CA certificate as a CA Issuers URL serves it: DER (RFC 5280 §4.2.2.1) or PEM.
std::shared_ptr<X509> read_issuer(std::string_view document) {
  if (document.find("-----BEGIN") != std::string_view::npos) {
    auto chain = read_chain(document);
    if (!chain) return nullptr;
    return std::shared_ptr<X509>(chain->leaf.release(), X509_free);
  }
  const auto* der = reinterpret_cast<const unsigned char*>(document.data());
  X509* cert = d2i_X509(nullptr, &der, static_cast<long>(document.size()));
  ERR_clear_error();
  if (cert == nullptr) return nullptr;
  return std::shared_ptr<X509>(cert, X509_free);
}

// The first http or https "CA Issuers" URL of `cert`'s Authority Information Access (RFC 5280
// §4.2.2.1), or nullopt.
std::optional<std::string> ca_issuers_url(X509* cert) {
  auto* aia = static_cast<AUTHORITY_INFO_ACCESS*>(
      X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr));
  ERR_clear_error();
  if (aia == nullptr) return std::nullopt;
  std::optional<std::string> out;
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia) && !out; ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia, i);
    if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = ad->location->d.uniformResourceIdentifier;
    std::string url(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                    static_cast<size_t>(ASN1_STRING_length(uri)));
    if (parse_https_url(url, /*allow_plain_http=*/true).ok()) out = std::move(url);
  }
  AUTHORITY_INFO_ACCESS_free(aia);
  return out;
}

// One verification of a chain: X509_V_OK, or the error and the certificate it is about.
struct ChainCheck {
  int error = X509_V_OK;
  X509Ptr subject{nullptr, X509_free};
};

// The CA Issuers URL to fetch the missing issuer of `check.subject` from, or why the chain
// fails for good (kTlsVerification). `fetched`: the URLs this chain's issuers came from.
Result<std::string> issuer_url(const ChainCheck& check, const std::vector<std::string>& fetched) {
  const std::string failure = fmt::format("the certificate's chain does not verify: {}",
                                          X509_verify_cert_error_string(check.error));
  const bool issuer_missing = check.error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                              check.error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
  if (!issuer_missing || !check.subject) return Error{ErrorCode::kTlsVerification, failure};
  if (fetched.size() >= kMaxAiaHops) {
    return Error{ErrorCode::kTlsVerification,
                 fmt::format("{} (after {} issuers fetched from AIA URLs)", failure, kMaxAiaHops)};
  }
  auto url = ca_issuers_url(check.subject.get());
  if (!url) {
    return Error{ErrorCode::kTlsVerification,
                 failure + " (and the certificate names no http(s) CA Issuers URL)"};
  }
  if (std::find(fetched.begin(), fetched.end(), *url) != fetched.end()) {
    return Error{ErrorCode::kTlsVerification,
                 fmt::format("{} (the certificate from {} is not its issuer)", failure, *url)};
  }
  return std::move(*url);
}

// Makes room for one more entry in a cache bounded at `bound`: the oldest entry goes.
template <typename Cache>
void make_room(Cache& cache, size_t bound) {
  if (cache.size() < bound || cache.empty()) return;
  auto oldest = std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
    return a.second.order < b.second.order;
  });
  cache.erase(oldest);
}

// The CAs certificate chains must end in: the file's, or the system's.
Result<StorePtr> trust_store(const std::string& ca_file) {
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  if (!store) return Error{ErrorCode::kInternal, "OpenSSL could not make a certificate store"};
  const bool loaded = ca_file.empty() ? X509_STORE_set_default_paths(store.get()) == 1
                                      : X509_STORE_load_file(store.get(), ca_file.c_str()) == 1;
  ERR_clear_error();
  if (!loaded) {
    return Error{ErrorCode::kConfig,
                 fmt::format("cannot load the CA file {:?} for SNS certificates", ca_file)};
  }
  return store;
}

}  // namespace

std::string_view to_string(SnsFailure reason) {
  switch (reason) {
    case SnsFailure::kMalformedMessage:
      return "malformed_message";
    case SnsFailure::kTopicNotAllowed:
      return "topic_not_allowed";
    case SnsFailure::kUnsupportedSignatureVersion:
      return "unsupported_signature_version";
    case SnsFailure::kCertUrlNotAllowed:
      return "cert_url_not_allowed";
    case SnsFailure::kBadCertificate:
      return "bad_certificate";
    case SnsFailure::kBadSignature:
      return "bad_signature";
    case SnsFailure::kStale:
      return "stale";
  }
  return "unknown";
}

struct SnsVerifier::Impl {
  SnsConfig config;
  std::shared_ptr<HttpsFetcher> fetcher;
  std::shared_ptr<HttpsFetcher> issuer_fetcher;  ///< for CA Issuers URLs: http allowed
  WallClock clock;
  std::regex host_pattern;
  StorePtr store{nullptr, X509_STORE_free};

  struct CachedKey {
    PublicKey key;
    Clock::time_point expires;
    uint64_t order = 0;  ///< insertion order; the smallest is evicted first
  };
  mutable std::mutex mu;
  std::map<std::string, CachedKey, std::less<>> cache;
  struct CachedIssuer {
    std::shared_ptr<X509> cert;
    Clock::time_point expires;
    uint64_t order = 0;
  };
  std::map<std::string, CachedIssuer, std::less<>> issuers;  ///< by CA Issuers URL
  uint64_t next_order = 0;
  size_t fetches = 0;
  std::map<std::string, Clock::time_point, std::less<>> failed_urls;  ///< URL -> when
  std::deque<Clock::time_point> failures;  ///< recent failed fetches, oldest first

  /// Forgets failures older than the interval; true when `url` may be fetched now.
  bool may_fetch(const std::string& url, Clock::time_point now);
  /// Why `timestamp` cannot be a delivery's (a reason and a detail), or nothing when it can.
  std::optional<std::pair<SnsFailure, std::string>> stale(const std::string& timestamp) const;
  void note_failure(const std::string& url, Clock::time_point now) {
    failures.push_back(now);  // both stay within the budget: may_fetch stops at it
    failed_urls[url] = now;
  }

  bool topic_allowed(std::string_view arn) const {
    const auto& allowed = config.allowed_topic_arns;
    return std::find(allowed.begin(), allowed.end(), arn) != allowed.end();
  }
  Result<HttpsUrl> sns_url(std::string_view url) const;
  /// Verifies `pem`'s chain, fetching missing issuers from CA Issuers URLs: kTlsVerification
  /// when it does not verify, kUnreachable when an issuer cannot be fetched.
  Result<PublicKey> verify_chain(std::string_view pem, Clock::time_point now);
  Result<ChainCheck> check_chain(const Chain& chain, Clock::time_point now) const;
  /// The certificate at a CA Issuers URL: cached, or fetched.
  Result<std::shared_ptr<X509>> issuer_at(const std::string& url, Clock::time_point now);
  /// The key of the certificate at `url`: cached, or fetched and verified. An Error with
  /// kUnreachable when it cannot be fetched, kTlsVerification when it does not verify.
  Result<PublicKey> signing_key(const HttpsUrl& url);
  void remember(const std::string& url, PublicKey key, Clock::time_point now);
};

Result<HttpsUrl> SnsVerifier::Impl::sns_url(std::string_view url) const {
  auto parsed = parse_https_url(url);
  if (!parsed) return parsed.error();
  if (parsed->host.size() > kMaxHostBytes || !std::regex_match(parsed->host, host_pattern)) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("the host {:?} is not an SNS host", parsed->host.substr(0, 64))};
  }
  return parsed;
}

Result<ChainCheck> SnsVerifier::Impl::check_chain(const Chain& chain, Clock::time_point now) const {
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), chain.leaf.get(), chain.rest.get()) != 1) {
    return Error{ErrorCode::kInternal, "OpenSSL could not start a chain verification"};
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(now));
  // With a configured CA file, an intermediate CA in it is an anchor: Amazon's signing
  // certificates may come without their intermediate.
  if (!config.ca_file.empty()) X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  ChainCheck check;
  if (X509_verify_cert(ctx.get()) == 1) return check;
  check.error = X509_STORE_CTX_get_error(ctx.get());
  if (X509* subject = X509_STORE_CTX_get_current_cert(ctx.get());
      subject != nullptr && X509_up_ref(subject) == 1) {
    check.subject.reset(subject);
  }
  ERR_clear_error();
  return check;
}

Result<std::shared_ptr<X509>> SnsVerifier::Impl::issuer_at(const std::string& url,
                                                           Clock::time_point now) {
  if (auto it = issuers.find(url); it != issuers.end()) {
    if (now < it->second.expires) return it->second.cert;
    issuers.erase(it);
  }
  // Plain http is acceptable for this one fetch (Amazon's CA Issuers URLs are http): the
  // certificate is added as an untrusted intermediate only, and the chain through it must
  // still end in a trusted CA, so whoever serves it cannot make a forged chain verify.
  auto document = issuer_fetcher->get(url);
  if (!document) {
    return Error{ErrorCode::kUnreachable,
                 "the issuer of the signing certificate (AIA): " + document.error().message};
  }
  auto cert = read_issuer(document->body);
  if (!cert) {
    return Error{ErrorCode::kTlsVerification,
                 fmt::format("the CA Issuers URL {} does not serve a certificate", url)};
  }
  make_room(issuers, config.cert_cache_entries);
  if (config.cert_cache_entries > 0) {
    issuers[url] = CachedIssuer{cert, now + config.cert_cache_ttl, next_order++};
  }
  return cert;
}

Result<PublicKey> SnsVerifier::Impl::verify_chain(std::string_view pem, Clock::time_point now) {
  auto chain = read_chain(pem);
  if (!chain) return Error{ErrorCode::kTlsVerification, "no PEM certificate in the document"};
  // As browsers do: an issuer neither sent nor trusted is fetched from the CA Issuers URL of
  // the certificate that needs it (SNS sends its leaf without Amazon's intermediate CA).
  std::vector<std::string> fetched;
  for (;;) {
    auto check = check_chain(*chain, now);
    if (!check) return check.error();
    if (check->error == X509_V_OK) break;
    auto url = issuer_url(*check, fetched);
    if (!url) return url.error();
    auto issuer = issuer_at(*url, now);
    if (!issuer) return issuer.error();
    fetched.push_back(std::move(*url));
    // An untrusted certificate, as if sent with the leaf: the chain must still reach the store.
    X509* untrusted = issuer->get();
    if (X509_up_ref(untrusted) != 1) {
      return Error{ErrorCode::kInternal, "OpenSSL could not add an issuer to the chain"};
    }
    if (sk_X509_push(chain->rest.get(), untrusted) == 0) {
      X509_free(untrusted);
      return Error{ErrorCode::kInternal, "OpenSSL could not add an issuer to the chain"};
    }
  }
  PublicKey key = adopt_public_key(X509_get_pubkey(chain->leaf.get()));
  if (rsa_bits(key.get()) < 2048) {
    return Error{ErrorCode::kTlsVerification, "the certificate's key is not RSA of 2048 bits"};
  }
  return key;
}

void SnsVerifier::Impl::remember(const std::string& url, PublicKey key, Clock::time_point now) {
  make_room(cache, config.cert_cache_entries);
  if (config.cert_cache_entries == 0) return;
  cache[url] = CachedKey{std::move(key), now + config.cert_cache_ttl, next_order++};
}

std::optional<std::pair<SnsFailure, std::string>> SnsVerifier::Impl::stale(
    const std::string& timestamp) const {
  const auto published = parse_rfc3339(timestamp);
  if (!published) {
    return std::pair{
        SnsFailure::kMalformedMessage,
        fmt::format("Timestamp {:?} is not an RFC 3339 time", timestamp.substr(0, 64))};
  }
  using std::chrono::floor;
  using std::chrono::seconds;
  // In seconds: nanoseconds between now and 1678 do not fit in 64 bits.
  const seconds age =
      floor<seconds>(clock().time_since_epoch()) - floor<seconds>(published->time_since_epoch());
  if (age > kSnsRetryLimit + config.clock_tolerance) {
    return std::pair{SnsFailure::kStale,
                     fmt::format("Timestamp {} is {} s old; SNS stops retrying a delivery after "
                                 "{} s: a replay, or serve's clock is off by more than {} s",
                                 timestamp, age.count(), kSnsRetryLimit.count(),
                                 config.clock_tolerance.count())};
  }
  if (-age > config.clock_tolerance) {
    return std::pair{SnsFailure::kStale,
                     fmt::format("Timestamp {} is {} s ahead of serve's clock (more than {} s)",
                                 timestamp, (-age).count(), config.clock_tolerance.count())};
  }
  return std::nullopt;
}

bool SnsVerifier::Impl::may_fetch(const std::string& url, Clock::time_point now) {
  const auto recent = [&](Clock::time_point t) {
    return now >= t && now - t < config.failed_fetch_interval;
  };
  while (!failures.empty() && !recent(failures.front())) failures.pop_front();
  std::erase_if(failed_urls, [&](const auto& entry) { return !recent(entry.second); });
  return failed_urls.count(url) == 0 && failures.size() < config.failed_fetch_budget;
}

Result<PublicKey> SnsVerifier::Impl::signing_key(const HttpsUrl& url) {
  std::lock_guard lock(mu);
  const auto now = clock();
  if (auto it = cache.find(url.url); it != cache.end()) {
    if (now < it->second.expires) return it->second.key;
    cache.erase(it);
  }
  if (!may_fetch(url.url, now)) {
    return Error{ErrorCode::kUnreachable,
                 "signing certificate fetches failed moments ago; not fetching again yet"};
  }
  ++fetches;
  auto document = fetcher->get(url.url);
  if (!document) {
    note_failure(url.url, now);
    return Error{ErrorCode::kUnreachable, document.error().message};
  }
  auto key = verify_chain(document->body, now);
  // An issuer that cannot be fetched spaces fetches of this certificate as its own failure does.
  if (!key && key.error().code == ErrorCode::kUnreachable) note_failure(url.url, now);
  if (!key) return key.error();
  remember(url.url, *key, now);
  return key;
}

Result<std::unique_ptr<SnsVerifier>> SnsVerifier::create(
    SnsConfig config, std::shared_ptr<HttpsFetcher> fetcher, WallClock clock,
    std::shared_ptr<HttpsFetcher> issuer_fetcher) {
  if (config.allowed_topic_arns.empty()) {
    return Error{ErrorCode::kConfig, "SNS verification needs the topic ARNs allowed to deliver"};
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->host_pattern = std::regex(config.host_pattern_for_tests, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Error{ErrorCode::kConfig,
                 fmt::format("the SNS host pattern is not a regex: {}", e.what())};
  }
  auto store = trust_store(config.ca_file);
  if (!store) return store.error();
  impl->store = std::move(*store);
  if (!fetcher) fetcher = std::make_shared<CurlHttpsFetcher>(CurlFetcherOptions{config.ca_file});
  impl->fetcher = std::move(fetcher);
  if (!issuer_fetcher) {
    CurlFetcherOptions options{config.ca_file};
    options.allow_plain_http = true;  // for CA Issuers URLs only: see issuer_at
    issuer_fetcher = std::make_shared<CurlHttpsFetcher>(std::move(options));
  }
  impl->issuer_fetcher = std::move(issuer_fetcher);
  impl->clock = or_system_clock(std::move(clock));
  impl->config = std::move(config);
  return std::unique_ptr<SnsVerifier>(new SnsVerifier(std::move(impl)));
}

namespace {

// By reference: callers pass details read from `v.message`, evaluated before `v` moves.
SnsVerdict refuse(SnsVerdict&& v, SnsFailure reason, std::string detail) {
  v.outcome = SnsVerdict::Outcome::kRejected;
  v.reason = reason;
  v.detail = std::move(detail);
  return v;
}

}  // namespace

SnsVerdict SnsVerifier::verify(std::string_view body) {
  SnsVerdict v;
  auto parsed = parse_sns_message(body);
  if (!parsed) return refuse(std::move(v), SnsFailure::kMalformedMessage, parsed.error().message);
  v.message = std::move(*parsed);
  const SnsMessage& m = v.message;
  if (!impl_->topic_allowed(m.topic_arn)) {
    return refuse(std::move(v), SnsFailure::kTopicNotAllowed,
                  fmt::format("topic {:?} is not allowed", m.topic_arn.substr(0, 256)));
  }
  // Before any fetch: a forged message with an old Timestamp costs nothing. The Timestamp is
  // signed, so a genuine message cannot be made fresh.
  if (auto stale = impl_->stale(m.timestamp)) {
    return refuse(std::move(v), stale->first, std::move(stale->second));
  }
  // SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA (SNS's HTTP/HTTPS JSON formats).
  const EVP_MD* md = m.signature_version == "1"   ? EVP_sha1()
                     : m.signature_version == "2" ? EVP_sha256()
                                                  : nullptr;
  if (md == nullptr) {
    return refuse(std::move(v), SnsFailure::kUnsupportedSignatureVersion,
                  "SignatureVersion is not 1 or 2");
  }
  auto cert_url = impl_->sns_url(m.signing_cert_url);
  if (!cert_url) {
    return refuse(std::move(v), SnsFailure::kCertUrlNotAllowed,
                  "SigningCertURL: " + cert_url.error().message);
  }
  auto signature = base64_decode(m.signature);
  if (!signature) return refuse(std::move(v), SnsFailure::kBadSignature, "Signature is not base64");
  auto key = impl_->signing_key(*cert_url);
  if (!key && key.error().code == ErrorCode::kTlsVerification) {
    return refuse(std::move(v), SnsFailure::kBadCertificate,
                  fmt::format("signing certificate {}: {}", cert_url->url, key.error().message));
  }
  if (!key) {
    v.outcome = SnsVerdict::Outcome::kCertUnavailable;
    v.detail = key.error().message;
    return v;
  }
  if (!rsa_pkcs1_verify(key->get(), md, sns_string_to_sign(m), *signature)) {
    return refuse(std::move(v), SnsFailure::kBadSignature, "the signature does not verify");
  }
  v.outcome = SnsVerdict::Outcome::kOk;
  return v;
}

SubscriptionOutcome SnsVerifier::confirm_subscription(const SnsMessage& verified) {
  using Status = SubscriptionOutcome::Status;
  if (verified.type != SnsMessageType::kSubscriptionConfirmation) {
    return {Status::kRefused, "not a SubscriptionConfirmation"};
  }
  if (!impl_->topic_allowed(verified.topic_arn)) {
    return {Status::kRefused,
            fmt::format("topic {:?} is not allowed", verified.topic_arn.substr(0, 256))};
  }
  auto url = impl_->sns_url(verified.subscribe_url);
  if (!url) return {Status::kRefused, "SubscribeURL: " + url.error().message};
  auto answer = impl_->fetcher->get(url->url);
  if (!answer) return {Status::kFailed, answer.error().message};
  return {Status::kConfirmed, fmt::format("subscribed to {}", verified.topic_arn)};
}

SnsVerifier::SnsVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SnsVerifier::~SnsVerifier() = default;

size_t SnsVerifier::cert_fetches() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fetches;
}

}  // namespace eso::webhook
