#include "core/key_rules.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/remote_key.h"

namespace eso {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string_view strip_slashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

// The segment after `/marker/` in `key`, up to the next '/', or `key` when absent.
std::string_view segment_after(std::string_view key, std::string_view marker) {
  const auto at = key.find(marker);
  if (at == std::string_view::npos) return key;
  std::string_view rest = key.substr(at + marker.size());
  return rest.substr(0, rest.find('/'));
}

constexpr std::array<KeyRule, 5> kRules{{
    {"akeyless", canonical_akeyless_key},
    {"aws", canonical_aws_key},
    {"azurekv", canonical_azure_key},
    {"gcpsm", canonical_gcp_key},
    {"vault", canonical_vault_key},
}};

}  // namespace

std::span<const KeyRule> key_rules() { return kRules; }

const KeyRule* key_rule(std::string_view provider) {
  for (const auto& r : kRules) {
    if (r.provider == provider) return &r;
  }
  return nullptr;
}

std::string canonical_akeyless_key(std::string_view key) { return normalise_akeyless_key(key); }

std::string canonical_aws_key(std::string_view key) {
  // arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf
  if (key.rfind("arn:", 0) != 0) return std::string(key);
  const auto at = key.find(":secret:");
  if (at == std::string_view::npos) return std::string(key);
  std::string_view name = key.substr(at + 8);
  // AWS appends '-' and six random characters to the name in an ARN.
  const bool suffixed = name.size() > 7 && name[name.size() - 7] == '-' &&
                        std::all_of(name.end() - 6, name.end(), is_alnum);
  if (suffixed) name.remove_suffix(7);
  return std::string(name);
}

std::string canonical_azure_key(std::string_view key) {
  // https://VAULT.vault.azure.net/secrets/NAME/VERSION, or a subject ending in /secrets/NAME.
  if (key.find("/secrets/") != std::string_view::npos) key = segment_after(key, "/secrets/");
  key = strip_slashes(key);
  for (std::string_view prefix : {"secret/", "cert/", "key/"}) {
    if (key.rfind(prefix, 0) == 0) {
      key.remove_prefix(prefix.size());
      break;
    }
  }
  std::string out(key);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string canonical_gcp_key(std::string_view key) {
  key = strip_slashes(key);
  if (key.rfind("projects/", 0) == 0) return std::string(segment_after(key, "/secrets/"));
  return std::string(key);
}

std::string canonical_vault_key(std::string_view key) {
  key = strip_slashes(key);
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::string(key);
  std::string_view rest = key.substr(slash + 1);
  if (rest.rfind("data/", 0) == 0) rest.remove_prefix(5);
  return std::string(key.substr(0, slash + 1)) + std::string(rest);
}

}  // namespace eso
