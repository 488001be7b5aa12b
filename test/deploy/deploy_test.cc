// The Helm chart and plain manifests in deploy/, checked for real: helm lint and template, a
// server-side dry-run on the test API server, and eso-updater in in-cluster mode with the
// chart's service account and RBAC (DESIGN.md §10).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

namespace fs = std::filesystem;

const std::string kChart = std::string(ESO_SOURCE_DIR) + "/deploy/helm/eso-updater";

// The helm binary: ESO_TEST_HELM, else the one test/deploy/build-helm builds and caches. ""
// (and a SKIP line that ctest reports as skipped) when helm cannot be built here.
std::string helm_or_skip() {
  static const std::string helm = [] {
    if (const char* h = std::getenv("ESO_TEST_HELM"); h != nullptr && ::access(h, X_OK) == 0) {
      return std::string(h);
    }
    const auto r =
        run_process({std::string(ESO_SOURCE_DIR) + "/test/deploy/build-helm"}, {}, "", 900);
    if (r.exit_code != 0) {
      std::cout << "build-helm: " << r.err << "\n";
      return std::string();
    }
    return r.out.substr(0, r.out.find('\n'));
  }();
  if (helm.empty()) {
    std::cout << "SKIP: helm is not available (test/deploy/build-helm could not build it)\n";
  }
  return helm;
}

// `helm template RELEASE chart -n NAMESPACE args...`; fails the test when helm fails.
std::string helm_template(const std::string& helm, const std::string& release,
                          const std::string& namespace_name,
                          const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv{helm, "template", release, kChart, "--namespace", namespace_name};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, "helm template failed: ", r.err);
  return r.out;
}

std::string values_file(const std::string& name) {
  return std::string(ESO_SOURCE_DIR) + "/test/deploy/" + name;
}

std::vector<YAML::Node> documents(const std::string& yaml) {
  std::vector<YAML::Node> out;
  for (auto& doc : YAML::LoadAll(yaml)) {
    if (doc.IsMap()) out.push_back(doc);
  }
  return out;
}

std::vector<YAML::Node> of_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == kind) out.push_back(d);
  }
  return out;
}

std::set<std::string> strings(const YAML::Node& list) {
  std::set<std::string> out;
  for (const auto& item : list) out.insert(item.as<std::string>());
  return out;
}

// "resource:verb" for every rule of every Role or ClusterRole in `roles`.
std::set<std::string> grants(const std::vector<YAML::Node>& roles) {
  std::set<std::string> out;
  for (const auto& role : roles) {
    for (const auto& rule : role["rules"]) {
      CHECK(strings(rule["apiGroups"]) == std::set<std::string>{"external-secrets.io"});
      for (const auto& resource : strings(rule["resources"])) {
        for (const auto& verb : strings(rule["verbs"])) out.insert(resource + ":" + verb);
      }
    }
  }
  return out;
}

std::set<std::string> grants_for(const std::vector<std::string>& resources,
                                 const std::vector<std::string>& verbs) {
  std::set<std::string> out;
  for (const auto& r : resources) {
    for (const auto& v : verbs) out.insert(r + ":" + v);
  }
  return out;
}

std::vector<std::string> container_args(const std::vector<YAML::Node>& docs) {
  const auto deployments = of_kind(docs, "Deployment");
  REQUIRE(deployments.size() == 1);
  std::vector<std::string> args;
  for (const auto& a : deployments[0]["spec"]["template"]["spec"]["containers"][0]["args"]) {
    args.push_back(a.as<std::string>());
  }
  return args;
}

// Every flag `eso-updater ARGS --help` lists.
std::set<std::string> flags_in_help(const std::vector<std::string>& args) {
  auto argv = args;
  argv.push_back("--help");
  const auto r = eso_updater(argv);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> flags;
  const std::regex flag(R"((^|[ ,])(--?[A-Za-z][A-Za-z-]*))");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  -", 0) != 0) continue;
    const std::string names = line.substr(0, line.find(' ', 2));
    for (std::sregex_iterator it(names.begin(), names.end(), flag), end; it != end; ++it) {
      flags.insert((*it)[2]);
    }
  }
  return flags;
}

// `kubectl apply --dry-run=server` of `yaml`; the server validates and admits without storing.
void server_dry_run(const std::string& yaml) {
  const auto r = run_process(
      {kubectl_binary(), "apply", "--dry-run=server", "--validate=strict", "-f", "-"}, {}, yaml);
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
}

void ensure_namespace(const std::string& name) {
  kubectl({"apply", "-f", "-"},
          fmt::format("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {}}}\n", name));
}

// An integer scalar's value, YAML 1.1 style (0440 is octal, as Kubernetes reads it).
std::optional<long> integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 0);
  if (*end != '\0') return std::nullopt;
  return value;
}

