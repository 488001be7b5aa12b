#include "webhook/credentials.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace eso::webhook {
namespace {

constexpr std::array<std::pair<const char*, const char*>, 2> kSigning{
    {{"doppler", "DOPPLER_WEBHOOK_SECRET"}, {"infisical", "INFISICAL_WEBHOOK_SECRET"}}};
constexpr std::array<const char*, 7> kFiles{"username",     "password",       "token",
                                            "api-key",      "doppler-secret", "infisical-secret",
                                            "trigger-token"};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

Credentials::Credentials(std::string dir) : dir_(std::move(dir)) {
  env_.http.user = env("BASIC_AUTH_USER");
  env_.http.password = env("BASIC_AUTH_PASSWORD");
  env_.http.token = env("WEBHOOK_BEARER_TOKEN");
  env_.api_key = env("WEBHOOK_API_KEY");
  env_.trigger_token = env("TRIGGER_TOKEN");
  for (const auto& [source, name] : kSigning) {
    if (auto v = env(name); !v.empty()) env_.signing[source] = v;
  }
}

Secrets Credentials::current() {
  if (dir_.empty()) return env_;
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return cached_;
  checked_ = now;
  std::string stamp;
  for (const char* f : kFiles) {
    struct stat st {};
    if (::stat((dir_ + "/" + f).c_str(), &st) == 0) {
      stamp += fmt::format("{}.{}.{};", st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
    }
  }
  if (stamp == stamp_) return cached_;
  const bool first = stamp_ == "unread";  // at start serve refuses a shared token instead
  stamp_ = stamp;
  cached_ = env_;
  if (auto v = read("username")) cached_.http.user = *v;
  if (auto v = read("password")) cached_.http.password = *v;
  if (auto v = read("token")) cached_.http.token = *v;
  if (auto v = read("api-key")) cached_.api_key = *v;
  if (auto v = read("doppler-secret")) cached_.signing["doppler"] = *v;
  if (auto v = read("infisical-secret")) cached_.signing["infisical"] = *v;
  if (auto v = read("trigger-token")) cached_.trigger_token = *v;
  // A rotation must not make the two one credential: checked at start, and here the trigger API
  // goes off (404) until the files differ again.
  refused_ = trigger_token_shared(cached_);
  if (refused_ && !first) {
    fmt::print(stderr,
               "eso-updater serve: the trigger token in {} equals a webhook credential; the "
               "trigger API is off until they differ\n",
               dir_);
  }
  if (refused_) cached_.trigger_token.clear();
  return cached_;
}

bool trigger_token_shared(const Secrets& s) {
  const std::string& t = s.trigger_token;
  if (t.empty()) return false;
  return t == s.http.token || t == s.http.password || t == s.api_key ||
         std::any_of(s.signing.begin(), s.signing.end(),
                     [&](const auto& signing) { return signing.second == t; });
}

bool Credentials::any_webhook() {
  const auto c = current();
  return c.http.basic() || c.http.bearer() || !c.api_key.empty() ||
         std::any_of(c.signing.begin(), c.signing.end(),
                     [](const auto& s) { return !s.second.empty(); });
}

std::optional<std::string> Credentials::read(const char* name) const {
  std::ifstream in(dir_ + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  return value;
}

std::optional<std::string> half_credentials(const http::ExpectedCredentials& c,
                                            const std::string& dir) {
  if (c.user.empty() == c.password.empty()) return std::nullopt;
  const bool user = !c.user.empty();
  const std::string file =
      dir.empty() ? "" : fmt::format(" or {}/{}", dir, user ? "password" : "username");
  return fmt::format("{} is set but {} is missing: set {}{} too, or unset both",
                     user ? "the Basic-auth user" : "the Basic-auth password",
                     user ? "its password" : "its user",
                     user ? "BASIC_AUTH_PASSWORD" : "BASIC_AUTH_USER", file);
}

}  // namespace eso::webhook
