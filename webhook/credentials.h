#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/http/basic_auth.h"

namespace eso::webhook {

/// What callers authenticate with. Webhook senders: Basic or Bearer, or an API key; signed
/// senders (Doppler, Infisical): a shared signing secret per source. Pipelines calling the
/// trigger API: a trigger token of their own, never accepted on /webhook (DESIGN.md §11).
struct Secrets {
  http::ExpectedCredentials http;
  std::string api_key;
  std::map<std::string, std::string, std::less<>> signing;  ///< by source
  std::string trigger_token;
};

/// Credentials from the environment — BASIC_AUTH_USER / BASIC_AUTH_PASSWORD (the original
/// tool's), WEBHOOK_BEARER_TOKEN, WEBHOOK_API_KEY, DOPPLER_WEBHOOK_SECRET,
/// INFISICAL_WEBHOOK_SECRET, TRIGGER_TOKEN — and files in a directory (a mounted Secret:
/// username, password, token, api-key, doppler-secret, infisical-secret, trigger-token), which
/// take precedence and are re-read when they change (checked at most once a second).
class Credentials {
 public:
  explicit Credentials(std::string dir);

  Secrets current();
  /// Any webhook credential at all (the trigger token is not one).
  bool any_webhook();
  /// The last read of the directory found the trigger token equal to a webhook credential
  /// (trigger_token_shared) and left it out of current().
  bool trigger_token_refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }

 private:
  std::optional<std::string> read(const char* name) const;

  std::string dir_;
  Secrets env_;
  std::mutex mu_;
  Secrets cached_;
  std::string stamp_ = "unread";
  bool refused_ = false;
  std::chrono::steady_clock::time_point checked_{};
};

/// The trigger token is also a webhook credential (the bearer token, the password, the API key
/// or a signing secret): a sender could then call the trigger API, or a pipeline the webhooks.
bool trigger_token_shared(const Secrets& s);

/// DESIGN.md §6: a user without a password (or the reverse) is a configuration error, never a
/// Basic check that accepts "user:". Names what is missing and where it would come from.
std::optional<std::string> half_credentials(const http::ExpectedCredentials& c,
                                            const std::string& dir);

}  // namespace eso::webhook