// Equal as data: maps compare by key whatever their order, integers by value (kustomize
// prints a file mode 0440 as 288), other scalars by text.
bool same_yaml(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  if (a.IsScalar()) {
    const auto x = integer(a.Scalar()), y = integer(b.Scalar());
    if (x && y) return *x == *y;
    return a.Scalar() == b.Scalar();
  }
  if (a.IsSequence()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!same_yaml(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.IsMap()) {
    if (a.size() != b.size()) return false;
    for (const auto& kv : a) {
      const auto other = b[kv.first.as<std::string>()];
      if (!other || !same_yaml(kv.second, other)) return false;
    }
    return true;
  }
  return true;
}

std::string object_id(const YAML::Node& doc) {
  const auto meta = doc["metadata"];
  return doc["kind"].as<std::string>() + "/" +
         (meta["namespace"] ? meta["namespace"].as<std::string>() + "/" : "") +
         meta["name"].as<std::string>();
}

}  // namespace

TEST_CASE("helm lint passes for the default, namespaced and fully configured values") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {},
           {"--set", "watch.scope=namespaces", "--set", "rbac.secretStores=true"},
           {"-f", values_file("values-everything.yaml"), "-f",
            values_file("values-all-flags.yaml")},
       }) {
    std::vector<std::string> argv{helm, "lint", "--strict", kChart};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = run_process(argv);
    INFO(r.out, r.err);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("the chart rejects an unknown scope and a misspelt serve value") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  for (const auto& set : {"watch.scope=everything", "serve.workerz=8", "serve.logFormat=xml",
                          "triggerApi.maxWaiting=4", "serve.workers=2,triggerApi.maxWaiting=2"}) {
    CAPTURE(set);
    const auto r = run_process({helm, "template", "r", kChart, "--set", set});
    CHECK(r.exit_code != 0);
  }
  CHECK(documents(helm_template(helm, "r", "ns1", {"--set", "replicaCount=1"})).size() ==
        documents(helm_template(helm, "r", "ns1")).size() - 1);  // no PodDisruptionBudget
}

TEST_CASE("the chart's RBAC is least privilege and never touches Secrets") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const std::vector<std::string> es_verbs{"list", "watch", "patch"};
  const std::vector<std::string> store_verbs{"get", "list", "watch"};

  SUBCASE("cluster-wide: ExternalSecrets and ClusterExternalSecrets, stores only on request") {
    const auto docs = documents(helm_template(helm, "r", "ns1"));
    CHECK(of_kind(docs, "Role").empty());
    CHECK(grants(of_kind(docs, "ClusterRole")) ==
          grants_for({"externalsecrets", "clusterexternalsecrets"}, es_verbs));
    const auto with_stores =
        documents(helm_template(helm, "r", "ns1", {"--set", "rbac.secretStores=true"}));
    auto expected = grants_for({"externalsecrets", "clusterexternalsecrets"}, es_verbs);
    expected.merge(grants_for({"secretstores", "clustersecretstores"}, store_verbs));
    CHECK(grants(of_kind(with_stores, "ClusterRole")) == expected);
  }
  SUBCASE("namespaced: a Role in each watched namespace and nothing cluster-wide") {
    const auto docs = documents(helm_template(
        helm, "r", "ns1",
        {"--set", "watch.scope=namespaces", "--set", "watch.namespaces={team-a,team-b}"}));
    CHECK(of_kind(docs, "ClusterRole").empty());
    CHECK(of_kind(docs, "ClusterRoleBinding").empty());
    std::set<std::string> namespaces;
    for (const auto& role : of_kind(docs, "Role")) {
      namespaces.insert(role["metadata"]["namespace"].as<std::string>());
      CHECK(grants({role}) == grants_for({"externalsecrets"}, es_verbs));
    }
    CHECK(namespaces == std::set<std::string>{"team-a", "team-b"});
    for (const auto& binding : of_kind(docs, "RoleBinding")) {
      CHECK(binding["subjects"][0]["namespace"].as<std::string>() == "ns1");
    }
    const auto args = container_args(docs);
    CHECK(args.front() == "--namespace=team-a,team-b");
  }
  SUBCASE("namespaced with stores and ClusterExternalSecrets: the cluster-scoped part only") {
    const auto docs = documents(
        helm_template(helm, "r", "ns1",
                      {"--set", "watch.scope=namespaces", "--set", "rbac.secretStores=true",
                       "--set", "rbac.clusterExternalSecrets=true"}));
    auto namespaced = grants_for({"externalsecrets"}, es_verbs);
    namespaced.merge(grants_for({"secretstores"}, store_verbs));
    CHECK(grants(of_kind(docs, "Role")) == namespaced);
    auto cluster = grants_for({"clustersecretstores"}, store_verbs);
    cluster.insert("clusterexternalsecrets:patch");
    CHECK(grants(of_kind(docs, "ClusterRole")) == cluster);
  }
}

