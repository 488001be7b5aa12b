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

}  // namespace eso::cmd
