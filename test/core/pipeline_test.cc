// The streamed path from LIST pages to patches: matches kept, not objects, and patches that start
// while later pages are still to come.
#include "core/pipeline.h"

#include <chrono>
#include <condition_variable>

#include <doctest/doctest.h>

#include "test/core/es_json.h"
#include "test/core/fake_kube.h"

namespace eso {
namespace {

ExternalSecret reading(const std::string& name, const std::string& key) {
  return test::es_from_json(R"({"metadata": {"namespace": "a", "name": ")" + name +
                            R"("}, "spec": {"data": [{"remoteRef": {"key": ")" + key + R"("}}]}})");
}

TriggerOptions plan_options() {
  TriggerOptions options;
  options.value = "stamp";
  return options;
}

}  // namespace

TEST_CASE("a match stream keeps matched objects only and counts a re-listed object once") {
  MatchStream stream({"/k"}, MatchScope{});
  auto first = stream.add({reading("a", "/k"), reading("x", "/other")});
  REQUIRE(first.size() == 1);
  CHECK(first[0].object->ref.name == "a");
  // The list started over (an expired continue token): a and x come again, then b.
  auto again = stream.add({reading("a", "/k"), reading("x", "/other"), reading("b", "/k")});
  REQUIRE(again.size() == 1);
  CHECK(again[0].object->ref.name == "b");
  CHECK(stream.objects_seen() == 5);
  REQUIRE(stream.result().matches.size() == 2);
  // The pointers stay valid as pages come and go.
  CHECK(stream.result().matches[0].object->ref.name == "a");
  CHECK(stream.result().matches[1].object->ref.name == "b");
}

TEST_CASE("an early patcher patches each target once, a bounded number at a time") {
  test::FakeKube kube;
  EarlyPatcher patcher(kube, "v", 4);
  MatchStream stream({"/k"}, MatchScope{});
  std::vector<ExternalSecret> page;
  for (int i = 0; i < 20; ++i) page.push_back(reading("o" + std::to_string(i), "/k"));
  const auto fresh = stream.add(std::move(page));
  const TriggerPlan plan = plan_trigger(fresh, plan_options());
  patcher.submit(plan);
  patcher.submit(plan);  // again: nothing new
  const auto results = patcher.finish(plan);
  REQUIRE(results.size() == 20);
  for (const auto& r : results) CHECK(r.outcome.ok());
  CHECK(kube.patched.size() == 20);
  CHECK(kube.peak <= 4);
  CHECK(kube.peak >= 2);
}

TEST_CASE("a big page after a small one is patched at the full concurrency") {
  test::FakeKube kube;
  EarlyPatcher patcher(kube, "v", 4);
  MatchStream stream({"/k"}, MatchScope{});
  patcher.submit(plan_trigger(stream.add({reading("first", "/k")}), plan_options()));
  // The first page's one patch is done and its thread idle when the next page comes.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (bool done = false; !done && std::chrono::steady_clock::now() < until;) {
    {
      std::lock_guard lock(kube.mu);
      done = !kube.patched.empty();
    }
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::vector<ExternalSecret> page;
  for (int i = 0; i < 40; ++i) page.push_back(reading("o" + std::to_string(i), "/k"));
  patcher.submit(plan_trigger(stream.add(std::move(page)), plan_options()));
  const auto results = patcher.finish(plan_trigger(stream.result().matches, plan_options()));
  CHECK(results.size() == 41);
  CHECK(kube.patched.size() == 41);
  CHECK(kube.peak >= 3);  // one idle thread alone would patch the 40 one after another
  CHECK(kube.peak <= 4);
}

TEST_CASE("a patch for a match on the first page starts before the second page is read") {
  test::FakeKube kube;
  EarlyPatcher patcher(kube, "v", 2);
  MatchStream stream({"/k"}, MatchScope{});
  const auto deliver = [&](std::vector<ExternalSecret> page) {
    patcher.submit(plan_trigger(stream.add(std::move(page)), plan_options()));
  };
  deliver({reading("early", "/k"), reading("x", "/other")});
  // The "download" of page 2 waits (bounded) for the first patch: with patches only after the
  // whole list it would never see one.
  bool patched_meanwhile = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!patched_meanwhile && std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(kube.mu);
      patched_meanwhile = !kube.patched.empty();
    }
    if (!patched_meanwhile) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(patched_meanwhile);
  deliver({reading("late", "/k")});
  const TriggerPlan plan = plan_trigger(stream.result().matches, plan_options());
  const auto results = patcher.finish(plan);
  REQUIRE(results.size() == 2);
  CHECK(results[0].target.name == "early");
  CHECK(results[1].target.name == "late");
  CHECK(results[1].outcome.ok());
  CHECK(kube.patched == std::vector<std::string>{"early:force-sync=v", "late:force-sync=v"});
}

