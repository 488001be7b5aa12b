#pragma once

#include <string>
#include <string_view>

namespace eso::http {

/// Bytes a sender chose, made valid UTF-8 (RFC 3629): every byte that does not start or
/// continue a well-formed sequence (overlong forms, surrogates and code points past U+10FFFF
/// included) becomes U+FFFD. Valid text is returned unchanged.
std::string valid_utf8(std::string_view text);

/// The inside of a JSON string (RFC 8259 §7): valid UTF-8, with `"`, `\` and every control
/// character escaped.
std::string json_escape(std::string_view text);

/// A Prometheus label value (text exposition format): valid UTF-8, with `\`, `"` and newline
/// escaped, so one odd event type can never break a scrape.
std::string prometheus_label_escape(std::string_view text);

/// Text for a one-line log field: valid UTF-8, control characters written as `\xNN`, so a
/// sender cannot forge or split log lines.
std::string log_escape(std::string_view text);

}  // namespace eso::http
