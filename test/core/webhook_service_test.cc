// The webhook's domain logic over a fake API: what it answers before and after its inputs are
// ready.
#include "core/webhook_service.h"

#include <memory>

#include <doctest/doctest.h>

#include "test/core/es_json.h"
#include "test/core/fake_kube.h"

namespace eso {

TEST_CASE("serve with stores answers 503 until they are listed, then matches by provider") {
  test::FakeKube kube;
  KeyIndex index;
  index.replace("ExternalSecret", "a", {test::es_from_json(R"({"metadata": {"namespace": "a",
      "name": "db"}, "spec": {"secretStoreRef": {"name": "kv"},
      "data": [{"secretKey": "k", "remoteRef": {"key": "db-password"}}]}})")});
  WebhookCounters counters;
  std::shared_ptr<const std::vector<SecretStoreRecord>> listed;
  WebhookSettings settings;
  settings.provider = "azurekv";
  WebhookService service(
      kube, &index, [] { return true; }, settings, counters, nullptr, [&] { return listed; });
  const auto early = service.handle("", R"({"keys": ["db-password"]})");
  CHECK(early.status == 503);
  CHECK(early.body.find("not listed yet") != std::string::npos);
  REQUIRE(early.headers.size() == 1);
  CHECK(early.headers[0].first == "Retry-After");
  CHECK(kube.patched.empty());

  SecretStoreRecord kv;
  kv.ref = ObjectRef{"SecretStore", "a", "kv"};
  kv.info.provider = "azurekv";
  listed = std::make_shared<const std::vector<SecretStoreRecord>>(std::vector{kv});
  const auto ready = service.handle("", R"({"keys": ["DB-Password"]})");
  CHECK(ready.status == 200);
  CHECK(kube.patched.size() == 1);

  // Another provider's scope finds nothing to patch.
  kv.info.provider = "gcpsm";
  listed = std::make_shared<const std::vector<SecretStoreRecord>>(std::vector{kv});
  const auto other = service.handle("", R"({"keys": ["db-password"]})");
  CHECK(other.status == 200);
  CHECK(kube.patched.size() == 1);
}

}  // namespace eso
