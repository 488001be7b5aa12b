#include "core/remote_key.h"

namespace eso {

std::string normalise_akeyless_key(std::string_view key) {
  while (!key.empty() && key.front() == '/') key.remove_prefix(1);
  while (!key.empty() && key.back() == '/') key.remove_suffix(1);
  std::string out;
  out.reserve(key.size() + 1);
  out.push_back('/');
  out.append(key);
  return out;
}

}  // namespace eso
