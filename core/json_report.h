#pragma once

#include <vector>

#include "core/external_secret.h"
#include "core/match.h"

namespace eso {

/// Writes `"kind", "namespace" (when namespaced), "name"` into the current JSON object; the
/// shape every report (match, trigger, serve) uses for an object. Works with any RapidJSON
/// writer.
template <typename Writer>
void write_object_ref(Writer& w, const ObjectRef& ref) {
  w.Key("kind");
  w.String(ref.kind);
  if (!ref.namespace_name.empty()) {
    w.Key("namespace");
    w.String(ref.namespace_name);
  }
  w.Key("name");
  w.String(ref.name);
}

/// Writes a match's object, `"key"`, `"field"`, `"verdict"` and the key `"rule"` it matched
/// under into the current JSON object.
template <typename Writer>
void write_match_fields(Writer& w, const Match& m) {
  write_object_ref(w, m.object->ref);
  w.Key("key");
  w.String(m.key);
  w.Key("field");
  w.String(m.field);
  w.Key("verdict");
  w.String(match_verdict_text(m));
  w.Key("rule");
  w.String(m.rule);
}

/// Writes `"problems": [{object, field, message}]`.
template <typename Writer>
void write_problems(Writer& w, const std::vector<MatchProblem>& problems) {
  w.Key("problems");
  w.StartArray();
  for (const auto& p : problems) {
    w.StartObject();
    write_object_ref(w, p.object->ref);
    w.Key("field");
    w.String(p.field);
    w.Key("message");
    w.String(p.message);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace eso