TEST_CASE("the chart has a value for every serve flag") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto docs =
      documents(helm_template(helm, "r", "ns1", {"-f", values_file("values-all-flags.yaml")}));
  std::set<std::string> passed;
  for (const auto& a : container_args(docs)) passed.insert(a.substr(0, a.find('=')));
  auto expected = flags_in_help({"serve"});
  // Set by the chart itself, meaningless in a pod, or for tests only.
  for (const char* f : {"-h", "--help", "--port-file", "--sns-host-pattern"}) expected.erase(f);
  // The scope: the global flags the chart sets.
  for (const char* f : {"--all-namespaces", "--selector", "--chunk-size"}) expected.insert(f);
  std::string missing;
  for (const auto& f : expected) {
    if (passed.count(f) == 0) missing += " " + f;
  }
  CHECK_MESSAGE(missing.empty(), "serve flags without a chart value:", missing);
}

TEST_CASE("the chart's trigger API: a generated token of its own and an optional Ingress path") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto off = documents(helm_template(helm, "r", "ns1", {"--set", "ingress.enabled=true"}));
  CHECK_FALSE(of_kind(off, "Secret").at(0)["data"]["trigger-token"]);
  const auto on =
      documents(helm_template(helm, "r", "ns1",
                              {"--set", "ingress.enabled=true", "--set", "triggerApi.enabled=true",
                               "--set", "triggerApi.ingressPath=true"}));
  const auto data = of_kind(on, "Secret").at(0)["data"];
  REQUIRE(data["trigger-token"]);
  CHECK(data["trigger-token"].as<std::string>().size() >= 48);
  CHECK(data["trigger-token"].as<std::string>() != data["token"].as<std::string>());
  std::set<std::string> paths;
  for (const auto& p : of_kind(on, "Ingress").at(0)["spec"]["rules"][0]["http"]["paths"]) {
    paths.insert(p["path"].as<std::string>());
  }
  CHECK(paths == std::set<std::string>{"/webhook", "/v1/trigger", "/v1/match"});
  // No Service of its own unless asked; then one on the same pod port, named after the release.
  CHECK(of_kind(on, "Service").size() == 1);
  const auto own = documents(helm_template(
      helm, "r", "ns1",
      {"--set", "triggerApi.enabled=true", "--set", "triggerApi.service.enabled=true", "--set",
       "triggerApi.service.type=LoadBalancer", "--set", "triggerApi.service.port=9443"}));
  const auto services = of_kind(own, "Service");
  REQUIRE(services.size() == 2);
  const auto& trigger = services[1];
  CHECK(trigger["metadata"]["name"].as<std::string>() ==
        services[0]["metadata"]["name"].as<std::string>() + "-trigger");
  CHECK(trigger["spec"]["type"].as<std::string>() == "LoadBalancer");
  CHECK(trigger["spec"]["ports"][0]["port"].as<int>() == 9443);
  CHECK(trigger["spec"]["ports"][0]["targetPort"].as<std::string>() == "http");
  CHECK(same_yaml(trigger["spec"]["selector"], services[0]["spec"]["selector"]));
  // The Service needs the API itself: without triggerApi.enabled there is nothing to reach.
  CHECK(of_kind(documents(
                    helm_template(helm, "r", "ns1", {"--set", "triggerApi.service.enabled=true"})),
                "Service")
            .size() == 1);
  std::set<std::string> off_paths;
  for (const auto& p : of_kind(off, "Ingress").at(0)["spec"]["rules"][0]["http"]["paths"]) {
    off_paths.insert(p["path"].as<std::string>());
  }
  CHECK(off_paths == std::set<std::string>{"/webhook"});
}

namespace {

// The ports a NetworkPolicy lets the pod reach, over all its egress rules.
std::set<int> egress_ports(const YAML::Node& policy) {
  std::set<int> ports;
  for (const auto& rule : policy["spec"]["egress"]) {
    for (const auto& p : rule["ports"]) ports.insert(p["port"].as<int>());
  }
  return ports;
}

}  // namespace

TEST_CASE("the chart's NetworkPolicy lets serve fetch what sender verification needs, no more") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto plain =
      documents(helm_template(helm, "r", "ns1", {"--set", "networkPolicy.enabled=true"}));
  CHECK(egress_ports(of_kind(plain, "NetworkPolicy").at(0)) == std::set<int>{443, 6443});
  for (const char* value : {"serve.pubsubAudience=https://h/webhook/gcp",
                            "serve.snsTopicArns={arn:aws:sns:eu-west-1:1:t}"}) {
    CAPTURE(value);
    const auto docs =
        documents(helm_template(helm, "r", "ns1",
                                {"--set", "networkPolicy.enabled=true", "--set", value, "--set",
                                 "networkPolicy.verifyTo[0].ipBlock.cidr=0.0.0.0/0"}));
    const auto policy = of_kind(docs, "NetworkPolicy").at(0);
    CHECK(egress_ports(policy) == std::set<int>{53, 80, 443, 6443});
    CHECK(policy["spec"]["egress"][2]["to"][0]["ipBlock"]["cidr"].as<std::string>() == "0.0.0.0/0");
  }
}

