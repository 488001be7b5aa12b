#include "core/http/request_parser.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

namespace eso::http {
namespace {

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// field-value characters: VCHAR, obs-text, SP, HTAB.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || u == ' ' || (u > 0x20 && u != 0x7f);
  });
}

// request-target: visible ASCII, no spaces or controls.
bool is_target(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HeadParse error(int status, std::string message) {
  HeadParse p;
  p.state = HeadParse::State::kError;
  p.error = ParseError{status, std::move(message)};
  return p;
}

// Every LF in the head must follow a CR, and every CR precede an LF; no NUL anywhere.
std::optional<HeadParse> check_line_endings(std::string_view head) {
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') return error(400, "NUL byte in the request head");
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r'))
      return error(400, "bare LF in the request head");
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) {
      return error(400, "bare CR in the request head");
    }
  }
  return std::nullopt;
}

std::optional<HeadParse> parse_request_line(std::string_view line, const Limits& limits,
                                            RequestHead& head) {
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return error(400, "malformed request line");
  }
  head.method = std::string(line.substr(0, sp1));
  head.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  head.version = std::string(line.substr(sp2 + 1));
  if (!is_token(head.method)) return error(400, "malformed method");
  if (head.target.size() > limits.max_target_bytes) {
    return error(414, fmt::format("request target longer than {} bytes", limits.max_target_bytes));
  }
  if (!is_target(head.target)) return error(400, "malformed request target");
  const bool http_version = head.version.size() == 8 && head.version.rfind("HTTP/", 0) == 0 &&
                            std::isdigit(static_cast<unsigned char>(head.version[5])) != 0 &&
                            head.version[6] == '.' &&
                            std::isdigit(static_cast<unsigned char>(head.version[7])) != 0;
  if (!http_version) return error(400, "malformed HTTP version");
  if (head.version != "HTTP/1.1" && head.version != "HTTP/1.0") {
    return error(505, "only HTTP/1.1 and HTTP/1.0 are supported");
  }
  return std::nullopt;
}

std::optional<HeadParse> parse_header_line(std::string_view line, RequestHead& head) {
  if (line.front() == ' ' || line.front() == '\t') return error(400, "obsolete line folding");
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return error(400, "header line without a colon");
  const std::string_view name = line.substr(0, colon);
  if (!is_token(name)) {
    return error(400, "malformed header name (whitespace before the colon is not allowed)");
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (!is_field_value(value)) return error(400, "control character in a header value");
  head.headers.emplace_back(lower(name), std::string(value));
  return std::nullopt;
}

// RFC 9112 §6.3: decide how the body is delimited, rejecting anything ambiguous.
std::optional<HeadParse> decide_framing(const Limits& limits, RequestHead& head) {
  size_t lengths = 0, encodings = 0, hosts = 0;
  std::string length, encoding;
  for (const auto& [name, value] : head.headers) {
    if (name == "content-length") ++lengths, length = value;
    if (name == "transfer-encoding") ++encodings, encoding = value;
    if (name == "host") ++hosts;
  }
  if (head.version == "HTTP/1.1" && hosts != 1) {
    return error(400, hosts == 0 ? "missing Host header" : "more than one Host header");
  }
  if (lengths > 1) return error(400, "more than one Content-Length");
  if (encodings > 1) return error(400, "more than one Transfer-Encoding");
  // RFC 9112 §6.3: CL with TE is how requests are smuggled; reject.
  if (lengths == 1 && encodings == 1) return error(400, "Content-Length with Transfer-Encoding");
  if (encodings == 1) {
    if (head.version == "HTTP/1.0") return error(400, "Transfer-Encoding on HTTP/1.0");
    if (lower(encoding) != "chunked")
      return error(400, "only Transfer-Encoding: chunked is accepted");
    head.framing = BodyFraming::kChunked;
    return std::nullopt;
  }
  if (lengths == 1) {
    if (length.empty() || length.size() > 19 ||
        !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return error(400, "malformed Content-Length");
    }
    head.content_length = std::stoull(length);
    if (head.content_length > limits.max_body_bytes) {
      return error(413, fmt::format("body larger than {} bytes", limits.max_body_bytes));
    }
    head.framing = head.content_length > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
    return std::nullopt;
  }
  if (head.method == "POST" || head.method == "PUT" || head.method == "PATCH") {
    return error(411, "a body needs Content-Length or Transfer-Encoding: chunked");
  }
  return std::nullopt;
}

void decide_connection(RequestHead& head) {
  const std::string* connection = head.header("connection");
  const std::string value = connection != nullptr ? lower(*connection) : "";
  head.keep_alive = head.version == "HTTP/1.1" ? value.find("close") == std::string::npos
                                               : value.find("keep-alive") != std::string::npos;
  const std::string* expect = head.header("expect");
  head.expect_continue = expect != nullptr && lower(*expect) == "100-continue";
}

}  // namespace

