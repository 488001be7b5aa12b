#include "core/match_report.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/json_report.h"

namespace eso {
namespace {

template <typename JsonWriter>
void write_match(JsonWriter& w, const Match& m) {
  w.StartObject();
  write_match_fields(w, m);
  w.Key("store");
  w.StartObject();
  w.Key("kind");
  w.String(m.store.kind);
  w.Key("name");
  w.String(m.store.name);
  w.EndObject();
  w.Key("willRefresh");
  w.Bool(will_refresh(m.verdict));
  w.Key("possible");
  w.Bool(m.possible);
  w.Key("usesGenerator");
  w.Bool(m.object->uses_generator);
  if (!m.object->owner_cluster_external_secret.empty()) {
    w.Key("clusterExternalSecret");
    w.String(m.object->owner_cluster_external_secret);
  }
  w.EndObject();
}

template <typename JsonWriter>
void write_all(JsonWriter& w, const MatchResult& result, const std::vector<std::string>& keys,
               const std::string& group_version) {
  w.StartObject();
  w.Key("apiVersion");
  w.String(group_version);
  w.Key("keys");
  w.StartArray();
  for (const auto& k : keys) w.String(k);
  w.EndArray();
  w.Key("matches");
  w.StartArray();
  for (const auto& m : result.matches) write_match(w, m);
  w.EndArray();
  write_problems(w, result.problems);
  w.EndObject();
}

}  // namespace

std::string match_json(const MatchResult& result, const std::vector<std::string>& keys,
                       const std::string& group_version, bool pretty) {
  rapidjson::StringBuffer buffer;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.SetIndent(' ', 2);
    write_all(w, result, keys, group_version);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    write_all(w, result, keys, group_version);
  }
  return buffer.GetString();
}

}  // namespace eso
