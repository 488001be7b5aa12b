#pragma once

#include <span>
#include <string>
#include <string_view>

namespace eso {

/// How one provider names a secret, reduced to a canonical form so that the key in an event and
/// the key in an ExternalSecret compare equal (DESIGN.md §3).
struct KeyRule {
  std::string_view provider;  ///< the key under a store's `spec.provider`, e.g. `akeyless`
  std::string (*canonical)(std::string_view key);
};

/// Every rule, Akeyless first: `akeyless`, `aws`, `azurekv`, `gcpsm`, `vault`.
std::span<const KeyRule> key_rules();

/// The rule of `provider`, or nullptr when eso-updater has none for it.
const KeyRule* key_rule(std::string_view provider);

/// Akeyless: one leading '/', no trailing '/'.
std::string canonical_akeyless_key(std::string_view key);
/// AWS Secrets Manager: a name, or an ARN reduced to its name without AWS's `-XXXXXX` suffix.
std::string canonical_aws_key(std::string_view key);
/// Azure Key Vault: `[secret|cert|key/]name`, or an object id/URL; names are case-insensitive.
std::string canonical_azure_key(std::string_view key);
/// Google Secret Manager: a secret id, or `projects/P/secrets/NAME[/versions/V]`.
std::string canonical_gcp_key(std::string_view key);
/// Vault/OpenBao kv-v2: `mount/path` with or without `data/` after the mount.
std::string canonical_vault_key(std::string_view key);

}  // namespace eso
