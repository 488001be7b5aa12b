// LIST+WATCH against the real API server: events reach the sink, bookmarks and idle timeouts
// resume the watch, and a watch whose resourceVersion etcd has compacted away re-lists.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/pipeline.h"
#include "kube/reflector.h"
#include "test/cli/cluster_fixture.h"

namespace eso::test {
namespace {

// Keeps what the reflector delivered, and counts it.
class RecordingSink final : public InventorySink {
 public:
  void replace(const std::string&, const std::string&,
               std::vector<ExternalSecret> objects) override {
    std::lock_guard lock(mu_);
    objects_.clear();
    for (auto& o : objects) objects_[o.ref] = std::move(o);
    ++replaces_;
    if (observed != nullptr) ready_at_replace_.push_back(observed->synced());
  }
  void upsert(ExternalSecret object) override {
    std::lock_guard lock(mu_);
    objects_[object.ref] = std::move(object);
    ++upserts_;
  }
  void remove(const ObjectRef& ref) override {
    std::lock_guard lock(mu_);
    objects_.erase(ref);
    ++removes_;
  }

  /// `read` called under the lock: the reflector's thread writes what it reads.
  template <typename F>
  auto locked(F read) {
    std::lock_guard lock(mu_);
    return read(*this);
  }

  /// Waits up to `seconds` for `pred` (called under the lock) to hold.
  bool wait_for(const std::function<bool(const RecordingSink&)>& pred, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      {
        std::lock_guard lock(mu_);
        if (pred(*this)) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::map<ObjectRef, ExternalSecret> objects_;
  const kube::Reflector* observed = nullptr;  ///< whose synced() each replace records
  std::vector<bool> ready_at_replace_;
  int replaces_ = 0;
  int upserts_ = 0;
  int removes_ = 0;

 private:
  std::mutex mu_;
};

std::unique_ptr<kube::ApiClient> admin_client(const std::string& kubeconfig = "") {
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = kubeconfig;
  auto config = kube::load_client_config(overrides);
  REQUIRE(config.ok());
  auto client = kube::ApiClient::connect(std::move(*config));
  REQUIRE(client.ok());
  return std::move(*client);
}

// Runs a reflector on a thread for the length of a test.
struct RunningReflector {
  std::atomic<bool> stop{false};
  kube::Reflector reflector;
  std::thread thread;
  RunningReflector(kube::ApiClient& client, kube::ReflectorOptions options, InventorySink& sink)
      : reflector(client, std::move(options), sink), thread([this] { reflector.run(stop); }) {}
  ~RunningReflector() {
    stop = true;
    thread.join();
  }
};

std::string etcd(const std::string& state_dir, const std::string& path, const std::string& body) {
  const auto r = run_process({"curl", "-sS", "-X", "POST", "--data", body,
                              read_file_text(state_dir + "/etcd-url") + path});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

}  // namespace

TEST_CASE("the reflector lists, then follows ADDED, MODIFIED and DELETED") {
  const auto ns = unique_namespace("reflector");
  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "before", {"/r/before"}));
  auto client = admin_client();
  RecordingSink sink;
  kube::ReflectorOptions options;
  options.scope.namespace_name = ns;
  options.idle_timeout = std::chrono::seconds(5);
  RunningReflector running(*client, options, sink);

  REQUIRE(sink.wait_for([](const RecordingSink& s) { return s.replaces_ == 1; }));
  CHECK(running.reflector.synced());
  CHECK(sink.locked([](RecordingSink& s) { return s.objects_.size(); }) == 1);

  kubectl({"apply", "-f", "-"}, external_secret_yaml(ns, "after", {"/r/after"}));
  const ObjectRef after{"ExternalSecret", ns, "after"};
  REQUIRE(sink.wait_for([&](const RecordingSink& s) { return s.objects_.count(after) == 1; }));
  CHECK(sink.locked([&](RecordingSink& s) { return s.objects_.at(after).remote_keys.at(0).key; }) ==
        "/r/after");

