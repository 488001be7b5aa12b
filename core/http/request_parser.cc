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

ChunkedDecoder::State ChunkedDecoder::feed(std::string_view bytes, std::string& body,
                                           size_t& consumed) {
  constexpr size_t kMaxLine = 4096;
  constexpr size_t kMaxTrailers = 64;
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
    std::string line = std::move(line_);
    line_.clear();
    if (phase_ == Phase::kDataEnd) {
      if (!line.empty()) return fail(400, "chunk data longer than its size");
      phase_ = Phase::kSize;
      continue;
    }
    if (phase_ == Phase::kTrailer) {
      if (line.empty()) {
        phase_ = Phase::kDone;
        break;
      }
      if (++trailers_ > kMaxTrailers || line.find(':') == std::string::npos) {
        return fail(400, "malformed chunked trailer");
      }
      continue;
    }
    // chunk-size [ chunk-ext ]
    const std::string size_text = line.substr(0, line.find(';'));
    if (size_text.empty() || size_text.size() > 15 ||
        !std::all_of(size_text.begin(), size_text.end(),
                     [](char h) { return std::isxdigit(static_cast<unsigned char>(h)) != 0; })) {
      return fail(400, "malformed chunk size");
    }
    const size_t size = std::stoull(size_text, nullptr, 16);
    if (body.size() + size > max_body_) {
      return fail(413, fmt::format("body larger than {} bytes", max_body_));
    }
    remaining_ = size;
    phase_ = size == 0 ? Phase::kTrailer : Phase::kData;
  }
  if (phase_ == Phase::kDone) return State::kDone;
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
