#include "core/external_secret.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test/core/es_json.h"

namespace eso {

using test::es_from_json;

TEST_CASE("an ExternalSecret's remote keys come from data and dataFrom.extract with their stores") {
  const auto es = es_from_json(R"({
    "metadata": {"namespace": "pay", "name": "db", "resourceVersion": "42"},
    "spec": {
      "refreshInterval": "15m",
      "secretStoreRef": {"name": "main"},
      "data": [
        {"secretKey": "u", "remoteRef": {"key": "/prod/db/user"}},
        {"secretKey": "p", "remoteRef": {"key": "prod/db/pass"},
         "sourceRef": {"storeRef": {"name": "other", "kind": "ClusterSecretStore"}}},
        {"secretKey": "g", "sourceRef": {"generatorRef": {"kind": "Password", "name": "pw"}}}
      ],
      "dataFrom": [
        {"find": {"path": "/prod"}},
        {"extract": {"key": "/prod/db/all"}}
      ]
    },
    "status": {"syncedResourceVersion": "1-abc"}
  })");
  CHECK(es.ref.namespace_name == "pay");
  CHECK(es.ref.name == "db");
  CHECK(es.resource_version == "42");
  CHECK(es.synced_resource_version == "1-abc");
  CHECK(es.refresh_interval == std::chrono::minutes(15));
  CHECK(es.uses_generator);
  REQUIRE(es.remote_keys.size() == 3);
  CHECK(es.remote_keys[0].key == "/prod/db/user");
  CHECK(es.remote_keys[0].field == "spec.data[0].remoteRef.key");
  CHECK(es.remote_keys[0].store == StoreRef{"main", "SecretStore"});
  CHECK(es.remote_keys[1].field == "spec.data[1].remoteRef.key");
  CHECK(es.remote_keys[1].store == StoreRef{"other", "ClusterSecretStore"});
  CHECK(es.remote_keys[2].field == "spec.dataFrom[1].extract.key");
  CHECK(es.remote_keys[2].key == "/prod/db/all");
}

TEST_CASE("refresh settings default to Periodic every hour") {
  const auto es = es_from_json(R"({"metadata": {"name": "x"}, "spec": {}})");
  CHECK(es.refresh_policy == RefreshPolicy::kPeriodic);
  CHECK(es.refresh_interval == std::chrono::hours(1));
  CHECK(es.synced_resource_version.empty());
  CHECK(es.remote_keys.empty());
}

TEST_CASE("refresh policies are read") {
  CHECK(es_from_json(R"({"metadata":{},"spec":{"refreshPolicy":"CreatedOnce"}})").refresh_policy ==
        RefreshPolicy::kCreatedOnce);
  CHECK(es_from_json(R"({"metadata":{},"spec":{"refreshPolicy":"OnChange"}})").refresh_policy ==
        RefreshPolicy::kOnChange);
  CHECK(es_from_json(R"({"metadata":{},"spec":{"refreshPolicy":"Periodic","refreshInterval":"0"}})")
            .refresh_interval.count() == 0);
}

TEST_CASE("malformed objects are errors or ignored fields, never crashes") {
  // An object, and either the error it gives or the remote keys left once the malformed fields
  // are ignored.
  struct Case {
    const char* json;
    const char* error;
    std::vector<std::string> keys;
  };
  const std::string no_metadata = "ExternalSecret without metadata in the API response";
  const Case cases[] = {
      {R"([])", no_metadata.c_str(), {}},
      {R"("x")", no_metadata.c_str(), {}},
      {R"({"metadata": 5})", no_metadata.c_str(), {}},
      {R"({"metadata": {"name": 5}, "spec": []})", "", {}},
      {R"({"metadata": {}, "spec": {"data": {"a": 1}}})", "", {}},
      {R"({"metadata": {}, "spec": {"data": [5, {"remoteRef": 1}, {"remoteRef": {"key": 7}}]}})",
       "",
       {}},
      {R"({"metadata": {}, "spec": {"dataFrom": [null, {"extract": []}], "secretStoreRef": 3}})",
       "",
       {}},
      {R"({"metadata": {}, "spec": {"data": [{"remoteRef": {"key": "k"}, "sourceRef": 9}]}})",
       "",
       {"k"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    rapidjson::Document doc;
    doc.Parse(c.json);
    REQUIRE_FALSE(doc.HasParseError());
    auto es = parse_external_secret(doc);
    if (std::string(c.error).empty()) {
      REQUIRE(es.ok());
      std::vector<std::string> keys;
      for (const auto& ref : es->remote_keys) keys.push_back(ref.key);
      CHECK(keys == c.keys);
    } else {
      REQUIRE_FALSE(es.ok());
      CHECK(es.error().code == ErrorCode::kServer);
      CHECK(es.error().message == std::string(c.error));
    }
  }
}

TEST_CASE("an unparsable refreshInterval is an error naming the object") {
  rapidjson::Document doc;
  doc.Parse(
      R"({"metadata": {"namespace": "a", "name": "b"}, "spec": {"refreshInterval": "soon"}})");
  auto es = parse_external_secret(doc);
  REQUIRE_FALSE(es.ok());
  CHECK(es.error().message.find("a/b") != std::string::npos);
  CHECK(es.error().message.find("soon") != std::string::npos);
}

}  // namespace eso
