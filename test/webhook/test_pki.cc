#include "test/webhook/test_pki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "webhook/verify/base64url.h"

namespace eso::webhook::test {
namespace {

std::string bn_bytes(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, name, &bn) == 1);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

KeyPtr rsa_key(int index) {
  static std::mutex mu;
  static std::vector<KeyPtr> keys;
  std::lock_guard lock(mu);
  while (static_cast<int>(keys.size()) <= index) {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    REQUIRE(key != nullptr);
    keys.emplace_back(key, EVP_PKEY_free);
  }
  return keys[static_cast<size_t>(index)];
}

std::string jwk(EVP_PKEY* key, std::string_view kid) {
  return R"({"kty":"RSA","alg":"RS256","use":"sig","kid":")" + std::string(kid) + R"(","n":")" +
         base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" +
         base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_E)) + R"("})";
}

std::string jwk_set(const std::vector<std::string>& jwks) {
  std::string out = R"({"keys":[)";
  for (size_t i = 0; i < jwks.size(); ++i) out += (i == 0 ? "" : ",") + jwks[i];
  return out + "]}";
}

std::string sign(EVP_PKEY* key, const EVP_MD* md, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) == 1);
  size_t size = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &size, bytes, data.size()) == 1);
  std::string out(size, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size, bytes,
                         data.size()) == 1);
  out.resize(size);
  return out;
}

std::string make_jwt(EVP_PKEY* key, std::string_view header_json, std::string_view claims_json) {
  const std::string signed_part =
      base64url_encode(header_json) + "." + base64url_encode(claims_json);
  return signed_part + "." + base64url_encode(sign(key, EVP_sha256(), signed_part));
}

std::string Cert::pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_X509(bio.get(), x509.get()) == 1);
  return bio_text(bio.get());
}

std::string Cert::key_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ==
          1);
  return bio_text(bio.get());
}

Cert make_cert(const CertSpec& spec, KeyPtr key, const Cert* issuer,
               std::string_view ca_issuers_url) {
  static std::atomic<long> serial{1000};
  std::shared_ptr<X509> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before.count());
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after.count());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->x509.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));
  X509_set_pubkey(cert.get(), key.get());
  add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (spec.is_ca) {
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
  }
  if (!spec.subject_alt_name.empty()) {
    add_extension(cert.get(), issuer_cert, NID_subject_alt_name, spec.subject_alt_name);
  }
  if (!ca_issuers_url.empty()) {
    add_extension(cert.get(), issuer_cert, NID_info_access,
                  "caIssuers;URI:" + std::string(ca_issuers_url));
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : key.get();
  REQUIRE(X509_sign(cert.get(), signer, EVP_sha256()) > 0);
  return Cert{cert, std::move(key)};
}

TempDir::TempDir(std::string_view name) {
  static std::atomic<int> count{0};
  path = (std::filesystem::temp_directory_path() /
          ("eso-verify-" + std::string(name) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(count++)))
             .string();
  std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::string TempDir::write(std::string_view name, std::string_view content) const {
  std::string file = path + "/" + std::string(name);
  std::ofstream(file, std::ios::binary) << content;
  return file;
}

LocalHttpsServer::LocalHttpsServer(std::string_view name, Transport transport)
    : dir_(name), transport_(transport) {
  using namespace std::chrono_literals;
  ca_ = make_cert(
      {"verify-test-ca", true, "", std::chrono::seconds(-3600), std::chrono::seconds(2 * 86400)},
      rsa_key(0), nullptr);
  ca_file_ = dir_.write("ca.crt", ca_.pem());
  const Cert leaf = make_cert({"127.0.0.1", false, "IP:127.0.0.1", std::chrono::seconds(-3600),
                               std::chrono::seconds(2 * 86400)},
                              rsa_key(1), &ca_);
  const std::string cert_file = dir_.write("server.crt", leaf.pem());
  const std::string key_file = dir_.write("server.key", leaf.key_pem());
  auto tls = http::TlsContext::create({cert_file, key_file, ""});
  REQUIRE_MESSAGE(tls.ok(), (tls.ok() ? "" : tls.error().message));
  http::ServerOptions options;
  options.listen = {"127.0.0.1:0"};
  options.workers = 2;
  options.phase_timeout = 5000ms;
  if (transport == Transport::kHttps) options.tls = *tls;
  server_ = std::make_unique<http::HttpServer>(options, *this);
  auto ports = server_->bind();
  REQUIRE(ports.ok());
  port_ = ports->front();
  thread_ = std::thread([this] { server_->serve(stop_, 2000ms); });
}

LocalHttpsServer::~LocalHttpsServer() {
  stop_ = true;
  thread_.join();
}

void LocalHttpsServer::set(const std::string& path, Route route) {
  std::lock_guard lock(mu_);
  routes_[path] = std::move(route);
}

int LocalHttpsServer::hits(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = hits_.find(path);
  return it == hits_.end() ? 0 : it->second;
}

std::string LocalHttpsServer::url(std::string_view path) const {
  const char* scheme = transport_ == Transport::kHttps ? "https" : "http";
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

http::Response LocalHttpsServer::handle(const http::Request& request) {
  std::lock_guard lock(mu_);
  const std::string path = request.head.target;
  ++hits_[path];
  auto it = routes_.find(path);
  if (it == routes_.end()) return http::Response{404, "text/plain", "no such route", {}};
  http::Response response{it->second.status, "application/json", it->second.body, {}};
  if (!it->second.cache_control.empty()) {
    response.headers.emplace_back("Cache-Control", it->second.cache_control);
  }
  if (!it->second.location.empty()) response.headers.emplace_back("Location", it->second.location);
  return response;
}

}  // namespace eso::webhook::test
