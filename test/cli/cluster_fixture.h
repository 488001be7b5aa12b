#pragma once

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

namespace eso::test {

/// What a finished child process left behind.
struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `argv` without a shell, with `extra_env` ("NAME=value") added to the environment and
/// `input` on stdin. Killed after `timeout_seconds`; a test never hangs on a child.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {},
                          const std::string& input = "", int timeout_seconds = 90);

/// A child process running in the background, killed (SIGTERM) and reaped when destroyed.
class BackgroundProcess {
 public:
  /// `stderr_file`: where the child's stderr goes ("" to share ours).
  explicit BackgroundProcess(const std::vector<std::string>& argv,
                             const std::vector<std::string>& extra_env = {},
                             const std::string& stderr_file = "");
  /// Sends `signal` and waits (bounded) for the process to exit; its exit code, or -1.
  int stop(int signal, int timeout_seconds = 30);
  /// Sends `signal` and returns at once.
  void signal(int signal) const;
  /// Waits up to `timeout_seconds` for the process to exit: its exit code, or -1 if it is
  /// still running (then it is left running).
  int wait(int timeout_seconds);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

 private:
  int pid_ = -1;
};

/// Starts the test stand-in for ESO's controllers (test/cluster/apiserver/esoplayer) on
/// `namespace_name` of the test cluster.
std::unique_ptr<BackgroundProcess> start_eso_player(const std::string& namespace_name);

/// A test cluster of its own (test/cluster/up with `env` added), stopped when destroyed.
class ExtraCluster {
 public:
  explicit ExtraCluster(std::vector<std::string> env);
  ~ExtraCluster();
  ExtraCluster(const ExtraCluster&) = delete;
  ExtraCluster& operator=(const ExtraCluster&) = delete;

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& state_dir() const { return state_; }
  /// kubectl against this cluster; fails the test when kubectl fails.
  std::string kubectl_here(std::vector<std::string> args, const std::string& input = "") const;

 private:
  std::string state_;
  std::string kubeconfig_;
  std::vector<std::string> env_;
};

/// Runs the eso-updater binary under test against the test cluster (KUBECONFIG).
ProcessResult eso_updater(const std::vector<std::string>& args,
                          const std::vector<std::string>& extra_env = {});

/// The kubectl to run: ESO_TEST_KUBECTL, else `kubectl` from PATH.
std::string kubectl_binary();

/// Runs kubectl against the test cluster; fails the test when kubectl fails.
std::string kubectl(const std::vector<std::string>& args, const std::string& input = "");

/// Creates a namespace with a unique name starting with `prefix` (namespaces never finish
/// deleting on a cluster without a controller-manager, so names are never reused).
std::string unique_namespace(const std::string& prefix);

/// An ExternalSecret manifest reading `keys` through spec.data, with extra spec YAML lines.
std::string external_secret_yaml(const std::string& namespace_name, const std::string& name,
                                 const std::vector<std::string>& keys,
                                 const std::string& extra_spec = "");

/// A ClusterExternalSecret `ces` reading `key`, and the children its controller would generate
/// in `namespaces` (with the owner reference ESO sets; the test cluster has no controller).
void create_ces_with_children(const std::string& ces, const std::string& key,
                              const std::vector<std::string>& namespaces);

/// Marks an ExternalSecret as synced by ESO (sets status.syncedResourceVersion), which the
/// test cluster has no controller to do.
void mark_synced(const std::string& namespace_name, const std::string& name);

/// GET of one object as JSON.
rapidjson::Document get_object(const std::string& resource, const std::string& namespace_name,
                               const std::string& name);

/// metadata.annotations[key] of a fetched object, or "" when absent.
std::string annotation(const rapidjson::Document& object, const std::string& key);

/// The directory of the test cluster's state (certificates, tokens): KUBECONFIG's directory.
std::string cluster_state_dir();

/// Ends the test program unless KUBECONFIG names a test cluster's kubeconfig: one file whose
/// directory holds the marker test/cluster/up writes, every server in it the marker's loopback
/// URL. Called first by every test program that talks to a cluster, so that a missing or failed
/// test cluster can never send the tests to a developer's real cluster.
void require_test_cluster();

/// Whether doctest's command line only lists, counts or documents the tests (ctest's discovery
/// does), so that no cluster is needed.
bool lists_only(int argc, char** argv);

/// The token of `user` from the cluster's static token file.
std::string static_token(const std::string& user);

/// The API server URL of the test cluster.
std::string cluster_server();

/// True when `needle` occurs in `haystack`.
bool contains(const std::string& haystack, const std::string& needle);

/// A loopback port nothing listens on right now.
int free_loopback_port();

/// The whole content of a file, without a trailing newline.
std::string read_file_text(const std::string& path);

/// A fresh temporary directory `/tmp/PREFIX-XXXXXX`, removed by run_and_clean_up() when every
/// test passed (kept after a failure: it holds the logs a failure message points to).
std::string make_temp_dir(const std::string& prefix);
/// Removes every directory make_temp_dir() made.
void remove_temp_dirs();
/// Runs the tests; removes the temporary directories when all passed. For the mains.
int run_and_clean_up(doctest::Context& context);

/// Writes `content` to a new file in a fresh temporary directory; returns its path.
std::string write_temp_file(const std::string& name, const std::string& content);

/// The API server's own count of requests with `verb` (e.g. "LIST") on `resource` (e.g.
/// "externalsecrets"), summed over codes, scopes and versions: apiserver_request_total from
/// /metrics. Compare before and after an action.
double apiserver_requests(const std::string& verb, const std::string& resource);

}  // namespace eso::test
