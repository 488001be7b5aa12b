#include "webhook/verify/base64url.h"

#include <array>
#include <cstdint>

namespace eso::webhook {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<uint8_t>(kAlphabet[i])] = int8_t(i);
  return t;
}
constexpr auto kTable = make_table();

}  // namespace

Result<std::string> base64url_decode(std::string_view text) {
  // RFC 4648 §5 without padding: a final group of one character cannot encode a byte.
  if (text.size() % 4 == 1) {
    return Error{ErrorCode::kMalformed, "base64url text has an impossible length"};
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int8_t v = kTable[static_cast<uint8_t>(c)];
    if (v < 0)
      return Error{ErrorCode::kMalformed, "base64url text has a byte outside its alphabet"};
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  // The bits left over pad the last byte; a canonical encoding leaves them zero.
  if ((bits & ((1u << count) - 1)) != 0) {
    return Error{ErrorCode::kMalformed, "base64url text has non-zero padding bits"};
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t bits = 0;
  int count = 0;
  for (const char c : bytes) {
    bits = (bits << 8) | static_cast<uint8_t>(c);
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3f]);
  return out;
}

}  // namespace eso::webhook
