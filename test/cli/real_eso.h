#pragma once

// The real External Secrets Operator controller in the loop (DESIGN.md §8): a test cluster
// started with `ESO_CONTROLLER=real test/cluster/up`, and a secret manager the tests control
// (test/cluster/secretserver), read by ESO's `webhook` provider.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "test/cli/cluster_fixture.h"

namespace eso::test {

/// A bounded poll of a condition nothing notifies us of (a file appearing, a counter moving):
/// true as soon as `condition()` holds, false once `timeout` has passed.
template <typename Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

/// True when the test cluster runs the real ESO controller. Otherwise: fails the test when
/// ESO_TEST_REAL_ESO=1 (CI), else prints "SKIP: the real ESO controller is not running" (a
/// ctest skip) and returns false, so the caller returns.
bool real_controller_running();

/// The value of ESO's Prometheus metric `metric` for one ExternalSecret (0 when absent); with
/// an empty `name`, the sum over the series whose labels contain `label` (e.g.
/// `controller="clusterexternalsecret"`).
double eso_metric(const std::string& metric, const std::string& namespace_name,
                  const std::string& name, const std::string& label = "");

/// A secret manager for one test: test/cluster/secretserver on 127.0.0.1:0, stopped when
/// destroyed. Values and failure modes change between steps; every read is counted.
class SecretServer {
 public:
  SecretServer();
  SecretServer(const SecretServer&) = delete;
  SecretServer& operator=(const SecretServer&) = delete;

  /// Sets the value of `key` (atomically: a read sees the old or the new value, whole).
  void set(const std::string& key, const std::string& value);
  /// "ok", "fail" (every read answers 500) or "hang" (reads get no answer).
  void set_mode(const std::string& mode);
  /// How many reads of `key` the server has answered (any status).
  int reads(const std::string& key) const;
  /// Waits until `reads(key) >= at_least`; false after `timeout_seconds`.
  bool wait_reads(const std::string& key, int at_least, int timeout_seconds) const;
  /// A SecretStore `name` in `namespace_name` whose `webhook` provider reads this server.
  std::string store_yaml(const std::string& namespace_name, const std::string& name) const;
  /// The same provider as a ClusterSecretStore.
  std::string cluster_store_yaml(const std::string& name) const;

 private:
  std::string provider_yaml() const;
  std::string dir_;
  std::string address_;
  std::unique_ptr<BackgroundProcess> process_;
};

/// Creates a SecretStore (or ClusterSecretStore) and waits until ESO marks it Ready.
void apply_store_and_wait(const std::string& yaml, const std::string& kind,
                          const std::string& namespace_name, const std::string& name);

/// An ExternalSecret with one `data` entry (secretKey `value`) reading `key` through the
/// SecretStore `store`; `spec_extra` are more spec lines (indented two spaces; when they set
/// `target:` themselves, no default target is written).
std::string webhook_external_secret(const std::string& namespace_name, const std::string& name,
                                    const std::string& store, const std::string& key,
                                    const std::string& spec_extra = "");

/// Waits (a watch, through kubectl wait) until Secret `name` holds `value` under data.value.
/// Returns false after `timeout_seconds`.
bool wait_secret_value(const std::string& namespace_name, const std::string& name,
                       const std::string& value, int timeout_seconds = 30);

/// data.value of Secret `name`, decoded ("" when absent).
std::string secret_value(const std::string& namespace_name, const std::string& name);

/// Waits until ESO has finished one more reconcile of the ExternalSecret than `before`
/// (its sync_calls_total counter). Returns false after `timeout_seconds`.
/// With an empty `name`: until controller-runtime's reconcile count of `controller` grows.
bool wait_reconciled_after(const std::string& namespace_name, const std::string& name,
                           double before, int timeout_seconds = 30,
                           const std::string& controller = "");

}  // namespace eso::test