TEST_CASE("a target never submitted is reported as not run") {
  test::FakeKube kube;
  EarlyPatcher patcher(kube, "v", 2);
  MatchStream stream({"/k"}, MatchScope{});
  const TriggerPlan plan = plan_trigger(stream.add({reading("a", "/k")}), plan_options());
  const auto results = patcher.finish(plan);
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0].outcome.ok());
  CHECK(kube.patched.empty());
}

}  // namespace eso

namespace eso {
namespace {

// Pages handed out one by one, as a LIST delivers them.
class Pages final : public ObjectSource {
 public:
  explicit Pages(std::vector<std::vector<ExternalSecret>> pages) : pages_(std::move(pages)) {}
  Status pages(const KubeApi::PageHandler& on_page) override {
    for (auto& p : pages_) {
      if (auto s = on_page(std::move(p)); !s) return s;
    }
    return ok_status();
  }

 private:
  std::vector<std::vector<ExternalSecret>> pages_;
};

ExternalSecret child(const std::string& ns, const std::string& key) {
  return test::es_from_json(R"({"metadata": {"namespace": ")" + ns + R"(", "name": "c",
      "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "shared"}]},
      "spec": {"data": [{"remoteRef": {"key": ")" +
                            key + R"("}}]}})");
}

}  // namespace

TEST_CASE("a run patches a CES once and knows which children were listed after its patch") {
  test::FakeKube kube;
  Pages source({{child("a", "/k"), reading("own", "/k")}, {child("b", "/k")}});
  TriggerRun run(KeySet{{"/k"}, {}, {}, {}}, plan_options());
  EarlyPatcher patcher(kube, "stamp", 2);
  REQUIRE(run.run(source, &patcher).ok());
  CHECK(kube.patched.size() == 2);  // the CES once, and the plain ExternalSecret
  REQUIRE(run.plan().patches.size() == 2);
  CHECK(run.plan().patches[0].children.size() == 2);
  // Child a was listed before the CES was patched: its state is the one before the trigger.
  CHECK_FALSE(run.listed_after_patch(ObjectRef{"ExternalSecret", "a", "c"}));
  // Child b came on page 2, after: its listed state may be ESO's answer already.
  CHECK(run.listed_after_patch(ObjectRef{"ExternalSecret", "b", "c"}));
  CHECK_FALSE(run.listed_after_patch(ObjectRef{"ExternalSecret", "a", "own"}));
}

TEST_CASE("a dry run plans and patches nothing") {
  test::FakeKube kube;
  Pages source({{reading("x", "/k")}});
  TriggerOptions options = plan_options();
  options.dry_run = true;
  TriggerRun run(KeySet{{"/k"}, {}, {}, {}}, options);
  EarlyPatcher patcher(kube, "stamp", 2);
  REQUIRE(run.run(source, &patcher).ok());
  CHECK(run.plan().patches.size() == 1);
  CHECK(run.results().empty());
  CHECK(kube.patched.empty());
}

TEST_CASE("namespaced objects drop other namespaces and cluster-scoped objects") {
  test::FakeKube kube;
  auto ces = reading("ces", "/k");
  ces.ref = ObjectRef{"ClusterExternalSecret", "", "ces"};
  Pages inner({{reading("x", "/k"), ces}});
  NamespacedObjects only_b(inner, {"b"});
  TriggerRun run(KeySet{{"/k"}, {}, {}, {}}, plan_options());
  REQUIRE(run.run(only_b, nullptr).ok());
  CHECK(run.matched().matches.empty());  // x is in namespace a
  Pages again({{reading("x", "/k"), ces}});
  NamespacedObjects only_a(again, {"a"});
  TriggerRun in_a(KeySet{{"/k"}, {}, {}, {}}, plan_options());
  REQUIRE(in_a.run(only_a, nullptr).ok());
  REQUIRE(in_a.matched().matches.size() == 1);
  CHECK(in_a.matched().matches[0].object->ref.name == "x");
}

}  // namespace eso
