// libFuzzer target: every event decoder turns any body into keys or a clear error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/event_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (std::string_view source : {"", "akeyless", "generic"}) {
    auto decoded = eso::decode_events(body, source);
    if (!decoded && decoded.error().message.empty()) __builtin_trap();
  }
  return 0;
}
