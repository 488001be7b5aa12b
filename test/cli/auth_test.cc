// Credentials as kubectl gets them, against the real API server: exec credential plugins (v1 and
// v1beta1, caching until expiry, one re-run after a 401), token files, merged KUBECONFIG lists.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

namespace fs = std::filesystem;

int plugin_runs(const fs::path& state) {
  const std::string text = read_file_text(state / "runs");
  return text.empty() ? 0 : std::stoi(text);
}

// A kubeconfig whose user runs test/cli/plugins/exec-credential answering `tokens` in turn.
struct ExecKubeconfig {
  fs::path dir;
  fs::path path;

  ExecKubeconfig(const std::string& api_version, const std::vector<std::string>& tokens,
                 const std::string& extra_env = "", const std::string& extra_exec = "") {
    path = write_temp_file("kubeconfig", "");
    dir = path.parent_path();
    std::ofstream list(dir / "tokens");
    for (const auto& t : tokens) list << t << "\n";
    list.close();
    const std::string yaml = fmt::format(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n"
        "    server: {}\n    certificate-authority: {}/ca.crt\nusers:\n- name: u\n  user:\n"
        "    exec:\n      apiVersion: {}\n      command: {}/test/cli/plugins/exec-credential\n"
        "      interactiveMode: Never\n{}      env:\n      - {{name: PLUGIN_TOKENS, value: {}}}\n"
        "      - {{name: PLUGIN_STATE, value: {}}}\n{}contexts:\n- name: t\n"
        "  context: {{cluster: c, user: u}}\n",
        cluster_server(), cluster_state_dir(), api_version, ESO_SOURCE_DIR, extra_exec,
        (dir / "tokens").string(), dir.string(), extra_env);
    std::ofstream(path) << yaml;
  }
};

}  // namespace

