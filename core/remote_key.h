#pragma once

#include <string>
#include <string_view>

namespace eso {

/// Canonical form of an Akeyless item path: exactly one leading '/', no trailing '/'
/// (`db/pass` and `/db/pass/` both become `/db/pass`). DESIGN.md §3.
std::string normalise_akeyless_key(std::string_view key);

}  // namespace eso
