#include "kube/credential_source.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace eso::kube {
namespace {

constexpr auto kTokenFileRecheck = std::chrono::seconds(1);
// Renew exec credentials slightly before they expire, so a request never carries a dead one.
constexpr auto kExpirySlack = std::chrono::seconds(10);

}  // namespace

CredentialSource::CredentialSource(const ClientConfig& config) : config_(config) {}

Result<Credentials> CredentialSource::current() {
  std::lock_guard lock(mu_);
  if (config_.exec) return from_exec(false);
  if (!config_.token_file.empty()) return from_token_file(false);
  return Credentials{config_.token, "", ""};
}

bool CredentialSource::renew_after_unauthorized(const std::string& token) {
  std::lock_guard lock(mu_);
  if (config_.exec) {
    // Renewed by another request since this one was sent: just retry.
    if (exec_ && exec_->token != token) return true;
    return from_exec(true).ok();
  }
  if (!config_.token_file.empty()) {
    auto renewed = from_token_file(true);
    return renewed && renewed->token != token;
  }
  return false;
}

Result<Credentials> CredentialSource::from_token_file(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && !file_token_.empty() && now - file_checked_ < kTokenFileRecheck) {
    return Credentials{file_token_, "", ""};
  }
  file_checked_ = now;
  struct stat st {};
  const bool exists = ::stat(config_.token_file.c_str(), &st) == 0;
  const bool unchanged = exists && st.st_mtim.tv_sec == file_mtime_.tv_sec &&
                         st.st_mtim.tv_nsec == file_mtime_.tv_nsec;
  if (!file_token_.empty() && (!exists || (unchanged && !force))) {
    return Credentials{file_token_, "", ""};  // keep the last good token across a rotation
  }
  if (!exists) {
    return Error{ErrorCode::kConfig, fmt::format("cannot read token file {}: {}",
                                                 config_.token_file, std::strerror(errno))};
  }
  std::ifstream in(config_.token_file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    if (!file_token_.empty()) return Credentials{file_token_, "", ""};
    return Error{ErrorCode::kConfig, fmt::format("token file {} is empty", config_.token_file)};
  }
  file_token_ = std::move(token);
  file_mtime_ = st.st_mtim;
  return Credentials{file_token_, "", ""};
}

Result<Credentials> CredentialSource::from_exec(bool force) {
  const bool expired =
      exec_ && exec_->expiry && std::chrono::system_clock::now() + kExpirySlack >= *exec_->expiry;
  if (!exec_ || expired || force) {
    auto fresh = run_exec_plugin(config_);
    if (!fresh) return fresh.error();
    exec_ = std::move(*fresh);
  }
  return Credentials{exec_->token, exec_->client_cert_pem, exec_->client_key_pem};
}

}  // namespace eso::kube