TEST_CASE("the chart's NetworkPolicy admits the trigger API's callers as peers of their own") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const std::vector<std::string> base = {
      "--set", "networkPolicy.enabled=true",
      "--set", "networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.team=ingress",
      "--set", "networkPolicy.triggerFrom[0].namespaceSelector.matchLabels.team=ci"};
  auto with_api = base;
  with_api.insert(with_api.end(), {"--set", "triggerApi.enabled=true"});
  const auto policy = of_kind(documents(helm_template(helm, "r", "ns1", with_api)), "NetworkPolicy")
                          .at(0)["spec"]["ingress"];
  REQUIRE(policy.size() == 2);
  CHECK(policy[0]["from"][0]["namespaceSelector"]["matchLabels"]["team"].as<std::string>() ==
        "ingress");
  CHECK(policy[1]["from"][0]["namespaceSelector"]["matchLabels"]["team"].as<std::string>() == "ci");
  CHECK(policy[1]["ports"][0]["port"].as<std::string>() == "http");
  // Without the trigger API there is nothing for those peers to reach.
  CHECK(of_kind(documents(helm_template(helm, "r", "ns1", base)), "NetworkPolicy")
            .at(0)["spec"]["ingress"]
            .size() == 1);
}

TEST_CASE("the chart's pod is hardened and probed") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto docs = documents(helm_template(helm, "r", "ns1"));
  const auto deployment = of_kind(docs, "Deployment").at(0);
  const auto pod = deployment["spec"]["template"]["spec"];
  CHECK(deployment["spec"]["replicas"].as<int>() == 2);
  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(pod["securityContext"]["runAsUser"].as<int>() > 0);
  CHECK(pod["securityContext"]["seccompProfile"]["type"].as<std::string>() == "RuntimeDefault");
  const auto container = pod["containers"][0];
  CHECK(container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  CHECK_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  CHECK(strings(container["securityContext"]["capabilities"]["drop"]) ==
        std::set<std::string>{"ALL"});
  CHECK(container["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(container["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(container["resources"]["requests"]);
  CHECK(container["resources"]["limits"]["memory"]);
  CHECK(of_kind(docs, "PodDisruptionBudget").size() == 1);
  CHECK(of_kind(docs, "Service").size() == 1);
  CHECK(of_kind(docs, "Ingress").empty());
  CHECK(of_kind(docs, "NetworkPolicy").empty());
  // Credentials are files from a Secret, never environment variables or arguments.
  CHECK_FALSE(container["env"]);
  const auto secrets = of_kind(docs, "Secret");
  REQUIRE(secrets.size() == 1);
  CHECK(pod["volumes"][0]["secret"]["secretName"].as<std::string>() ==
        secrets[0]["metadata"]["name"].as<std::string>());
}

TEST_CASE("the rendered chart passes a server-side dry-run on the API server") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  kubectl({"apply", "-f", values_file("servicemonitor-crd.yaml")});
  kubectl({"wait", "--for", "condition=Established", "--timeout", "60s",
           "crd/servicemonitors.monitoring.coreos.com"});
  const auto ns = unique_namespace("deploy-dry");
  const auto other = unique_namespace("deploy-dry-b");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"--set", "watch.scope=namespaces", "--set",
            fmt::format("watch.namespaces={{{},{}}}", ns, other), "--set", "rbac.secretStores=true",
            "--set", "rbac.clusterExternalSecrets=true"},
           {"-f", values_file("values-everything.yaml"), "-f",
            values_file("values-all-flags.yaml")},
       }) {
    CAPTURE(fmt::format("{}", fmt::join(args, " ")));
    server_dry_run(helm_template(helm, ns, ns, args));
  }
}

TEST_CASE("deploy/manifests is the chart rendered, and both kustomizations apply") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const std::string out = fs::path(write_temp_file("x", "")).parent_path() / "manifests";
  const auto r = run_process({std::string(ESO_SOURCE_DIR) + "/deploy/render-manifests"},
                             {"HELM=" + helm, "OUT=" + out});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string committed = std::string(ESO_SOURCE_DIR) + "/deploy/manifests";
  for (const char* file : {"cluster-wide/eso-updater.yaml", "namespaced/rbac.yaml"}) {
    CAPTURE(file);
    CHECK_MESSAGE(read_file_text(committed + "/" + file) == read_file_text(out + "/" + file),
                  "run deploy/render-manifests");
  }

  // The namespaced overlay is what the chart renders with watch.scope=namespaces.
  const auto overlay = documents(kubectl({"kustomize", committed + "/namespaced"}));
  const auto chart =
      documents(helm_template(helm, "eso-updater", "eso-updater",
                              {"--set", "credentials.existingSecret=eso-updater-credentials",
                               "--set", "watch.scope=namespaces"}));
  std::map<std::string, YAML::Node> rendered;
  for (const auto& d : chart) rendered[object_id(d)] = d;
  std::set<std::string> ids;
  for (const auto& d : overlay) {
    if (d["kind"].as<std::string>() == "Namespace") continue;
    CAPTURE(object_id(d));
    ids.insert(object_id(d));
    REQUIRE(rendered.count(object_id(d)) == 1);
    CHECK(same_yaml(d, rendered[object_id(d)]));
  }
  CHECK(ids.size() == rendered.size());

  ensure_namespace("eso-updater");
  server_dry_run(kubectl({"kustomize", committed + "/cluster-wide"}));
  server_dry_run(kubectl({"kustomize", committed + "/namespaced"}));
}