  kubectl({"patch", "externalsecret", "after", "-n", ns, "--type=merge", "-p",
           R"({"spec":{"data":[{"secretKey":"k","remoteRef":{"key":"/r/changed"}}]}})"});
  REQUIRE(sink.wait_for([&](const RecordingSink& s) {
    return s.objects_.at(after).remote_keys.at(0).key == "/r/changed";
  }));

  kubectl({"delete", "externalsecret", "before", "-n", ns});
  REQUIRE(sink.wait_for([&](const RecordingSink& s) {
    return s.objects_.count(ObjectRef{"ExternalSecret", ns, "before"}) == 0;
  }));
  CHECK(sink.locked([](RecordingSink& s) { return s.removes_; }) == 1);
  CHECK(sink.locked([](RecordingSink& s) { return s.replaces_; }) == 1);  // no re-list needed
}

TEST_CASE("patches in flight beside open watches reuse their connections") {
  const auto ns = unique_namespace("reuse");
  std::string yaml;
  for (int i = 0; i < 16; ++i)
    yaml += external_secret_yaml(ns, fmt::format("es-{}", i), {"/r/x"}) + "---\n";
  kubectl({"apply", "-f", "-"}, yaml);
  auto client = admin_client();
  // Six watches hold six connections for the whole test, as serve's reflectors do.
  std::vector<std::unique_ptr<RecordingSink>> sinks;
  std::vector<std::unique_ptr<RunningReflector>> watches;
  for (int i = 0; i < 6; ++i) {
    sinks.push_back(std::make_unique<RecordingSink>());
    kube::ReflectorOptions options;
    options.scope.namespace_name = ns;
    watches.push_back(std::make_unique<RunningReflector>(*client, options, *sinks.back()));
  }
  for (auto& sink : sinks) {
    REQUIRE(sink->wait_for([](const RecordingSink& s) { return s.replaces_ == 1; }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the watches are open
  const uint64_t before = client->connections_opened();
  // Five rounds of 16 patches at once: the first may open 16 connections, the rest reuse them.
  for (int round = 0; round < 5; ++round) {
    std::vector<std::thread> patchers;
    for (int i = 0; i < 16; ++i) {
      patchers.emplace_back([&, i, round] {
        const ObjectRef target{"ExternalSecret", ns, fmt::format("es-{}", i)};
        CHECK(client
                  ->patch_annotation(target, "force-sync", std::to_string(round),
                                     AnnotationPlace::kObject)
                  .ok());
      });
    }
    for (auto& t : patchers) t.join();
  }
  const uint64_t opened = client->connections_opened() - before;
  CAPTURE(opened);
  CHECK(opened <= 24);  // 80 patches; libcurl's default cache of 5 made ~60 connections here
}

TEST_CASE("a silent watch and a compacted resourceVersion each make the reflector re-list") {
  // Without the API server's watch cache a watch reads etcd directly, so a resourceVersion etcd
  // has compacted away is answered 410 Gone, as a watch-cache window overflow is on busy servers.
  ExtraCluster cluster({"ESO_APISERVER_ARGS=--watch-cache=false"});
  cluster.kubectl_here({"create", "namespace", "compaction"});
  cluster.kubectl_here({"apply", "-f", "-"}, external_secret_yaml("compaction", "es", {"/c/1"}));
  auto client = admin_client(cluster.kubeconfig());
  RecordingSink sink;
  kube::ReflectorOptions options;
  options.scope.namespace_name = "compaction";
  options.idle_timeout = std::chrono::seconds(2);
  RunningReflector running(*client, options, sink);
  REQUIRE(sink.wait_for([](const RecordingSink& s) { return s.replaces_ == 1; }));
  sink.locked([&](RecordingSink& s) { return s.observed = &running.reflector; });

  // Quiet for longer than the idle timeout, and no bookmark either (no watch cache, no
  // bookmarks): the watch is presumed dead and the collection listed again (issue 12: a silent
  // watch must not leave the index stale but ready).
  CHECK(sink.wait_for(
      [&](const RecordingSink& s) { return running.reflector.lists() >= 2 && s.replaces_ >= 2; }));
  CHECK(running.reflector.watches() >= 1);
  // The list answered at once: the index stayed ready through it (a quiet collection is common,
  // ClusterExternalSecrets in most clusters; serve answered 503 for each such list).
  CHECK(sink.locked([](RecordingSink& s) { return s.ready_at_replace_.at(0); }));

  // Move etcd on elsewhere and compact everything before now: the next watch from our old
  // resourceVersion is answered 410 Gone, and the reflector lists again.
  cluster.kubectl_here({"create", "namespace", "elsewhere"});
  for (int i = 0; i < 3; ++i) {
    cluster.kubectl_here({"create", "configmap", fmt::format("c{}", i), "-n", "elsewhere"});
  }
  const std::string range = etcd(cluster.state_dir(), "/v3/kv/range", R"({"key":"AA=="})");
  const auto at = range.find("\"revision\":\"");
  REQUIRE(at != std::string::npos);
  const std::string revision = range.substr(at + 12, range.find('"', at + 12) - at - 12);
  etcd(cluster.state_dir(), "/v3/kv/compaction",
       R"({"revision":")" + revision + R"(","physical":true})");
  const int lists_before = running.reflector.lists();
  REQUIRE(sink.wait_for(
      [&](const RecordingSink&) { return running.reflector.lists() > lists_before; }));
  CHECK(sink.locked([](RecordingSink& s) { return s.replaces_; }) >= 2);

  // A paginated LIST whose continue token is compacted away between pages falls back to one
  // full list and still returns everything.
  for (int i = 0; i < 4; ++i) {
    cluster.kubectl_here({"apply", "-f", "-"},
                         external_secret_yaml("compaction", fmt::format("page-{}", i), {"/p"}));
  }
  ListScope paged;
  paged.namespace_name = "compaction";
  paged.page_size = 2;
  int pages = 0;
  int bumps = 0;
  const auto compact = [&] {  // a write, then etcd compacted to it: the continue token expires
    cluster.kubectl_here(
        {"create", "configmap", fmt::format("bump-{}", bumps++), "-n", "elsewhere"});
    const std::string now = etcd(cluster.state_dir(), "/v3/kv/range", R"({"key":"AA=="})");
    const auto r = now.find("\"revision\":\"");
    etcd(cluster.state_dir(), "/v3/kv/compaction",
         R"({"revision":")" + now.substr(r + 12, now.find('"', r + 12) - r - 12) +
             R"(","physical":true})");
  };
  paged.after_page = [&](int page) {
    pages = page;
    if (page == 1) compact();
  };
  auto listed = client->list_external_secrets(paged);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 5);  // es + page-0..3 (later is created below)
  CHECK(pages == 2);           // page 1, then the fallback's single page

  // Streamed, the same happens page by page: page 1's objects come again in the fallback's
  // page, and a MatchStream counts each object once.
  MatchStream stream({"/p"}, MatchScope{});
  int delivered = 0;
  size_t objects = 0;
  const auto streamed =
      client->stream_objects("ExternalSecret", paged, [&](std::vector<ExternalSecret> page) {
        ++delivered;
        objects += page.size();
        stream.add(std::move(page));
        return ok_status();
      });
  REQUIRE(streamed.ok());
  CHECK(delivered == 2);
  CHECK(objects == 2 + 5);
  std::set<ObjectRef> matched;
  for (const auto& m : stream.result().matches) matched.insert(m.object->ref);
  CHECK(matched.size() == stream.result().matches.size());  // none twice
  CHECK(matched.count(ObjectRef{"ExternalSecret", "compaction", "page-3"}) == 1);

  // And it keeps following changes afterwards.
  cluster.kubectl_here({"apply", "-f", "-"}, external_secret_yaml("compaction", "later", {"/c/2"}));
  CHECK(sink.wait_for([&](const RecordingSink& s) {
    return s.objects_.count(ObjectRef{"ExternalSecret", "compaction", "later"}) == 1;
  }));
}

}  // namespace eso::test
