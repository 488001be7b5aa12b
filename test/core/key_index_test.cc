#include "core/key_index.h"

#include <algorithm>

#include <doctest/doctest.h>

#include "core/match.h"
#include "test/core/es_json.h"

namespace eso {
namespace {

ExternalSecret es(const std::string& ns, const std::string& name, const std::string& key,
                  const std::string& extra = "") {
  return test::es_from_json(R"({"metadata": {"namespace": ")" + ns + R"(", "name": ")" + name +
                            R"("}, "spec": {"data": [{"remoteRef": {"key": ")" + key + R"("}}])" +
                            extra + "}}");
}

std::vector<std::string> names(const std::vector<ExternalSecret>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o.ref.namespace_name + "/" + o.ref.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("the index follows list, add, change and delete") {
  KeyIndex index;
  index.replace("ExternalSecret", "a", {es("a", "one", "/k1"), es("a", "two", "/k2")});
  index.replace("ExternalSecret", "b", {es("b", "one", "k1")});
  CHECK(index.size() == 3);
  CHECK(names(index.candidates({"/k1"})) == std::vector<std::string>{"a/one", "b/one"});

  index.upsert(es("a", "one", "/k3"));  // its key changed
  CHECK(names(index.candidates({"/k1"})) == std::vector<std::string>{"b/one"});
  CHECK(names(index.candidates({"k3"})) == std::vector<std::string>{"a/one"});

  index.remove(ObjectRef{"ExternalSecret", "b", "one"});
  CHECK(index.candidates({"/k1"}).empty());

  // A re-list of namespace a replaces a only.
  index.upsert(es("b", "three", "/k9"));
  index.replace("ExternalSecret", "a", {es("a", "four", "/k9")});
  CHECK(names(index.candidates({"/k9"})) == std::vector<std::string>{"a/four", "b/three"});
  CHECK(index.size() == 2);
  CHECK(index.candidates({"/k2"}).empty());
}

TEST_CASE("candidates never miss what match_keys selects, under any provider rule") {
  KeyIndex index;
  index.replace("ExternalSecret", "",
                {es("n", "aws", "prod/db"), es("n", "azure", "secret/DbPassword"),
                 es("n", "gcp", "db-pass"), es("n", "vault", "secret/data/app"),
                 es("n", "find", "/unrelated", R"(, "dataFrom": [{"find": {"path": "/team"}}])")});
  const std::vector<std::string> events[] = {
      {"arn:aws:secretsmanager:eu-west-1:1:secret:prod/db-AbC123"},
      {"dbpassword"},
      {"projects/p/secrets/db-pass/versions/3"},
      {"secret/app"},
      {"/team/x"},
      {"/nothing"},
  };
  for (const auto& keys : events) {
    CAPTURE(keys.front());
    const auto candidates = index.candidates(keys);
    // Everything the full list would match is among the candidates.
    std::vector<ExternalSecret> all = index.candidates({});
    for (const auto& o : {es("n", "aws", "prod/db"), es("n", "azure", "secret/DbPassword"),
                          es("n", "gcp", "db-pass"), es("n", "vault", "secret/data/app")}) {
      all.push_back(o);
    }
    for (const auto& m : match_keys(all, keys).matches) {
      const bool found =
          std::any_of(candidates.begin(), candidates.end(),
                      [&](const ExternalSecret& c) { return c.ref == m.object->ref; });
      CHECK(found);
    }
    CHECK(candidates.size() <= 2);  // the find object, plus at most the one that matches
  }
}

}  // namespace eso
