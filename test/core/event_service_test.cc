// serve's domain logic over a fake API, answered through the webhook layer's one table from
// outcomes to HTTP: what it answers before and after its inputs are ready.
#include "core/event_service.h"

#include <memory>

#include <doctest/doctest.h>

#include "test/core/es_json.h"
#include "test/core/fake_kube.h"
#include "webhook/responses.h"

namespace eso {
namespace {

http::Response answer(EventService& service, std::string_view source, std::string_view body) {
  return webhook::event_response(service.handle(source, body));
}

}  // namespace

TEST_CASE("serve with stores answers 503 until they are listed, then matches by provider") {
  test::FakeKube kube;
  KeyIndex index;
  index.replace("ExternalSecret", "a", {test::es_from_json(R"({"metadata": {"namespace": "a",
      "name": "db"}, "spec": {"secretStoreRef": {"name": "kv"},
      "data": [{"secretKey": "k", "remoteRef": {"key": "db-password"}}]}})")});
  WebhookCounters counters;
  std::shared_ptr<const std::vector<SecretStoreRecord>> listed;
  EventSettings settings;
  settings.provider = "azurekv";
  EventService service(
      kube, &index, [] { return true; }, settings, counters, nullptr, [&] { return listed; });
  const auto early = answer(service, "", R"({"keys": ["db-password"]})");
  CHECK(early.status == 503);
  CHECK(early.body.find("not listed yet") != std::string::npos);
  REQUIRE(early.headers.size() == 1);
  CHECK(early.headers[0].first == "Retry-After");
  CHECK(kube.patched.empty());

  SecretStoreRecord kv;
  kv.ref = ObjectRef{"SecretStore", "a", "kv"};
  kv.info.provider = "azurekv";
  listed = std::make_shared<const std::vector<SecretStoreRecord>>(std::vector{kv});
  const auto ready = answer(service, "", R"({"keys": ["DB-Password"]})");
  CHECK(ready.status == 200);
  CHECK(kube.patched.size() == 1);

  // Another provider's scope finds nothing to patch.
  kv.info.provider = "gcpsm";
  listed = std::make_shared<const std::vector<SecretStoreRecord>>(std::vector{kv});
  const auto other = answer(service, "", R"({"keys": ["db-password"]})");
  CHECK(other.status == 200);
  CHECK(kube.patched.size() == 1);
}

TEST_CASE("an Akeyless event patches no other tenant's path and no other case (no --stores)") {
  test::FakeKube kube;
  KeyIndex index;
  index.replace("ExternalSecret", "team-b",
                {test::es_from_json(R"({"metadata": {"namespace": "team-b", "name": "pw"},
      "spec": {"secretStoreRef": {"name": "s"},
      "data": [{"secretKey": "k", "remoteRef": {"key": "/team-b/secrets/password"}},
               {"secretKey": "l", "remoteRef": {"key": "/rt/db"}}]}})")});
  WebhookCounters counters;
  EventService service(
      kube, &index, [] { return true; }, EventSettings{}, counters);
  const auto other_tenant =
      answer(service, "akeyless",
             R"({"item_name": "/team-a/secrets/password", "event_type": "static-secret-updated"})");
  CHECK(other_tenant.status == 200);
  const auto other_case = answer(
      service, "akeyless", R"({"item_name": "/RT/DB", "event_type": "static-secret-updated"})");
  CHECK(other_case.status == 200);
  CHECK(kube.patched.empty());
  const auto same = answer(service, "akeyless",
                           R"({"item_name": "rt/db", "event_type": "static-secret-updated"})");
  CHECK(same.status == 200);
  CHECK(kube.patched.size() == 1);
}

TEST_CASE("serve with --patch-children reaches a CES's children through the parent's template") {
  test::FakeKube kube;
  KeyIndex index;
  index.replace("ExternalSecret", "a",
                {test::es_from_json(R"({"metadata": {"namespace": "a", "name": "shared",
      "ownerReferences": [{"kind": "ClusterExternalSecret", "name": "ces"}]},
      "spec": {"data": [{"secretKey": "k", "remoteRef": {"key": "/k"}}]}})")});
  WebhookCounters counters;
  EventSettings settings;
  settings.run.patch_children = true;
  EventService service(
      kube, &index, [] { return true; }, settings, counters);
  const auto r = answer(service, "", R"({"keys": ["/k"]})");
  CHECK(r.status == 200);
  REQUIRE(kube.patched.size() == 1);
  CHECK(kube.patched[0].starts_with("ces:external-secrets.io/force-sync="));
  CHECK(kube.patched[0].ends_with(" +children"));

  settings.run.patch_children = false;
  EventService plain(
      kube, &index, [] { return true; }, settings, counters);
  CHECK(answer(plain, "", R"({"keys": ["/k"]})").status == 200);
  REQUIRE(kube.patched.size() == 2);
  CHECK_FALSE(kube.patched[1].ends_with(" +children"));
}

TEST_CASE("a body that does not parse is 400, one that parses but is unusable is 422") {
  test::FakeKube kube;
  KeyIndex index;
  WebhookCounters counters;
  EventService service(
      kube, &index, [] { return true; }, EventSettings{}, counters);
  const auto malformed = answer(service, "", "{oops");
  CHECK(malformed.status == 400);
  CHECK(malformed.body.find("malformed JSON") != std::string::npos);
  // The status follows the error's code, not its wording.
  const auto unusable = answer(service, "", R"({"keys": "malformed"})");
  CHECK(unusable.status == 422);
  CHECK(kube.patched.empty());
}

TEST_CASE("serve reports an invalid find regexp and skips a generatorRef object unless --force") {
  test::FakeKube kube;
  KeyIndex index;
  index.replace("ExternalSecret", "a",
                {test::es_from_json(R"({"metadata": {"namespace": "a", "name": "bad-re"},
      "spec": {"secretStoreRef": {"name": "s"},
      "dataFrom": [{"find": {"name": {"regexp": "db(["}}}]}})"),
                 test::es_from_json(R"({"metadata": {"namespace": "a", "name": "gen"},
      "spec": {"secretStoreRef": {"name": "s"},
      "data": [{"secretKey": "k", "remoteRef": {"key": "/db"}}],
      "dataFrom": [{"sourceRef": {"generatorRef": {"kind": "Password", "name": "pw"}}}]}})")});
  struct Problems final : WebhookObserver {
    int seen = 0;
    void decoded(const DecodedEvents&) override {}
    void patched(const ObjectRef&, const std::string&, bool, std::chrono::microseconds,
                 const Error*) override {}
    void problem(const MatchProblem& p) override {
      ++seen;
      CHECK(p.field == "spec.dataFrom[0].find.name.regexp");
    }
  } observer;
  WebhookCounters counters;
  EventService service(
      kube, &index, [] { return true; }, EventSettings{}, counters, &observer);
  const auto reply = answer(service, "", R"({"keys": ["/db"]})");
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(reply.body.find(R"("problems":[{)") != std::string::npos);
  CHECK(reply.body.find("bad-re") != std::string::npos);
  CHECK(reply.body.find("generatorRef") != std::string::npos);
  CHECK(counters.match_problems == 1);
  CHECK(observer.seen == 1);
  CHECK(kube.patched.empty());

  EventSettings forced;
  forced.run.force = true;
  EventService force(
      kube, &index, [] { return true; }, forced, counters);
  CHECK(answer(force, "", R"({"keys": ["/db"]})").status == 200);
  CHECK(kube.patched.size() == 1);
}

}  // namespace eso
