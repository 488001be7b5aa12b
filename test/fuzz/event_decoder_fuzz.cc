// libFuzzer target: every event decoder turns any body into keys or a clear error, with and
// without the headers and signing secrets that change its path (CloudEvents binary mode,
// Doppler and Infisical signatures, Azure's validation handshake).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/event_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first line, when there is one, is a header value tried in every header slot.
  const auto newline = input.find('\n');
  const std::string value(newline == std::string_view::npos ? "" : input.substr(0, newline));
  const std::string_view body =
      newline == std::string_view::npos ? input : input.substr(newline + 1);
  eso::DecodeOptions options;
  options.key_paths = {"detail.name", "items[].path", "*"};
  options.cloudevents_key_path = "a.b[].c";
  for (const bool with_headers : {false, true}) {
    std::map<std::string, std::string, std::less<>> headers;
    if (with_headers) {
      for (const char* name : {"ce-specversion", "ce-type", "ce-subject", "content-type",
                               "x-doppler-signature", "x-infisical-signature", "aeg-event-type"}) {
        headers[name] = value;
      }
    }
    eso::EventRequest request;
    request.body = body;
    request.header = [&](std::string_view name) -> const std::string* {
      const auto it = headers.find(name);
      return it == headers.end() ? nullptr : &it->second;
    };
    if (with_headers) {
      request.signing_secrets["doppler"] = "k";
      request.signing_secrets["infisical"] = "k";
    }
    for (const auto& source : eso::event_sources()) {
      auto decoded = eso::decode_events(request, source.name, options);
      if (!decoded && decoded.error().message.empty()) __builtin_trap();
    }
    auto detected = eso::decode_events(request, "", options);
    if (!detected && detected.error().message.empty()) __builtin_trap();
  }
  return 0;
}
