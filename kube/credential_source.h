#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include <sys/stat.h>

#include "core/result.h"
#include "kube/client_config.h"
#include "kube/exec_credential.h"

namespace eso::kube {

/// The bearer token and client certificate to send now.
struct Credentials {
  std::string token;
  std::string client_cert_pem;  ///< empty: use the configured certificate, if any
  std::string client_key_pem;
};

/// Where a user's credentials come from and when they are renewed: a static token; a token file,
/// re-read when it changes (checked at most every second) and after a 401; an exec plugin, run
/// on first use, cached until its expirationTimestamp and run again once after a 401. Thread-safe.
class CredentialSource {
 public:
  explicit CredentialSource(const ClientConfig& config);

  Result<Credentials> current();

  /// Called after a 401 answered a request sent with `token`: renews the credentials if they
  /// can be renewed and were not renewed since. True when a retry may now succeed.
  bool renew_after_unauthorized(const std::string& token);

 private:
  Result<Credentials> from_token_file(bool force);
  Result<Credentials> from_exec(bool force);

  const ClientConfig& config_;
  std::mutex mu_;
  // token file
  std::string file_token_;
  struct timespec file_mtime_ {};
  std::chrono::steady_clock::time_point file_checked_{};
  // exec plugin
  std::optional<ExecCredential> exec_;
};

}  // namespace eso::kube
