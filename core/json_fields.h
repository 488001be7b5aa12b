#pragma once

#include <string>

#include <rapidjson/document.h>

namespace eso {

/// The member `name` of a JSON object, or nullptr (also when `v` is not an object). Input from
/// the network is never asserted on: every accessor tolerates any shape.
inline const rapidjson::Value* json_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

/// The string member `name`, or "" when it is missing or not a string.
inline std::string json_string(const rapidjson::Value& v, const char* name) {
  const auto* m = json_member(v, name);
  return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                       : std::string();
}

}  // namespace eso
