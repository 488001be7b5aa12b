#pragma once

#include <chrono>
#include <string_view>

#include "core/result.h"

namespace eso {

/// Parses a Go `time.Duration` string as Kubernetes serialises metav1.Duration
/// ("1h", "15m30s", "0", "1.5h", "-2s", "300ms"). Errors name the offending text.
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace eso
