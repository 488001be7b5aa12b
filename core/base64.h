#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace eso {

/// Strict RFC 4648 §4 base64: padding required, no whitespace, no URL alphabet. Errors say why.
Result<std::string> base64_decode(std::string_view text);

/// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

}  // namespace eso
