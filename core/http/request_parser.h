#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eso::http {

/// Limits a request must stay within (DESIGN.md §6); each breach has its own status.
struct Limits {
  size_t max_head_bytes = 16 * 1024;  ///< 431 beyond
  size_t max_headers = 64;            ///< 431 beyond
  size_t max_target_bytes = 2048;     ///< 414 beyond
  size_t max_body_bytes = 1 << 20;    ///< 413 beyond, checked before the body is read
};

/// A rejected request: the status to answer (the connection is closed after it) and why.
struct ParseError {
  int status = 400;
  std::string message;
};

/// How the body of a request is delimited (RFC 9112 §6).
enum class BodyFraming { kNone, kContentLength, kChunked };

/// A parsed request head.
struct RequestHead {
  std::string method;
  std::string target;
  std::string version;                                       ///< "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  BodyFraming framing = BodyFraming::kNone;
  size_t content_length = 0;
  bool expect_continue = false;
  bool keep_alive = false;
  /// Set by the server, not parsed: the subject of the client certificate the connection
  /// presented and that verified against the configured client CA (TLS), or "".
  std::string peer_certificate;

  /// The value of the (single) header `name` (lower case), or nullptr.
  const std::string* header(std::string_view name) const;
};

/// Result of looking at the bytes received so far.
struct HeadParse {
  enum class State { kIncomplete, kComplete, kError } state = State::kIncomplete;
  RequestHead head;
  size_t consumed = 0;  ///< bytes of the head, including leading empty lines and the blank line
  ParseError error;
};

/// Parses a request head strictly: request line, headers, framing. Pure: bytes in, verdict out.
/// Rejects (400) bare CR or LF, NUL, obs-fold, whitespace before a colon, malformed or duplicate
/// Content-Length, any Transfer-Encoding but exactly `chunked`, Content-Length with
/// Transfer-Encoding, Transfer-Encoding on HTTP/1.0, a missing or repeated Host on HTTP/1.1;
/// 505 for other versions, 414/431/413 for the limits, 411 for a POST without a length.
/// Empty lines before the request line are skipped (RFC 9112 §2.2).
HeadParse parse_head(std::string_view bytes, const Limits& limits);

/// Decodes a `Transfer-Encoding: chunked` body incrementally and strictly (RFC 9112 §7.1):
/// chunk extensions must follow the grammar (tokens or quoted strings) and trailers must be
/// field lines, so a bare CR, a NUL or a control byte is a 400. The decoded body is bounded by
/// `max_body` (413), and extensions plus trailers together by `max_metadata` bytes (413), so
/// the bytes read stay within a small multiple of the body limit.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_body, size_t max_metadata = 4096)
      : max_body_(max_body), max_metadata_(max_metadata) {}

  enum class State { kNeedMore, kDone, kError };

  /// Consumes as much of `bytes` as it can, appending data to `body`; `consumed` is set to what
  /// was used. After kDone, bytes beyond `consumed` belong to the next request.
  State feed(std::string_view bytes, std::string& body, size_t& consumed);
  const ParseError& error() const { return error_; }

 private:
  enum class Phase { kSize, kData, kDataEnd, kTrailer, kDone };
  static constexpr size_t kMaxLine = 4096;
  State fail(int status, std::string message);
  /// One complete line (CRLF removed) in the current phase.
  State end_of_line(std::string_view line, size_t body_size);
  /// Counts extension or trailer bytes; false beyond the budget.
  bool charge(size_t bytes);

  size_t max_body_;
  size_t max_metadata_;
  size_t metadata_ = 0;
  Phase phase_ = Phase::kSize;
  size_t remaining_ = 0;
  size_t trailers_ = 0;
  std::string line_;
  ParseError error_;
};

/// A complete response with Content-Length; `close` adds `Connection: close`.
std::string format_response(int status, std::string_view content_type, std::string_view body,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            bool close);

/// The reason phrase of a status code ("Not Found").
std::string_view reason_phrase(int status);

/// %XX escapes decoded (and '+' as a space when `plus_is_space`, as in query strings); a
/// malformed escape is kept as written.
std::string percent_decode(std::string_view text, bool plus_is_space);

}  // namespace eso::http
