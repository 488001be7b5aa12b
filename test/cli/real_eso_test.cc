// What DESIGN.md §2 says about ESO's reaction to a trigger, asserted against the real External
// Secrets Operator controller (v0.16.2, built from its Go module by test/cluster/build and run by
// `ESO_CONTROLLER=real test/cluster/up`), reading a secret server the test controls through its
// `webhook` provider. Each test counts the provider reads: a refresh is a read, a skipped one is
// none.
#include <chrono>
#include <filesystem>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include "test/cli/cluster_fixture.h"
#include "test/cli/real_eso.h"

namespace eso::test {
namespace {

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON: ", text);
  return doc;
}

// The verdict `match -o json` gives the ExternalSecret `name` for `key`.
std::string match_verdict(const std::string& ns, const std::string& key, const std::string& name) {
  const auto r = eso_updater({"match", "-n", ns, "-k", key, "-o", "json"});
  INFO(r.out, r.err);
  const auto doc = parse_json(r.out);
  for (const auto& m : doc["matches"].GetArray()) {
    if (std::string(m["name"].GetString()) == name) return m["verdict"].GetString();
  }
  return "";
}

// A namespace with a secret server and a Ready SecretStore `secrets` reading it.
struct Scene {
  explicit Scene(const std::string& prefix) : ns(unique_namespace(prefix)) {
    apply_store_and_wait(server.store_yaml(ns, "secrets"), "secretstore", ns, "secrets");
  }
  // Creates the ExternalSecret and waits until ESO has written `value` to its Secret.
  void synced_external_secret(const std::string& name, const std::string& key,
                              const std::string& value, const std::string& spec_extra = "") {
    server.set(key, value);
    kubectl({"apply", "-f", "-"}, webhook_external_secret(ns, name, "secrets", key, spec_extra));
    REQUIRE_MESSAGE(wait_secret_value(ns, name, value), "ESO never synced ", ns, "/", name);
  }
  std::string ns;
  SecretServer server;
};

const std::string kPeriodic = "  refreshInterval: 1h\n";
const std::string kOnChange = "  refreshPolicy: OnChange\n";
const std::string kCreatedOnce = "  refreshPolicy: CreatedOnce\n";
const std::string kIntervalZero = "  refreshInterval: \"0\"\n";

}  // namespace

TEST_CASE("real ESO: a trigger refreshes Periodic and OnChange, not CreatedOnce or interval 0") {
  if (!real_controller_running()) return;
  Scene s("real-policy");
  s.synced_external_secret("periodic", "/rt/periodic", "v1", kPeriodic);
  s.synced_external_secret("onchange", "/rt/onchange", "v1", kOnChange);
  s.synced_external_secret("once", "/rt/once", "v1", kCreatedOnce);
  s.synced_external_secret("zero", "/rt/zero", "v1", kIntervalZero);

  CHECK(match_verdict(s.ns, "/rt/periodic", "periodic") == "will-refresh");
  CHECK(match_verdict(s.ns, "/rt/onchange", "onchange") == "will-refresh");
  CHECK(match_verdict(s.ns, "/rt/once", "once") == "will-not-refresh (refreshPolicy CreatedOnce)");
  CHECK(match_verdict(s.ns, "/rt/zero", "zero") ==
        "will-not-refresh (Periodic with refreshInterval 0)");

  for (const char* key : {"/rt/periodic", "/rt/onchange", "/rt/once", "/rt/zero"}) {
    s.server.set(key, "v2");
  }
  const double once_calls = eso_metric("externalsecret_sync_calls_total", s.ns, "once");
  const double zero_calls = eso_metric("externalsecret_sync_calls_total", s.ns, "zero");
  const int once_reads = s.server.reads("/rt/once");
  const int zero_reads = s.server.reads("/rt/zero");
  const auto r = eso_updater({"trigger", "-n", s.ns, "--force", "-k", "/rt/periodic", "-k",
                              "/rt/onchange", "-k", "/rt/once", "-k", "/rt/zero"});
  INFO(r.out, r.err);
  REQUIRE(r.exit_code == 0);

  CHECK(wait_secret_value(s.ns, "periodic", "v2"));
  CHECK(wait_secret_value(s.ns, "onchange", "v2"));
  // ESO reconciled the patched objects it will not refresh, and left their Secrets stale.
  REQUIRE(wait_reconciled_after(s.ns, "once", once_calls));
  REQUIRE(wait_reconciled_after(s.ns, "zero", zero_calls));
  CHECK(secret_value(s.ns, "once") == "v1");
  CHECK(secret_value(s.ns, "zero") == "v1");
  CHECK(s.server.reads("/rt/once") == once_reads);
  CHECK(s.server.reads("/rt/zero") == zero_reads);

  // Both still repair their Secret: deleted, it is written again, with today's value.
  kubectl({"delete", "secret", "once", "-n", s.ns});
  CHECK(wait_secret_value(s.ns, "once", "v2"));
}