TEST_CASE("an exec plugin (v1) authenticates, and its credential is cached") {
  const auto ns = unique_namespace("exec-v1");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/exec"}));
  ExecKubeconfig config("client.authentication.k8s.io/v1", {static_token("eso-token-admin")});
  const auto r = eso_updater({"--kubeconfig", config.path, "trigger", "-n", ns, "-k", "/exec"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(plugin_runs(config.dir) == 1);  // discovery, LIST and PATCH share one credential
  const std::string info = read_file_text(config.dir / "info");
  CHECK(contains(info, R"("apiVersion":"client.authentication.k8s.io/v1")"));
  CHECK(contains(info, R"("interactive":false)"));
  CHECK_FALSE(contains(info, "\"cluster\""));
}

TEST_CASE("an exec plugin (v1beta1) with provideClusterInfo gets the cluster") {
  const auto ns = unique_namespace("exec-v1beta1");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/exec"}));
  ExecKubeconfig config("client.authentication.k8s.io/v1beta1", {static_token("eso-token-admin")},
                        "", "      provideClusterInfo: true\n");
  const auto r = eso_updater({"--kubeconfig", config.path, "match", "-n", ns, "-k", "/exec"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const std::string info = read_file_text(config.dir / "info");
  CHECK(contains(info, R"("apiVersion":"client.authentication.k8s.io/v1beta1")"));
  CHECK(contains(info, "\"server\":\"" + cluster_server() + "\""));
  CHECK(contains(info, "certificate-authority-data"));
}

TEST_CASE("a 401 makes the exec plugin run once more") {
  const auto ns = unique_namespace("exec-401");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/exec"}));
  ExecKubeconfig config("client.authentication.k8s.io/v1",
                        {"revoked-token", static_token("eso-token-admin")});
  const auto r = eso_updater({"--kubeconfig", config.path, "match", "-n", ns, "-k", "/exec"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(plugin_runs(config.dir) == 2);

  ExecKubeconfig always_bad("client.authentication.k8s.io/v1", {"revoked-token"});
  const auto bad = eso_updater({"--kubeconfig", always_bad.path, "match", "-k", "/exec"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "unauthorized"));
  CHECK(plugin_runs(always_bad.dir) == 2);  // one re-run, not a loop
  CHECK_FALSE(contains(bad.err, "revoked-token"));
}

TEST_CASE("an expiring exec credential is renewed between requests of one command") {
  const auto ns = unique_namespace("exec-expiry");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/exec"}));
  // 11 s of validity is inside the 10 s renewal margin after one second: the second patch round
  // of --repeat-after (1.5 s later) needs a fresh credential. (--wait no longer polls: it
  // follows one watch, so it makes no request after the first second.)
  ExecKubeconfig config("client.authentication.k8s.io/v1", {static_token("eso-token-admin")},
                        "      - {name: PLUGIN_EXPIRY, value: \"11\"}\n");
  const auto r = eso_updater({"--kubeconfig", config.path, "trigger", "-n", ns, "-k", "/exec",
                              "--repeat-after", "1500ms"});
  CHECK(r.exit_code == 0);
  CHECK(plugin_runs(config.dir) >= 2);

  ExecKubeconfig lasting("client.authentication.k8s.io/v1", {static_token("eso-token-admin")},
                         "      - {name: PLUGIN_EXPIRY, value: \"3600\"}\n");
  eso_updater({"--kubeconfig", lasting.path, "trigger", "-n", ns, "-k", "/exec", "--repeat-after",
               "1500ms"});
  CHECK(plugin_runs(lasting.dir) == 1);
}

TEST_CASE("a missing or failing exec plugin is a clear error") {
  ExecKubeconfig failing("client.authentication.k8s.io/v1", {"x"},
                         "      - {name: PLUGIN_FAIL, value: \"login expired: run corp-login\"}\n");
  const auto r = eso_updater({"--kubeconfig", failing.path, "match", "-k", "/x"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "exited with status 3: login expired: run corp-login"));

  const auto missing = write_temp_file(
      "kubeconfig",
      fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}}}\nusers:\n"
                  "- name: u\n  user:\n    exec:\n      apiVersion: "
                  "client.authentication.k8s.io/v1\n      command: no-such-auth-plugin\n"
                  "      installHint: install it from the corp portal\ncontexts:\n- name: t\n"
                  "  context: {{cluster: c, user: u}}\n",
                  cluster_server()));
  const auto m = eso_updater({"--kubeconfig", missing, "match", "-k", "/x"});
  CHECK(m.exit_code == 2);
  CHECK(contains(m.err, "\"no-such-auth-plugin\""));
  CHECK(contains(m.err, "not found; install it from the corp portal"));
}

TEST_CASE("a token file is read afresh when it is rewritten") {
  const auto ns = unique_namespace("token-file");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/tf"}));
  const auto token_file = write_temp_file("token", static_token("eso-token-user") + "\n");
  const auto config = write_temp_file(
      "kubeconfig",
      fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}, "
                  "certificate-authority: {}/ca.crt}}\nusers:\n- name: u\n  user: {{tokenFile: "
                  "{}}}\ncontexts:\n- name: t\n  context: {{cluster: c, user: u}}\n",
                  cluster_server(), cluster_state_dir(), token_file));
  const auto denied = eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/tf"});
  CHECK(denied.exit_code == 2);
  CHECK(contains(denied.err, "forbidden"));
  std::ofstream(token_file) << static_token("eso-token-admin") << "\n";
  const auto allowed = eso_updater({"--kubeconfig", config, "match", "-n", ns, "-k", "/tf"});
  INFO(allowed.err);
  CHECK(allowed.exit_code == 0);
}

// One `trigger --repeat-after` process whose kubeconfig names a token file, in a namespace where
// the service accounts "first" and "second" may each get, list and patch ExternalSecrets.
struct RepeatingTrigger {
  std::string ns;
  std::string token_file;
  std::string stderr_file;
  std::unique_ptr<BackgroundProcess> process;
  std::string first_value;   // force-sync after the first round
  std::string first_config;  // a kubeconfig with the first token, in a file of its own

