// libFuzzer target: the request parser and chunked decoder never crash, hang or read out of
// bounds, whatever bytes arrive; a complete head never claims more bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  eso::http::Limits limits;
  limits.max_head_bytes = 4096;
  limits.max_body_bytes = 4096;
  const auto head = eso::http::parse_head(bytes, limits);
  if (head.state != eso::http::HeadParse::State::kComplete) return 0;
  if (head.consumed > bytes.size()) __builtin_trap();
  if (head.head.framing == eso::http::BodyFraming::kChunked) {
    eso::http::ChunkedDecoder decoder(limits.max_body_bytes);
    std::string body;
    size_t consumed = 0;
    decoder.feed(bytes.substr(head.consumed), body, consumed);
    if (body.size() > limits.max_body_bytes) __builtin_trap();
  }
  return 0;
}
