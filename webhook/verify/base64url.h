#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace eso::webhook {

/// Strict RFC 4648 §5 base64url without padding, as JWTs and JWKs use it (RFC 7515 §2): only the
/// URL alphabet, no '=', no whitespace, and unused trailing bits zero, so every byte string has
/// exactly one accepted encoding.
Result<std::string> base64url_decode(std::string_view text);

/// base64url without padding.
std::string base64url_encode(std::string_view bytes);

}  // namespace eso::webhook
