#include "core/key_index.h"

#include <algorithm>
#include <map>

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

namespace eso {

TEST_CASE("the index agrees with a plain list through random lists, changes and deletes") {
  // A model (the objects as a map) against the index, over a fixed pseudo-random sequence.
  std::map<ObjectRef, std::string> model;  // object → its one key
  KeyIndex index;
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&](uint64_t bound) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state % bound;
  };
  const std::vector<std::string> keys{"/a", "/b", "b", "/c/d", "prod/db", "x/y/"};
  for (int step = 0; step < 1500; ++step) {
    const std::string ns = "ns" + std::to_string(next(4));
    const std::string name = "o" + std::to_string(next(40));
    const std::string& key = keys[next(keys.size())];
    switch (next(10)) {
      case 0: {  // a re-list of one namespace
        std::vector<ExternalSecret> listed;
        std::erase_if(model, [&](const auto& kv) { return kv.first.namespace_name == ns; });
        for (int i = 0; i < static_cast<int>(next(12)); ++i) {
          const std::string n = "o" + std::to_string(i);
          const std::string& k = keys[next(keys.size())];
          listed.push_back(es(ns, n, k));
          model[ObjectRef{"ExternalSecret", ns, n}] = k;
        }
        index.replace("ExternalSecret", ns, std::move(listed));
        break;
      }
      case 1:
      case 2:
        index.remove(ObjectRef{"ExternalSecret", ns, name});
        model.erase(ObjectRef{"ExternalSecret", ns, name});
        break;
      default:
        index.upsert(es(ns, name, key));
        model[ObjectRef{"ExternalSecret", ns, name}] = key;
    }
    if (step % 50 != 0) continue;
    REQUIRE(index.size() == model.size());
    REQUIRE(index.all().size() == model.size());
    for (const auto& k : keys) {
      CAPTURE(step);
      CAPTURE(k);
      std::vector<std::string> want;
      std::vector<ExternalSecret> everything = index.all();
      for (const auto& m : match_keys(everything, {k}).matches) {
        want.push_back(m.object->ref.namespace_name + "/" + m.object->ref.name);
      }
      std::sort(want.begin(), want.end());
      const auto got = names(index.candidates({k}));
      CHECK(std::includes(got.begin(), got.end(), want.begin(), want.end()));
      for (const auto& g : got) {  // never an object that is gone
        const auto slash = g.find('/');
        CHECK(model.count(ObjectRef{"ExternalSecret", g.substr(0, slash), g.substr(slash + 1)}));
      }
    }
  }
}

}  // namespace eso
