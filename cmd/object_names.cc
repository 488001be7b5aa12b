#include "cmd/object_names.h"

#include <algorithm>
#include <cctype>

namespace eso::cmd {

std::string qualified_name(const ObjectRef& ref) {
  std::string kind = ref.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kind + ".external-secrets.io/" + ref.name;
}

void write_object_ref(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const ObjectRef& ref) {
  w.Key("kind");
  w.String(ref.kind);
  if (!ref.namespace_name.empty()) {
    w.Key("namespace");
    w.String(ref.namespace_name);
  }
  w.Key("name");
  w.String(ref.name);
}

}  // namespace eso::cmd