namespace {

// A service-account directory as the kubelet mounts it: token, ca.crt, namespace.
std::string service_account_dir(const std::string& namespace_name, const std::string& account) {
  const std::string token = kubectl({"create", "token", account, "-n", namespace_name});
  const std::string dir = fs::path(write_temp_file("token", token)).parent_path();
  fs::copy_file(cluster_state_dir() + "/ca.crt", dir + "/ca.crt");
  std::ofstream(dir + "/namespace") << namespace_name;
  return dir;
}

// eso-updater as the chart's pod runs it: in-cluster configuration, no kubeconfig.
struct InCluster {
  std::string sa_dir;
  std::vector<std::string> env;

  InCluster(const std::string& namespace_name, const std::string& account)
      : sa_dir(service_account_dir(namespace_name, account)) {
    const std::string server = cluster_server();
    env = {"KUBERNETES_SERVICE_HOST=127.0.0.1",
           "KUBERNETES_SERVICE_PORT=" + server.substr(server.rfind(':') + 1),
           "ESO_SERVICE_ACCOUNT_DIR=" + sa_dir, "HOME=" + sa_dir};
  }

  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    std::vector<std::string> out{"env", "-u", "KUBECONFIG", ESO_UPDATER_BINARY};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  ProcessResult run(const std::vector<std::string>& args) const {
    return run_process(argv(args), env);
  }
};

// The chart's RBAC and service account applied for real; returns the service account's name.
std::string apply_chart_rbac(const std::string& helm, const std::string& release,
                             const std::string& namespace_name,
                             const std::vector<std::string>& args) {
  std::vector<std::string> show{"--show-only", "templates/serviceaccount.yaml", "--show-only",
                                "templates/rbac.yaml"};
  show.insert(show.end(), args.begin(), args.end());
  const std::string yaml = helm_template(helm, release, namespace_name, show);
  kubectl({"apply", "-f", "-"}, yaml);
  for (const auto& d : of_kind(documents(yaml), "ServiceAccount")) {
    return d["metadata"]["name"].as<std::string>();
  }
  FAIL("the chart rendered no ServiceAccount");
  return "";
}

// `kubectl auth can-i VERB RESOURCE` as the service account: "yes" or "no".
std::string can_i(const std::string& namespace_name, const std::string& account,
                  const std::vector<std::string>& what) {
  std::vector<std::string> argv{kubectl_binary(), "auth", "can-i"};
  argv.insert(argv.end(), what.begin(), what.end());
  argv.push_back("--as=system:serviceaccount:" + namespace_name + ":" + account);
  const auto r = run_process(argv);
  return r.out.substr(0, r.out.find('\n'));
}

// curl against serve on loopback: "<status>" and the body after a newline.
ProcessResult curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"curl", "-sS", "-w", "\n%{http_code}", "--max-time", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

int wait_for_port(const std::string& port_file) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("serve wrote no port to ", port_file);
  return 0;
}