TEST_CASE("real ESO: trigger --wait exits 0 once ESO has synced the new value") {
  if (!real_controller_running()) return;
  Scene s("real-wait");
  s.synced_external_secret("db", "/rt/wait", "v1", kPeriodic);
  s.server.set("/rt/wait", "v2");
  const auto started = std::chrono::steady_clock::now();
  const auto r = eso_updater(
      {"trigger", "-n", s.ns, "-k", "/rt/wait", "--wait", "--timeout", "30s", "-o", "json"});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  const auto doc = parse_json(r.out);
  REQUIRE(doc["waits"].Size() == 1);
  CHECK(std::string(doc["waits"][0]["result"].GetString()) == "synced");
  // The value is there when --wait returns: no second look needed.
  CHECK(secret_value(s.ns, "db") == "v2");
  MESSAGE("trigger --wait returned after ", took, " s; wait reported ",
          doc["waits"][0]["elapsedSeconds"].GetDouble(), " s");
}

TEST_CASE("real ESO: trigger --wait exits 4 with ESO's message when the secret manager fails") {
  if (!real_controller_running()) return;
  Scene s("real-fail");
  s.synced_external_secret("db", "/rt/fail", "v1", kPeriodic);
  s.server.set("/rt/fail", "v2");
  s.server.set_mode("fail");
  const int reads = s.server.reads("/rt/fail");
  const auto r = eso_updater(
      {"trigger", "-n", s.ns, "-k", "/rt/fail", "--wait", "--timeout", "30s", "-o", "json"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 4);
  const auto doc = parse_json(r.out);
  REQUIRE(doc["waits"].Size() == 1);
  CHECK(std::string(doc["waits"][0]["result"].GetString()) == "failed");
  // ESO's own condition message (its Ready condition, reason SecretSyncedError).
  CHECK(contains(doc["waits"][0]["detail"].GetString(), "could not get secret data from provider"));
  CHECK(s.server.reads("/rt/fail") > reads);
  CHECK(secret_value(s.ns, "db") == "v1");

  // Failing again: ESO writes the very same condition (no new transition), so the wait cannot
  // tell this failure from the last one and says so when it gives up.
  const auto again = eso_updater(
      {"trigger", "-n", s.ns, "-k", "/rt/fail", "--wait", "--timeout", "4s", "-o", "json"});
  INFO(again.out, again.err);
  CHECK(again.exit_code == 4);
  CHECK(contains(again.out, "\"timeout\""));
  CHECK(contains(again.out, "still failing from before: could not get secret data from provider"));

  // Healthy again, then a secret manager that hangs: ESO gives up at the store's timeout (3 s)
  // and reports a new failure.
  s.server.set_mode("ok");
  const auto healed = eso_updater({"trigger", "-n", s.ns, "-k", "/rt/fail", "--wait"});
  INFO(healed.out, healed.err);
  CHECK(healed.exit_code == 0);
  CHECK(secret_value(s.ns, "db") == "v2");
  s.server.set("/rt/fail", "v3");
  s.server.set_mode("hang");
  const auto hung = eso_updater(
      {"trigger", "-n", s.ns, "-k", "/rt/fail", "--wait", "--timeout", "30s", "-o", "json"});
  INFO(hung.out, hung.err);
  CHECK(hung.exit_code == 4);
  CHECK(contains(hung.out, "\"failed\""));
  CHECK(contains(hung.out, "could not get secret data from provider"));
  CHECK(secret_value(s.ns, "db") == "v2");
}

TEST_CASE("real ESO: an ExternalSecret never synced yet syncs on a trigger whatever its policy") {
  if (!real_controller_running()) return;
  Scene s("real-never");
  // The secret manager fails from the start: ESO tries, fails and backs off (1s, 2s, 4s, ...),
  // so status.syncedResourceVersion stays empty.
  s.server.set_mode("fail");
  s.server.set("/rt/never-once", "v1");
  s.server.set("/rt/never-zero", "v1");
  kubectl({"apply", "-f", "-"},
          webhook_external_secret(s.ns, "once", "secrets", "/rt/never-once", kCreatedOnce) +
              "---\n" +
              webhook_external_secret(s.ns, "zero", "secrets", "/rt/never-zero", kIntervalZero));
  // Four failures each: ESO's next retry is then 8 s away, so a sync sooner is the trigger's.
  for (const char* name : {"once", "zero"}) {
    for (double seen = 0; seen < 4;) {
      REQUIRE(wait_reconciled_after(s.ns, name,
                                    eso_metric("externalsecret_sync_calls_total", s.ns, name)));
      seen = eso_metric("externalsecret_sync_calls_error", s.ns, name);
    }
  }
  CHECK(kubectl({"get", "externalsecret", "once", "-n", s.ns, "-o",
                 "jsonpath={.status.syncedResourceVersion}"})
            .empty());
  CHECK(match_verdict(s.ns, "/rt/never-once", "once") == "will-refresh (not synced yet)");
  CHECK(match_verdict(s.ns, "/rt/never-zero", "zero") == "will-refresh (not synced yet)");

  s.server.set_mode("ok");
  const auto r = eso_updater({"trigger", "-n", s.ns, "-k", "/rt/never-once", "-k", "/rt/never-zero",
                              "--wait", "--timeout", "6s", "-o", "json"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(secret_value(s.ns, "once") == "v1");
  CHECK(secret_value(s.ns, "zero") == "v1");
}

TEST_CASE("real ESO: --repeat-after makes ESO read the provider again after the delay") {
  if (!real_controller_running()) return;
  Scene s("real-repeat");
  s.synced_external_secret("db", "/rt/repeat", "v1", kOnChange);
  const int before = s.server.reads("/rt/repeat");
  const std::string generation =
      kubectl({"get", "externalsecret", "db", "-n", s.ns, "-o", "jsonpath={.metadata.generation}"});
  // The first patch brings v2; the value changes to v3 only after that; OnChange never polls, so
  // only the second patch, 3 s after the first, can bring v3 (a cache buster's whole point).
  s.server.set("/rt/repeat", "v2");
  BackgroundProcess trigger(
      {ESO_UPDATER_BINARY, "trigger", "-n", s.ns, "-k", "/rt/repeat", "--repeat-after", "3s"});
  REQUIRE(wait_secret_value(s.ns, "db", "v2"));
  s.server.set("/rt/repeat", "v3");
  CHECK(wait_secret_value(s.ns, "db", "v3"));
  CHECK(trigger.stop(0, 30) == 0);  // signal 0: only wait for it to finish
  CHECK(s.server.reads("/rt/repeat") >= before + 2);
  // Annotations only: the spec (generation) is untouched.
  CHECK(kubectl({"get", "externalsecret", "db", "-n", s.ns, "-o",
                 "jsonpath={.metadata.generation}"}) == generation);
}

TEST_CASE("real ESO: labels and annotations reach the Secret only without a template") {
  if (!real_controller_running()) return;
  Scene s("real-meta");
  const std::string labelled =
      "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: plain\n"
      "  namespace: " +
      s.ns +
      "\n  labels: {team: payments}\n  annotations: {owner: alice}\nspec:\n"
      "  refreshInterval: 1h\n  secretStoreRef: {name: secrets, kind: SecretStore}\n"
      "  target: {name: plain}\n  data:\n  - secretKey: value\n    remoteRef: {key: /rt/meta}\n";
  s.server.set("/rt/meta", "v1");
  kubectl({"apply", "-f", "-"}, labelled);
  REQUIRE(wait_secret_value(s.ns, "plain", "v1"));
  s.synced_external_secret("templated", "/rt/meta", "v1",
                           "  refreshInterval: 1h\n  target:\n    name: templated\n"
                           "    template:\n      metadata:\n        annotations: {kind: db}\n");
  // A template without metadata (here only the Secret type) stops the copy too.
  s.synced_external_secret("typed", "/rt/meta", "v1",
                           "  refreshInterval: 1h\n  target:\n    name: typed\n"
                           "    template: {type: Opaque}\n");
  s.server.set("/rt/meta", "v2");
  const auto r = eso_updater({"trigger", "-n", s.ns, "-k", "/rt/meta", "-o", "json"});
  INFO(r.out, r.err);
  REQUIRE(r.exit_code == 0);
  const std::string value = parse_json(r.out)["value"].GetString();
  REQUIRE(wait_secret_value(s.ns, "plain", "v2"));
  REQUIRE(wait_secret_value(s.ns, "templated", "v2"));
  REQUIRE(wait_secret_value(s.ns, "typed", "v2"));

  const auto plain = get_object("secret", s.ns, "plain");
  CHECK(annotation(plain, "force-sync") == value);
  CHECK(annotation(plain, "owner") == "alice");
  CHECK(std::string(plain["metadata"]["labels"]["team"].GetString()) == "payments");
  const auto templated = get_object("secret", s.ns, "templated");
  CHECK(annotation(templated, "force-sync").empty());
  CHECK(annotation(templated, "kind") == "db");
  CHECK(annotation(get_object("secret", s.ns, "typed"), "force-sync").empty());
}

namespace {

// controller-runtime's reconcile counter for one of ESO's controllers, all results summed.
double reconciles(const std::string& controller) {
  return eso_metric("controller_runtime_reconcile_total", "", "",
                    "controller=\"" + controller + "\"");
}

std::string es_annotation(const std::string& ns, const std::string& name, const std::string& key) {
  return annotation(get_object("externalsecret", ns, name), key);
}

}  // namespace

TEST_CASE("real ESO v0.16.2: a CES annotation reaches no child and --patch-children reaches each") {
  if (!real_controller_running()) return;
  SecretServer server;
  const auto a = unique_namespace("real-ces-a");
  const auto b = unique_namespace("real-ces-b");
  const std::string ces = "ces-" + a;
  const std::string key = "/rt/ces/" + a;
  for (const std::string& ns : {a, b}) kubectl({"label", "namespace", ns, "eso-real-ces=" + ces});
  apply_store_and_wait(server.cluster_store_yaml(ces), "clustersecretstore", "", ces);
  server.set(key, "v1");
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\n"
                      "metadata: {{name: {}}}\nspec:\n  namespaceSelectors:\n"
                      "  - matchLabels: {{eso-real-ces: {}}}\n  externalSecretSpec:\n"
                      "    refreshInterval: 1h\n"
                      "    secretStoreRef: {{name: {}, kind: ClusterSecretStore}}\n"
                      "    target: {{name: shared}}\n    data:\n    - secretKey: value\n"
                      "      remoteRef: {{key: \"{}\"}}\n",
                      ces, ces, ces, key));
  // ESO's CES controller generates the children; their controller syncs them.
  for (const std::string& ns : {a, b}) REQUIRE(wait_secret_value(ns, "shared", "v1"));
  const auto match = eso_updater({"match", "-A", "-k", key});
  INFO(match.out, match.err);
  CHECK(contains(match.out, "child of ClusterExternalSecret/" + ces));

  server.set(key, "v2");
  const int reads = server.reads(key);
  const double ces_reconciles = reconciles("clusterexternalsecret");
  const auto r = eso_updater({"trigger", "-A", "-k", key, "-o", "json"});
  INFO(r.out, r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_FALSE(kubectl({"get", "clusterexternalsecret", ces, "-o",
                       "jsonpath={.metadata.annotations.external-secrets\\.io/force-sync}"})
                  .empty());
  // The CES controller reconciled the patched parent, and left the children as they were:
  // v0.16.2 copies only spec.externalSecretMetadata to them (ESO >= v0.20 copies force-sync).
  REQUIRE(wait_reconciled_after("", "", ces_reconciles, 30, "clusterexternalsecret"));
  for (const std::string& ns : {a, b}) {
    CHECK(es_annotation(ns, ces, "external-secrets.io/force-sync").empty());
    CHECK(secret_value(ns, "shared") == "v1");
  }
  CHECK(server.reads(key) == reads);

  // --patch-children (ESO < v0.20): the annotation also goes into the parent's
  // spec.externalSecretMetadata, which the CES controller writes onto every child; each child
  // refreshes once and keeps the annotation, so --wait confirms both.
  server.set(key, "v3");
  const int before = server.reads(key);
  const auto children = eso_updater(
      {"trigger", "-A", "-k", key, "--patch-children", "--wait", "--timeout", "30s", "-o", "json"});
  INFO(children.out, children.err);
  CHECK(children.exit_code == 0);
  const auto doc = parse_json(children.out);
  const std::string stamp = doc["value"].GetString();
  REQUIRE(doc["waits"].Size() == 2);
  for (const auto& w : doc["waits"].GetArray()) {
    CHECK(std::string(w["result"].GetString()) == "synced");
  }
  for (const std::string& ns : {a, b}) {
    CHECK(secret_value(ns, "shared") == "v3");  // there when --wait returns
    CHECK(es_annotation(ns, ces, "external-secrets.io/force-sync") == stamp);
  }
  CHECK(kubectl({"get", "clusterexternalsecret", ces, "-o",
                 "jsonpath={.spec.externalSecretMetadata.annotations.external-secrets\\.io/"
                 "force-sync}"}) == stamp);
  const int child_reads = server.reads(key) - before;
  CHECK(child_reads >= 2);
  MESSAGE("--patch-children: provider reads for 2 children: ", child_reads);
}

TEST_CASE("real ESO: new value, then trigger --event or a webhook to serve: the Secret holds it") {
  if (!real_controller_running()) return;
  Scene s("real-chain");
  s.synced_external_secret("db", "/rt/chain/db", "v1", kPeriodic);

  // A pipeline hands trigger the Akeyless event it would send to serve.
  s.server.set("/rt/chain/db", "from-event");
  const auto event = write_temp_file(
      "event.json",
      R"({"item_name": "/rt/chain/db", "event_type": "static-secret-updated", "event_id": 7})");
  const auto r =
      eso_updater({"trigger", "-n", s.ns, "--event", event, "--wait", "--timeout", "30s"});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(secret_value(s.ns, "db") == "from-event");

  // serve receives the webhook and patches; ESO syncs.
  const std::string port_file = write_temp_file("port", "");
  std::filesystem::remove(port_file);
  BackgroundProcess serve({ESO_UPDATER_BINARY, "serve", "-n", s.ns, "--listen", "127.0.0.1:0",
                           "--port-file", port_file},
                          {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=chain-test"},
                          port_file + ".log");
  std::string port;
  const bool ready = wait_until(
      [&] {
        std::error_code error;
        if (!std::filesystem::exists(port_file, error)) return false;
        port = read_file_text(port_file);
        const auto probe = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                        "--max-time", "2", "http://127.0.0.1:" + port + "/readyz"});
        return probe.out == "200";
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  REQUIRE_MESSAGE(ready, "serve did not become ready; see ", port_file, ".log");
  s.server.set("/rt/chain/db", "from-webhook");
  const auto posted =
      run_process({"curl", "-sS", "--max-time", "30", "-u", "hook:chain-test", "-H",
                   "Content-Type: application/json", "--data-binary",
                   R"([{"item_name": "/rt/chain/db", "event_type": "static-secret-updated"}])",
                   "-w", "\n%{http_code}", "http://127.0.0.1:" + port + "/webhook"});
  INFO(posted.out, posted.err);
  CHECK(contains(posted.out, "\n200"));
  CHECK(wait_secret_value(s.ns, "db", "from-webhook"));
}

TEST_CASE("real ESO: trigger --server --wait through serve's trigger API with no kubeconfig") {
  if (!real_controller_running()) return;
  Scene s("real-tapi");
  s.synced_external_secret("db", "/rt/tapi/db", "v1", kPeriodic);
  const std::string port_file = write_temp_file("port", "");
  std::filesystem::remove(port_file);
  const std::string token = "real-eso-trigger-token-31";
  BackgroundProcess serve(
      {ESO_UPDATER_BINARY, "serve", "-n", s.ns, "--listen", "127.0.0.1:0", "--port-file",
       port_file},
      {"BASIC_AUTH_USER=hook", "BASIC_AUTH_PASSWORD=tapi-test", "TRIGGER_TOKEN=" + token},
      port_file + ".log");
  std::string url;
  const bool ready = wait_until(
      [&] {
        std::error_code error;
        if (!std::filesystem::exists(port_file, error)) return false;
        url = "http://127.0.0.1:" + read_file_text(port_file);
        const auto probe = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                        "--max-time", "2", url + "/readyz"});
        return probe.out == "200";
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  REQUIRE_MESSAGE(ready, "serve did not become ready; see ", port_file, ".log");
  s.server.set("/rt/tapi/db", "v2");
  const auto r = run_process({ESO_UPDATER_BINARY, "trigger", "--server", url, "-k", "/rt/tapi/db",
                              "--wait", "--timeout", "30s", "-o", "json"},
                             {"KUBECONFIG=/nonexistent/kubeconfig", "ESO_UPDATER_TOKEN=" + token});
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  const auto doc = parse_json(r.out);
  REQUIRE(doc["waits"].Size() == 1);
  CHECK(std::string(doc["waits"][0]["result"].GetString()) == "synced");
  CHECK(secret_value(s.ns, "db") == "v2");

  // A failing provider: ESO's SecretSyncedError comes back through the API as exit 4.
  s.server.set_mode("fail");
  const auto failed =
      run_process({ESO_UPDATER_BINARY, "trigger", "--server", url, "-k", "/rt/tapi/db", "--wait",
                   "--timeout", "30s"},
                  {"KUBECONFIG=/nonexistent/kubeconfig", "ESO_UPDATER_TOKEN=" + token});
  INFO(failed.out, failed.err);
  CHECK(failed.exit_code == 4);
  CHECK(contains(failed.out, "could not get secret data from provider"));
}

TEST_CASE("real ESO: trigger --force --wait reports objects ESO will not refresh at once") {
  if (!real_controller_running()) return;
  Scene s("real-force");
  s.synced_external_secret("periodic", "/rt/force", "v1", kPeriodic);
  s.synced_external_secret("once", "/rt/force", "v1", kCreatedOnce);
  s.server.set("/rt/force", "v2");
  const auto started = std::chrono::steady_clock::now();
  const auto r = eso_updater({"trigger", "-n", s.ns, "-k", "/rt/force", "--force", "--wait",
                              "--timeout", "20s", "-o", "json"});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(took < 10);
  const auto doc = parse_json(r.out);
  REQUIRE(doc["waits"].IsArray());
  for (const auto& w : doc["waits"].GetArray()) {
    const std::string name = w["name"].GetString();
    CHECK(std::string(w["result"].GetString()) == (name == "once" ? "will-not-refresh" : "synced"));
  }
  CHECK(secret_value(s.ns, "periodic") == "v2");
  CHECK(secret_value(s.ns, "once") == "v1");
}

}  // namespace eso::test
