// Keys, certificates, tokens and a local HTTPS server for the verifier tests, all made here
// with OpenSSL (RSA 2048) and serve's own TLS server on 127.0.0.1:0.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace eso::webhook::test {

using KeyPtr = std::shared_ptr<EVP_PKEY>;

/// The `index`th RSA 2048 key of the test run (made once, then shared: key generation is slow
/// under the sanitizers).
KeyPtr rsa_key(int index);

/// A public JWK for `key` named `kid` ({"kty":"RSA","alg":"RS256","use":"sig",...}).
std::string jwk(EVP_PKEY* key, std::string_view kid);
/// {"keys":[...]} of the given JWKs.
std::string jwk_set(const std::vector<std::string>& jwks);

/// An RSASSA-PKCS1-v1_5 signature of `data` with `md`.
std::string sign(EVP_PKEY* key, const EVP_MD* md, std::string_view data);

/// A compact JWS: base64url(header).base64url(claims).base64url(RS256 signature by `key`).
std::string make_jwt(EVP_PKEY* key, std::string_view header_json, std::string_view claims_json);

/// A certificate and its key.
struct Cert {
  std::shared_ptr<X509> x509;
  KeyPtr key;
  std::string pem() const;
  std::string key_pem() const;
};

struct CertSpec {
  std::string common_name;
  bool is_ca = false;
  std::string subject_alt_name;            ///< e.g. "IP:127.0.0.1"
  std::chrono::seconds not_before{-3600};  ///< from now
  std::chrono::seconds not_after{2 * 86400};
};

/// A certificate for `key` signed by `issuer` (self-signed when nullptr), naming
/// `ca_issuers_url` (when not empty) as its Authority Information Access "CA Issuers" URI.
Cert make_cert(const CertSpec& spec, KeyPtr key, const Cert* issuer,
               std::string_view ca_issuers_url = {});

/// A directory under the temp dir, removed with everything in it when destroyed.
struct TempDir {
  std::string path;
  explicit TempDir(std::string_view name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// Writes `content` to `name` in the directory; returns its path.
  std::string write(std::string_view name, std::string_view content) const;
};

/// What the local server answers on one path.
struct Route {
  int status = 200;
  std::string body;
  std::string cache_control;  ///< sent when not empty
  std::string location;       ///< sent when not empty
};

/// An HTTPS server on 127.0.0.1:0 with a certificate for IP 127.0.0.1 from its own CA, serving
/// fixed routes and counting requests per path. With Transport::kPlainHttp it speaks plain HTTP
/// (as a CA Issuers URL may), and url() gives http:// URLs.
class LocalHttpsServer final : public http::Handler {
 public:
  enum class Transport { kHttps, kPlainHttp };
  explicit LocalHttpsServer(std::string_view name, Transport transport = Transport::kHttps);
  ~LocalHttpsServer() override;

  void set(const std::string& path, Route route);
  int hits(const std::string& path) const;
  std::string url(std::string_view path) const;
  int port() const { return port_; }
  /// The PEM file of the CA that issued the server's certificate.
  const std::string& ca_file() const { return ca_file_; }
  /// The CA and its key, to issue more certificates (e.g. an SNS signing certificate).
  const Cert& ca() const { return ca_; }

  std::optional<http::Response> admit(const http::RequestHead&) override { return std::nullopt; }
  http::Response handle(const http::Request& request) override;
  void answered(const http::RequestHead&, int, std::chrono::microseconds) override {}

 private:
  TempDir dir_;
  Cert ca_;
  std::string ca_file_;
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, int> hits_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<http::HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  Transport transport_;
};

}  // namespace eso::webhook::test