  static std::string token_of(const std::string& ns, const std::string& account) {
    std::string token = kubectl({"create", "token", account, "-n", ns});
    while (!token.empty() && token.back() == '\n') token.pop_back();
    return token;
  }

  RepeatingTrigger(const std::string& prefix, const std::string& repeat_after)
      : ns(unique_namespace(prefix)) {
    kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/rr"}));
    kubectl({"create", "role", "writer", "-n", ns, "--verb=get,list,patch",
             "--resource=externalsecrets.external-secrets.io"});
    for (const char* account : {"first", "second"}) {
      kubectl({"create", "serviceaccount", account, "-n", ns});
      kubectl({"create", "rolebinding", account, "-n", ns, "--role=writer",
               fmt::format("--serviceaccount={}:{}", ns, account)});
      // RBAC takes effect a moment after it is written: wait until it does (bounded).
      bool allowed = false;
      for (int i = 0; i < 100 && !allowed; ++i) {
        allowed = run_process({kubectl_binary(), "auth", "can-i", "patch",
                               "externalsecrets.external-secrets.io", "-n", ns,
                               fmt::format("--as=system:serviceaccount:{}:{}", ns, account)})
                      .exit_code == 0;
        if (!allowed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      REQUIRE(allowed);
    }
    const std::string first_token = token_of(ns, "first");
    token_file = write_temp_file("token", first_token + "\n");
    const auto config = kubeconfig_for(token_file);
    first_config = kubeconfig_for(write_temp_file("token", first_token + "\n"));
    stderr_file = write_temp_file("stderr", "");
    process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{ESO_UPDATER_BINARY, "--kubeconfig", config, "trigger", "-n", ns,
                                 "-k", "/rr", "--repeat-after", repeat_after},
        std::vector<std::string>{}, stderr_file);
    // The first round has patched (with the first token) once force-sync is set.
    for (int i = 0; i < 300 && first_value.empty(); ++i) {
      first_value = annotation(get_object("externalsecret", ns, "es"), "force-sync");
      if (first_value.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE_FALSE(first_value.empty());
  }

  static std::string kubeconfig_for(const std::string& token_file) {
    return write_temp_file(
        "kubeconfig",
        fmt::format("current-context: t\nclusters:\n- name: c\n  cluster: {{server: {}, "
                    "certificate-authority: {}/ca.crt}}\nusers:\n- name: u\n  user: {{tokenFile: "
                    "{}}}\ncontexts:\n- name: t\n  context: {{cluster: c, user: u}}\n",
                    cluster_server(), cluster_state_dir(), token_file));
  }

  // Waits (bounded) until the first token gets `answer` ("forbidden" or "unauthorized") from the
  // API server, and checks the process has not started its second round yet.
  void await_first_token(const std::string& answer) {
    bool refused = false;
    for (int i = 0; i < 300 && !refused; ++i) {
      refused = contains(eso_updater({"--kubeconfig", first_config, "trigger", "-n", ns, "-k",
                                      "/none", "--dry-run"})
                             .err,
                         answer);
      if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(refused);
    REQUIRE(annotation(get_object("externalsecret", ns, "es"), "force-sync") == first_value);
  }

  // Waits (bounded) for the process to end after its second round; its exit code.
  int finish() { return process->stop(0, 60); }
};

TEST_CASE("a token file rewritten while the process runs is read afresh by the same process") {
  RepeatingTrigger run("token-rewritten", "20s");
  // From now on the first token may not patch (403, which re-reads nothing by itself): only a
  // re-read of the rewritten file lets the second round through.
  kubectl({"delete", "rolebinding", "first", "-n", run.ns});
  std::ofstream(run.token_file) << RepeatingTrigger::token_of(run.ns, "second") << "\n";
  run.await_first_token("forbidden");
  const int exit_code = run.finish();
  INFO(read_file_text(run.stderr_file));
  CHECK(exit_code == 0);
  const auto second_value = annotation(get_object("externalsecret", run.ns, "es"), "force-sync");
  CHECK_FALSE(second_value.empty());
  CHECK(second_value != run.first_value);
}

TEST_CASE("a token file is read afresh after a 401 even when its mtime did not change") {
  RepeatingTrigger run("token-401", "25s");
  const auto mtime = fs::last_write_time(run.token_file);
  // The first token is now invalid (401); the file holds the second token under the old mtime,
  // so only the re-read after the 401 finds it.
  kubectl({"delete", "serviceaccount", "first", "-n", run.ns});
  std::ofstream(run.token_file) << RepeatingTrigger::token_of(run.ns, "second") << "\n";
  fs::last_write_time(run.token_file, mtime);
  REQUIRE(fs::last_write_time(run.token_file) == mtime);
  // The API server caches a good token's verdict for about 10 s.
  run.await_first_token("unauthorized");
  const int exit_code = run.finish();
  INFO(read_file_text(run.stderr_file));
  CHECK(exit_code == 0);
  const auto second_value = annotation(get_object("externalsecret", run.ns, "es"), "force-sync");
  CHECK_FALSE(second_value.empty());
  CHECK(second_value != run.first_value);
}

TEST_CASE("a KUBECONFIG list of three files merges first-wins, with --context, --cluster, --user") {
  const auto ns = unique_namespace("kubeconfig-list");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "es", {"/list"}));
  const std::string server = cluster_server();
  const std::string ca = cluster_state_dir() + "/ca.crt";
  // 1: current-context and a user with a bad token named "u"; 2: the real cluster "c" and a
  // shadowed "u"; 3: a context "other" and a user "good" with the admin token.
  const auto first = write_temp_file(
      "one", fmt::format("current-context: main\ncontexts:\n- name: main\n  context: {{cluster: c, "
                         "user: u, namespace: {}}}\nusers:\n- name: u\n  user: {{token: bad}}\n",
                         ns));
  const auto second = write_temp_file(
      "two", fmt::format("clusters:\n- name: c\n  cluster: {{server: {}, certificate-authority: "
                         "{}}}\n- name: nowhere\n  cluster: {{server: 'https://127.0.0.1:1'}}\n"
                         "users:\n- name: u\n  user: {{token: {}}}\n",
                         server, ca, static_token("eso-token-admin")));
  const auto third = write_temp_file(
      "three", fmt::format("contexts:\n- name: other\n  context: {{cluster: c, user: good}}\n"
                           "- name: main\n  context: {{cluster: nowhere, user: good}}\nusers:\n"
                           "- name: good\n  user: {{token: {}}}\n",
                           static_token("eso-token-admin")));
  const std::string list = first + ":" + second + ":/nonexistent/kubeconfig:" + third;
  const std::vector<std::string> env{"KUBECONFIG=" + list};

  const auto main_ctx = eso_updater({"match", "-k", "/list"}, env);
  CHECK(main_ctx.exit_code == 2);  // main uses the first file's "u": a bad token
  CHECK(contains(main_ctx.err, "unauthorized"));
  const auto other = eso_updater({"--context", "other", "match", "-n", ns, "-k", "/list"}, env);
  INFO(other.err);
  CHECK(other.exit_code == 0);
  const auto as_good = eso_updater({"--user", "good", "match", "-k", "/list"}, env);
  INFO(as_good.err);
  CHECK(as_good.exit_code == 0);  // the context's namespace, the first file's cluster
  const auto elsewhere =
      eso_updater({"--user", "good", "--cluster", "nowhere", "match", "-k", "/list"}, env);
  CHECK(elsewhere.exit_code == 2);
  CHECK(contains(elsewhere.err, "cannot reach https://127.0.0.1:1"));
}

}  // namespace eso::test