bool wait_ready(int port) {
  for (int i = 0; i < 100; ++i) {
    const auto r = curl({fmt::format("http://127.0.0.1:{}/readyz", port)});
    if (r.out.size() >= 3 && r.out.substr(r.out.size() - 3) == "200") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The Deployment's arguments as serve gets them, on a loopback port, with credentials from
// `credentials_dir`, the port written to `port_file`.
std::vector<std::string> serve_args_from_chart(const std::vector<std::string>& chart_args,
                                               const std::string& credentials_dir,
                                               const std::string& port_file) {
  std::vector<std::string> out{"serve"};
  for (const auto& a : chart_args) {
    if (a.rfind("--listen=", 0) == 0) {
      out.push_back("--listen=127.0.0.1:0");
    } else if (a.rfind("--credentials-dir=", 0) == 0) {
      out.push_back("--credentials-dir=" + credentials_dir);
    } else {
      out.push_back(a);
    }
  }
  out.push_back("--port-file=" + port_file);
  return out;
}

}  // namespace

TEST_CASE(
    "in-cluster, the chart's service account can match, trigger and serve, never read "
    "Secrets") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto ns = unique_namespace("deploy-ic");
  const auto account = apply_chart_rbac(helm, ns, ns, {});
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/deploy/db"}));
  mark_synced(ns, "db");
  kubectl({"create", "secret", "generic", "private", "-n", ns, "--from-literal=k=v"});
  const InCluster pod(ns, account);

  SUBCASE("match and trigger") {
    const auto match = pod.run({"match", "-k", "/deploy/db"});
    INFO(match.out, match.err);
    CHECK(match.exit_code == 0);
    CHECK(contains(match.out, "db"));
    const auto all = pod.run({"match", "-A", "-k", "/deploy/db"});
    CHECK(all.exit_code == 0);
    const auto trigger = pod.run({"trigger", "-k", "/deploy/db"});
    INFO(trigger.out, trigger.err);
    CHECK(trigger.exit_code == 0);
    CHECK_FALSE(annotation(get_object("externalsecret", ns, "db"), "force-sync").empty());
  }

  SUBCASE("trigger -A patches a ClusterExternalSecret that reads the key") {
    const std::string key = "/deploy/" + ns + "/shared";
    create_ces_with_children(ns, key, {});
    const auto r = pod.run({"trigger", "-A", "-k", key});
    INFO(r.out, r.err);
    CHECK(r.exit_code == 0);
    const auto ces = get_object("clusterexternalsecret", "", ns);
    CHECK_FALSE(annotation(ces, "external-secrets.io/force-sync").empty());
  }

  SUBCASE("serve with the Deployment's arguments") {
    const auto args = container_args(documents(helm_template(helm, ns, ns)));
    const std::string creds = fs::path(write_temp_file("username", "hook")).parent_path();
    std::ofstream(creds + "/password") << "hook-password";
    const std::string port_file = creds + "/port";
    BackgroundProcess serve(pod.argv(serve_args_from_chart(args, creds, port_file)), pod.env,
                            creds + "/serve.log");
    const int port = wait_for_port(port_file);
    REQUIRE_MESSAGE(wait_ready(port), read_file_text(creds + "/serve.log"));
    const auto before = annotation(get_object("externalsecret", ns, "db"), "force-sync");
    const auto r =
        curl({"-u", "hook:hook-password", "-H", "Content-Type: application/json", "-d",
              R"({"keys": ["/deploy/db"]})", fmt::format("http://127.0.0.1:{}/webhook", port)});
    INFO(r.out, read_file_text(creds + "/serve.log"));
    CHECK(r.out.substr(r.out.size() - 3) == "200");
    const auto after = annotation(get_object("externalsecret", ns, "db"), "force-sync");
    CHECK_FALSE(after.empty());
    CHECK(after != before);
  }

  SUBCASE("Secrets are forbidden") {
    CHECK(can_i(ns, account, {"get", "secrets", "-n", ns}) == "no");
    CHECK(can_i(ns, account, {"list", "secrets", "-A"}) == "no");
    CHECK(can_i(ns, account, {"patch", "externalsecrets", "-A"}) == "yes");
    CHECK(can_i(ns, account, {"delete", "externalsecrets", "-n", ns}) == "no");
    CHECK(can_i(ns, account, {"update", "externalsecrets", "-n", ns}) == "no");
    CHECK(can_i(ns, account, {"list", "secretstores", "-n", ns}) == "no");
    // The token itself, on the wire.
    const auto r =
        run_process({kubectl_binary(), "--kubeconfig", "/dev/null", "--server", cluster_server(),
                     "--certificate-authority", pod.sa_dir + "/ca.crt", "--token",
                     read_file_text(pod.sa_dir + "/token"), "get", "secret", "private", "-n", ns});
    CHECK(r.exit_code != 0);
    CHECK(contains(r.err, "Forbidden"));
    CHECK_FALSE(contains(r.out, "private"));
  }
}

