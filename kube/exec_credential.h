#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"
#include "kube/client_config.h"

namespace eso::kube {

/// What an exec credential plugin answered (its ExecCredential `status`).
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;  ///< expirationTimestamp
};

/// Runs the plugin once, as client-go does: no shell, the kubeconfig's `env` added to ours,
/// KUBERNETES_EXEC_INFO set (with the cluster when provideClusterInfo), stdin and stderr the
/// terminal's only when interaction is allowed and possible. Errors name the command and carry
/// its stderr; a missing command carries the installHint.
Result<ExecCredential> run_exec_plugin(const ClientConfig& config);

}  // namespace eso::kube