const std::string* RequestHead::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

HeadParse parse_head(std::string_view bytes, const Limits& limits) {
  size_t start = 0;
  while (bytes.substr(start, 2) == "\r\n") start += 2;  // RFC 9112 §2.2: leading empty lines
  const auto end = bytes.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (bytes.size() > limits.max_head_bytes) return error(431, "request head too large");
    // Reject malformed line endings early, in the part that can no longer change: a head with a
    // bare LF would otherwise never end. A final CR may still be followed by its LF.
    std::string_view settled = bytes.substr(start);
    if (!settled.empty() && settled.back() == '\r') settled.remove_suffix(1);
    if (auto bad = check_line_endings(settled)) return *bad;
    return HeadParse{};
  }
  if (end + 4 > limits.max_head_bytes) return error(431, "request head too large");
  const std::string_view text = bytes.substr(start, end + 2 - start);
  if (auto bad = check_line_endings(text)) return *bad;

  HeadParse result;
  RequestHead& head = result.head;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    const size_t eol = text.find("\r\n", pos);
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      if (auto bad = parse_request_line(line, limits, head)) return *bad;
      first = false;
      continue;
    }
    if (head.headers.size() >= limits.max_headers) return error(431, "too many headers");
    if (auto bad = parse_header_line(line, head)) return *bad;
  }
  if (auto bad = decide_framing(limits, head)) return *bad;
  decide_connection(head);
  result.state = HeadParse::State::kComplete;
  result.consumed = end + 4;
  return result;
}

ChunkedDecoder::State ChunkedDecoder::fail(int status, std::string message) {
  error_ = ParseError{status, std::move(message)};
  return State::kError;
}

namespace {

// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
// chunk-ext-val = token / quoted-string. Anything else (bare CR, NUL, controls) is refused.
class ChunkExtReader {
 public:
  explicit ChunkExtReader(std::string_view text) : text_(text) {}

  bool valid() {
    while (skip_bws(), at_ < text_.size()) {
      if (text_[at_++] != ';') return false;
      skip_bws();
      if (!token()) return false;
      skip_bws();
      if (at_ == text_.size() || text_[at_] != '=') continue;
      ++at_;
      skip_bws();
      if (!(at_ < text_.size() && text_[at_] == '"' ? quoted() : token())) return false;
    }
    return true;
  }

 private:
  void skip_bws() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t')) ++at_;
  }
  bool token() {
    const size_t from = at_;
    while (at_ < text_.size() && is_tchar(text_[at_])) ++at_;
    return at_ > from;
  }
  // RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text; quoted-pair =
  // "\" ( HTAB / SP / VCHAR / obs-text ).
  bool quoted() {
    ++at_;  // the opening quote
    while (at_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') return true;
      if (c == '\\') {
        if (at_ == text_.size()) return false;
        const auto next = static_cast<unsigned char>(text_[at_++]);
        if (!is_field_value_char(next)) return false;
        continue;
      }
      if (!is_field_value_char(c)) return false;
    }
    return false;
  }
  static bool is_field_value_char(unsigned char c) {
    return c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f);
  }

  std::string_view text_;
  size_t at_ = 0;
};