TEST_CASE("in-cluster with the namespaced RBAC: its namespace only, stores only when asked") {
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto ns = unique_namespace("deploy-ns");
  const std::vector<std::string> namespaced{"--set", "watch.scope=namespaces"};
  const auto account = apply_chart_rbac(helm, ns, ns, namespaced);
  kubectl({"apply", "-f", "-"},
          external_secret_yaml(ns, "db", {"/deploy/db"}) +
              fmt::format("apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: "
                          "{{name: akeyless, namespace: {}}}\nspec:\n  provider:\n    akeyless:\n"
                          "      akeylessGWApiURL: https://api.akeyless.io\n"
                          "      authSecretRef:\n        secretRef:\n"
                          "          accessID: {{name: a, key: id}}\n"
                          "          accessType: {{name: a, key: type}}\n"
                          "          accessTypeParam: {{name: a, key: param}}\n",
                          ns));
  mark_synced(ns, "db");
  const InCluster pod(ns, account);

  const auto here = pod.run({"trigger", "-k", "/deploy/db"});
  INFO(here.out, here.err);
  CHECK(here.exit_code == 0);
  const auto everywhere = pod.run({"match", "-A", "-k", "/deploy/db"});
  CHECK(everywhere.exit_code == 2);
  CHECK(contains(everywhere.err, "forbidden"));
  CHECK(can_i(ns, account, {"list", "externalsecrets", "-A"}) == "no");
  CHECK(can_i(ns, account, {"get", "secrets", "-n", ns}) == "no");

  // Provider scoping reads the stores: forbidden until rbac.secretStores is on.
  const auto no_stores = pod.run({"match", "-k", "/deploy/db", "--provider", "akeyless"});
  CHECK(no_stores.exit_code == 2);
  CHECK(contains(no_stores.err, "secretstores"));
  std::vector<std::string> with_stores = namespaced;
  with_stores.insert(with_stores.end(), {"--set", "rbac.secretStores=true"});
  apply_chart_rbac(helm, ns, ns, with_stores);
  const auto scoped = pod.run({"match", "-k", "/deploy/db", "--provider", "akeyless"});
  INFO(scoped.out, scoped.err);
  CHECK(scoped.exit_code == 0);
  CHECK(contains(scoped.out, "db"));
  CHECK(can_i(ns, account, {"get", "secrets", "-n", ns}) == "no");

  // serve with the namespaced Deployment's arguments becomes ready on the Role alone.
  const auto args = container_args(documents(helm_template(helm, ns, ns, namespaced)));
  CHECK(args.front() == "--namespace=" + ns);
  const std::string creds = fs::path(write_temp_file("token", "bearer-token")).parent_path();
  BackgroundProcess serve(pod.argv(serve_args_from_chart(args, creds, creds + "/port")), pod.env,
                          creds + "/serve.log");
  const int port = wait_for_port(creds + "/port");
  REQUIRE_MESSAGE(wait_ready(port), read_file_text(creds + "/serve.log"));
  // The credentials directory holds a bearer token: a sender with it patches, one without is 401.
  const std::string url = fmt::format("http://127.0.0.1:{}/webhook", port);
  const std::string body = R"({"keys": ["/deploy/db"]})";
  const auto wrong = curl({"-H", "Authorization: Bearer not-the-token", "-H",
                           "Content-Type: application/json", "-d", body, url});
  CHECK(wrong.out.substr(wrong.out.size() - 3) == "401");
  const auto before = annotation(get_object("externalsecret", ns, "db"), "force-sync");
  const auto right = curl({"-H", "Authorization: Bearer bearer-token", "-H",
                           "Content-Type: application/json", "-d", body, url});
  INFO(right.out, read_file_text(creds + "/serve.log"));
  CHECK(right.out.substr(right.out.size() - 3) == "200");
  const auto after = annotation(get_object("externalsecret", ns, "db"), "force-sync");
  CHECK_FALSE(after.empty());
  CHECK(after != before);
}

namespace {

// The image's filesystem as scripts/image exported it (ESO_TEST_IMAGE_ROOT, with its config
// beside it as ROOT.config.json). "" and a SKIP line when the image was not built; scripts/test
// builds it and fails on a skipped test.
std::string image_root_or_skip() {
  const char* root = std::getenv("ESO_TEST_IMAGE_ROOT");
  if (root != nullptr && fs::exists(std::string(root) + "/usr/local/bin/eso-updater")) return root;
  std::cout << "SKIP: the image was not built (scripts/image, ESO_TEST_IMAGE_ROOT)\n";
  return "";
}

// The image run as a pod runs its container (test/deploy/image-run): read-only root, the
// image's user, the service account and credentials mounted, /tmp a scratch directory.
struct ImagePod {
  std::string root;
  std::string sa_dir;
  std::string creds;
  std::string scratch;
  std::vector<std::string> env;

  ImagePod(std::string image_root, const std::string& namespace_name, const std::string& account)
      : root(std::move(image_root)), sa_dir(service_account_dir(namespace_name, account)) {
    creds = fs::path(write_temp_file("username", "hook")).parent_path();
    std::ofstream(creds + "/password") << "hook-password";
    scratch = fs::path(write_temp_file("scratch", "")).parent_path().string() + "/tmp";
    fs::create_directories(scratch);
    const std::string server = cluster_server();
    env = {"KUBERNETES_SERVICE_HOST=127.0.0.1",
           "KUBERNETES_SERVICE_PORT=" + server.substr(server.rfind(':') + 1)};
  }

  std::vector<std::string> argv(const std::vector<std::string>& prefix,
                                const std::vector<std::string>& args) const {
    std::vector<std::string> out{std::string(ESO_SOURCE_DIR) + "/test/deploy/image-run", root,
                                 sa_dir, creds, scratch};
    out.insert(out.end(), prefix.begin(), prefix.end());
    out.push_back("--");
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
};

// The process whose command line holds `marker`: its /proc status and mount table.
std::optional<int> find_process(const std::string& marker) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file_text(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (contains(cmdline, "/usr/local/bin/eso-updater") && contains(cmdline, marker)) {
      return std::stoi(name);
    }
  }
  return std::nullopt;
}

// The mount options of the process's root ("ro,relatime", ...), from /proc/PID/mountinfo.
std::string root_mount_options(int pid) {
  std::istringstream in(read_file_text(fmt::format("/proc/{}/mountinfo", pid)));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, source, mount_point, options;
    fields >> id >> parent >> device >> source >> mount_point >> options;
    if (mount_point == "/") return options;
  }
  return "";
}

}  // namespace

TEST_CASE(
    "the image holds only the binary with its libraries and CA certificates and no shell or apt") {
  const auto root = image_root_or_skip();
  if (root.empty()) return;
  const std::regex library(
      R"(/(usr/)?lib(64|/x86_64-linux-gnu|/aarch64-linux-gnu)?/[^/]+\.so[.0-9]*)");
  const std::set<std::string> files{"/usr/local/bin/eso-updater",
                                    "/etc/ssl/certs/ca-certificates.crt", "/etc/nsswitch.conf"};
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory()) continue;
    const std::string path = entry.path().string().substr(root.size());
    INFO(path);
    CHECK_MESSAGE((files.count(path) == 1 || std::regex_match(path, library)),
                  "unexpected file in the image");
    ++count;
  }
  CHECK(count > 3);
  for (const char* tool : {"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/apt", "/usr/bin/dpkg",
                           "/usr/bin/gcc", "/usr/bin/cc", "/bin/busybox", "/usr/bin/env"}) {
    CHECK_MESSAGE(!fs::exists(root + tool), tool);
  }
  // The image runs as a numeric non-root user, the user the chart's pod declares.
  const std::string config = read_file_text(root + ".config.json");
  CHECK(contains(config, R"("User":"65532:65532")"));
  CHECK(contains(config, R"("Entrypoint":["/usr/local/bin/eso-updater","serve"])"));
  CHECK(contains(read_file_text(kChart + "/values.yaml"), "runAsUser: 65532"));
}

TEST_CASE(
    "the image in a pod's shape: serve as 65532 on a read-only root answers /readyz and an "
    "event patches and trigger runs through --entrypoint") {
  const auto root = image_root_or_skip();
  if (root.empty()) return;
  const auto helm = helm_or_skip();
  if (helm.empty()) return;
  const auto ns = unique_namespace("deploy-img");
  const auto account = apply_chart_rbac(helm, ns, ns, {});
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "db", {"/image/db"}));
  mark_synced(ns, "db");
  const ImagePod pod(root, ns, account);

  SUBCASE("serve, the image's entrypoint") {
    const std::string log = pod.scratch + ".serve.log";
    BackgroundProcess serve(
        pod.argv({}, {"--listen=127.0.0.1:0", "--credentials-dir=/etc/eso-updater",
                      "--port-file=/tmp/port"}),
        pod.env, log);
    const int port = wait_for_port(pod.scratch + "/port");
    REQUIRE_MESSAGE(wait_ready(port), read_file_text(log));
    const auto pid = find_process("--port-file=/tmp/port");
    REQUIRE(pid.has_value());
    const std::string status = read_file_text(fmt::format("/proc/{}/status", *pid));
    CHECK(contains(status, "\nUid:\t65532\t65532\t65532\t65532\n"));
    CHECK(contains(status, "\nGid:\t65532\t65532\t65532\t65532\n"));
    CHECK(root_mount_options(*pid).rfind("ro,", 0) == 0);
    const auto r =
        curl({"-u", "hook:hook-password", "-H", "Content-Type: application/json", "-d",
              R"({"keys": ["/image/db"]})", fmt::format("http://127.0.0.1:{}/webhook", port)});
    INFO(r.out, read_file_text(log));
    CHECK(r.out.substr(r.out.size() - 3) == "200");
    CHECK_FALSE(annotation(get_object("externalsecret", ns, "db"), "force-sync").empty());
  }

  SUBCASE("trigger and version through --entrypoint") {
    const auto version =
        run_process(pod.argv({"--entrypoint", "/usr/local/bin/eso-updater"}, {"version"}));
    CHECK(version.exit_code == 0);
    CHECK(version.out.rfind("eso-updater ", 0) == 0);
    const auto r = run_process(
        pod.argv({"--entrypoint", "/usr/local/bin/eso-updater"}, {"trigger", "-k", "/image/db"}),
        pod.env);
    INFO(r.out, r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "patched"));
    CHECK_FALSE(annotation(get_object("externalsecret", ns, "db"), "force-sync").empty());
  }
}

}  // namespace eso::test