// RFC 9112 §7.1.2: a trailer line is a field line, name ":" OWS value OWS.
bool valid_trailer_line(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  return is_token(line.substr(0, colon)) && is_field_value(line.substr(colon + 1));
}

}  // namespace

ChunkedDecoder::State ChunkedDecoder::feed(std::string_view bytes, std::string& body,
                                           size_t& consumed) {
  consumed = 0;
  while (consumed < bytes.size() && phase_ != Phase::kDone) {
    if (phase_ == Phase::kData) {
      const size_t take = std::min(remaining_, bytes.size() - consumed);
      body.append(bytes.substr(consumed, take));
      consumed += take;
      remaining_ -= take;
      if (remaining_ == 0) phase_ = Phase::kDataEnd;
      continue;
    }
    const char c = bytes[consumed++];
    if (c != '\n') {
      if (line_.size() >= kMaxLine) return fail(400, "chunk line too long");
      line_.push_back(c);
      continue;
    }
    if (line_.empty() || line_.back() != '\r') return fail(400, "bare LF in chunked body");
    line_.pop_back();
    const std::string line = std::move(line_);
    line_.clear();
    if (const auto state = end_of_line(line, body.size()); state != State::kNeedMore) {
      return state;
    }
  }
  if (phase_ == Phase::kDone) return State::kDone;
  return State::kNeedMore;
}

// Extensions and trailers share one budget, so a body of tiny chunks with long extensions
// cannot make the server read far more than the body limit.
bool ChunkedDecoder::charge(size_t bytes) {
  metadata_ += bytes;
  return metadata_ <= max_metadata_;
}

ChunkedDecoder::State ChunkedDecoder::end_of_line(std::string_view line, size_t body_size) {
  constexpr size_t kMaxTrailers = 64;
  const std::string budget_message =
      "chunk extensions and trailers longer than " + std::to_string(max_metadata_) + " bytes";
  if (phase_ == Phase::kDataEnd) {
    if (!line.empty()) return fail(400, "chunk data longer than its size");
    phase_ = Phase::kSize;
    return State::kNeedMore;
  }
  if (phase_ == Phase::kTrailer) {
    if (line.empty()) {
      phase_ = Phase::kDone;
      return State::kDone;
    }
    if (++trailers_ > kMaxTrailers || !valid_trailer_line(line)) {
      return fail(400, "malformed chunked trailer");
    }
    if (!charge(line.size())) return fail(413, budget_message);
    return State::kNeedMore;
  }
  // chunk-size [ chunk-ext ]
  const size_t digits = std::min(line.find_first_not_of("0123456789abcdefABCDEF"), line.size());
  const std::string_view size_text = line.substr(0, digits);
  if (size_text.empty() || size_text.size() > 15) return fail(400, "malformed chunk size");
  const std::string_view extension = line.substr(digits);
  if (!ChunkExtReader(extension).valid()) return fail(400, "malformed chunk extension");
  if (!charge(extension.size())) return fail(413, budget_message);
  const size_t size = std::stoull(std::string(size_text), nullptr, 16);
  if (size > max_body_ || body_size + size > max_body_) {
    return fail(413, fmt::format("body larger than {} bytes", max_body_));
  }
  remaining_ = size;
  phase_ = size == 0 ? Phase::kTrailer : Phase::kData;
  return State::kNeedMore;
}

std::string_view reason_phrase(int status) {
  static constexpr std::array<std::pair<int, std::string_view>, 20> kReasons{{
      {100, "Continue"},
      {200, "OK"},
      {204, "No Content"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  }};
  for (const auto& [code, text] : kReasons) {
    if (code == status) return text;
  }
  return "Unknown";
}

std::string format_response(int status, std::string_view content_type, std::string_view body,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            bool close) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  if (!content_type.empty()) out += fmt::format("Content-Type: {}\r\n", content_type);
  out += fmt::format("Content-Length: {}\r\n", body.size());
  for (const auto& [name, value] : headers) out += fmt::format("{}: {}\r\n", name, value);
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

}  // namespace eso::http
