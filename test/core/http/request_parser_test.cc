#include "core/http/request_parser.h"

#include <doctest/doctest.h>

namespace eso::http {
namespace {

constexpr std::string_view kHost = "Host: h\r\n";

std::string req(std::string_view request_line, std::string_view headers,
                std::string_view body = "") {
  return std::string(request_line) + "\r\n" + std::string(headers) + "\r\n" + std::string(body);
}

// Parses a head and, for a complete one, its body; returns the status the server answers with
// (200 for a good request) and the body.
std::pair<int, std::string> parse_all(const std::string& bytes, const Limits& limits = {}) {
  const HeadParse head = parse_head(bytes, limits);
  if (head.state == HeadParse::State::kError) return {head.error.status, ""};
  if (head.state == HeadParse::State::kIncomplete) return {0, ""};
  const std::string_view rest = std::string_view(bytes).substr(head.consumed);
  if (head.head.framing == BodyFraming::kContentLength) {
    if (rest.size() < head.head.content_length) return {0, ""};
    return {200, std::string(rest.substr(0, head.head.content_length))};
  }
  if (head.head.framing == BodyFraming::kChunked) {
    ChunkedDecoder decoder(limits.max_body_bytes);
    std::string body;
    size_t consumed = 0;
    const auto state = decoder.feed(rest, body, consumed);
    if (state == ChunkedDecoder::State::kError) return {decoder.error().status, ""};
    if (state == ChunkedDecoder::State::kNeedMore) return {0, ""};
    return {200, body};
  }
  return {200, ""};
}

}  // namespace

TEST_CASE("request framing: raw bytes in, verdict out") {
  struct Case {
    const char* name;
    std::string bytes;
    int status;  // 0: incomplete, 200: accepted
    std::string body = "";
  };
  const std::string post = "POST /webhook HTTP/1.1";
  const Case cases[] = {
      {"plain GET", req("GET /healthz HTTP/1.1", kHost), 200},
      {"CL body", req(post, "Host: h\r\nContent-Length: 5\r\n", "hello"), 200, "hello"},
      {"CL 0", req(post, "Host: h\r\nContent-Length: 0\r\n"), 200},
      {"chunked", req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"),
       200, "hello"},
      {"chunked, case-insensitive, ext and trailer",
       req(post, "Host: h\r\nTransfer-Encoding: Chunked\r\n",
           "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"),
       200, "abcde"},
      {"chunked with trailing space is OWS",
       req(post, "Host: h\r\nTransfer-Encoding: chunked \r\n", "0\r\n\r\n"), 200},
      {"CL with OWS", req(post, "Host: h\r\nContent-Length:  1\r\n", "x"), 200, "x"},
      {"CRLF-only prelude", "\r\n\r\n" + req("GET / HTTP/1.1", kHost), 200},
      {"HTTP/1.0 without Host", req("GET / HTTP/1.0", ""), 200},
      {"incomplete head", "GET / HTTP/1.1\r\nHost: h\r\n", 0},
      {"incomplete head ending in CR", "GET / HTTP/1.1\r\nHost: h\r", 0},
      {"incomplete body", req(post, "Host: h\r\nContent-Length: 5\r\n", "he"), 0},
      // Smuggling and ambiguity.
      {"CL with TE", req(post, "Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
       400},
      {"CL 0 with TE", req(post, "Host: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n"),
       400},
      {"chunked, gzip", req(post, "Host: h\r\nTransfer-Encoding: chunked, gzip\r\n"), 400},
      {"gzip", req(post, "Host: h\r\nTransfer-Encoding: gzip\r\n"), 400},
      {"two TE",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"TE on HTTP/1.0", req("POST / HTTP/1.0", "Transfer-Encoding: chunked\r\n"), 400},
      {"duplicate CL, equal",
       req(post, "Host: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n", "x"), 400},
      {"duplicate CL, different",
       req(post, "Host: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n"), 400},
      {"CL +1", req(post, "Host: h\r\nContent-Length: +1\r\n", "x"), 400},
      {"CL -1", req(post, "Host: h\r\nContent-Length: -1\r\n"), 400},
      {"CL 0x1", req(post, "Host: h\r\nContent-Length: 0x1\r\n"), 400},
      {"CL 1,1", req(post, "Host: h\r\nContent-Length: 1,1\r\n"), 400},
      {"CL 1 1", req(post, "Host: h\r\nContent-Length: 1 1\r\n"), 400},
      {"CL empty", req(post, "Host: h\r\nContent-Length:\r\n"), 400},
      {"CL of 20 digits", req(post, "Host: h\r\nContent-Length: 18446744073709551617\r\n"), 400},
      {"POST without length", req(post, kHost), 411},
      // Head syntax.
      {"space before colon", req("GET / HTTP/1.1", "Host : h\r\n"), 400},
      {"tab before colon", req("GET / HTTP/1.1", "Host\t: h\r\n"), 400},
      {"obs-fold", req("GET / HTTP/1.1", "Host: h\r\nX-A: 1\r\n 2\r\n"), 400},
      {"NUL in value", req("GET / HTTP/1.1", std::string("Host: h\r\nX-A: a\0b\r\n", 20)), 400},
      {"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", 400},
      {"bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400},
      {"bare LF in an unfinished head", "GET / HTTP/1.1\nHost: h\n", 400},
      {"missing Host", req("GET / HTTP/1.1", ""), 400},
      {"duplicate Host", req("GET / HTTP/1.1", "Host: a\r\nHost: b\r\n"), 400},
      {"no colon", req("GET / HTTP/1.1", "Host: h\r\nNonsense\r\n"), 400},
      {"control char in value", req("GET / HTTP/1.1", "Host: h\r\nX: \x01\r\n"), 400},
      {"two spaces in request line", req("GET  / HTTP/1.1", kHost), 400},
      {"lower-case version", req("GET / http/1.1", kHost), 400},
      {"HTTP/2.0", req("GET / HTTP/2.0", kHost), 505},
      {"HTTP/1.2", req("GET / HTTP/1.2", kHost), 505},
      {"method not a token", req("G(T / HTTP/1.1", kHost), 400},
      // Chunked bodies.
      {"chunk size overflow",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\n"), 400},
      {"chunk size junk", req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "zz\r\n"), 400},
      {"chunk size empty", req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "\r\n"), 400},
      {"chunk data too long",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1\r\nab\r\n0\r\n\r\n"), 400},
      {"chunk bare LF", req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1\nab"), 400},
      // Chunk extensions: RFC 9112 §7.1.1, tokens and quoted strings only.
      {"chunk ext with BWS and quoted value",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n",
           "1 ; a = \"x \\\" y\" ;b\r\nz\r\n0;last\r\n\r\n"),
       200, "z"},
      {"chunk ext with bare CR",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1;a\rb\r\nz\r\n0\r\n\r\n"), 400},
      {"chunk ext with NUL",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n",
           std::string("1;a=\0\r\nz\r\n0\r\n\r\n", 15)),
       400},
      {"chunk ext with a control byte",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1;a=\x01\r\nz\r\n0\r\n\r\n"), 400},
      {"chunk ext without ';'",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1 x\r\nz\r\n0\r\n\r\n"), 400},
      {"chunk ext with unterminated quote",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1;a=\"x\r\nz\r\n0\r\n\r\n"), 400},
      {"chunk ext name missing",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "1;=x\r\nz\r\n0\r\n\r\n"), 400},
      // Trailers are field lines.
      {"trailer with bare CR",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "0\r\nT: a\rb\r\n\r\n"), 400},
      {"trailer with NUL",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n",
           std::string("0\r\nT: \0\r\n\r\n", 11)),
       400},
      {"trailer with a control byte",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "0\r\nT: \x7f\r\n\r\n"), 400},
      {"trailer name not a token",
       req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "0\r\nT x: v\r\n\r\n"), 400},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const auto [status, body] = parse_all(c.bytes);
    CHECK(status == c.status);
    CHECK(body == c.body);
  }
}

TEST_CASE("limits: head, headers, target and body, each one byte over") {
  Limits limits;
  limits.max_head_bytes = 200;
  limits.max_headers = 4;
  limits.max_target_bytes = 20;
  limits.max_body_bytes = 10;
  auto head_of = [](size_t size) {
    // A complete head of exactly `size` bytes.
    std::string start = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
    return start + std::string(size - start.size() - 4, 'a') + "\r\n\r\n";
  };
  CHECK(parse_all(head_of(200), limits).first == 200);
  CHECK(parse_all(head_of(201), limits).first == 431);
  CHECK(parse_all(std::string(201, 'a'), limits).first == 431);  // never completes
  CHECK(parse_all(req("GET / HTTP/1.1", "Host: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n"), limits).first ==
        200);
  CHECK(parse_all(req("GET / HTTP/1.1", "Host: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), limits)
            .first == 431);
  CHECK(parse_all(req("GET /" + std::string(19, 'a') + " HTTP/1.1", kHost), limits).first == 200);
  CHECK(parse_all(req("GET /" + std::string(20, 'a') + " HTTP/1.1", kHost), limits).first == 414);
  const std::string post = "POST / HTTP/1.1";
  CHECK(parse_all(req(post, "Host: h\r\nContent-Length: 10\r\n", std::string(10, 'x')), limits)
            .first == 200);
  CHECK(parse_all(req(post, "Host: h\r\nContent-Length: 11\r\n"), limits).first == 413);
  CHECK(parse_all(
            req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "a\r\n0123456789\r\n0\r\n\r\n"),
            limits)
            .first == 200);
  CHECK(
      parse_all(req(post, "Host: h\r\nTransfer-Encoding: chunked\r\n", "a\r\n0123456789\r\n1\r\n"),
                limits)
          .first == 413);
}

TEST_CASE("chunk extensions and trailers share one budget; the body limit is on decoded bytes") {
  // One byte of data per chunk, each with a long extension: far more wire bytes than body.
  std::string chunks;
  for (int i = 0; i < 100; ++i) chunks += "1;e=" + std::string(100, 'x') + "\r\nz\r\n";
  ChunkedDecoder decoder(1 << 20, 4096);
  std::string body;
  size_t consumed = 0;
  CHECK(decoder.feed(chunks, body, consumed) == ChunkedDecoder::State::kError);
  CHECK(decoder.error().status == 413);
  CHECK(body.size() < 50);

  ChunkedDecoder trailers(1 << 20, 100);
  std::string trailer_body;
  const std::string long_trailers =
      "0\r\nA: " + std::string(60, 'a') + "\r\nB: " + std::string(60, 'b') + "\r\n\r\n";
  CHECK(trailers.feed(long_trailers, trailer_body, consumed) == ChunkedDecoder::State::kError);
  CHECK(trailers.error().status == 413);

  // The body limit counts decoded bytes, chunk by chunk, whatever the framing says.
  ChunkedDecoder small(10);
  std::string small_body;
  CHECK(small.feed("6\r\nabcdef\r\n5\r\n", small_body, consumed) == ChunkedDecoder::State::kError);
  CHECK(small.error().status == 413);
}

TEST_CASE("pipelined requests in one write parse one after the other") {
  const std::string bytes = req("POST /a HTTP/1.1", "Host: h\r\nContent-Length: 2\r\n", "ab") +
                            req("GET /b HTTP/1.1", "Host: h\r\nConnection: close\r\n");
  const HeadParse first = parse_head(bytes, {});
  REQUIRE(first.state == HeadParse::State::kComplete);
  CHECK(first.head.target == "/a");
  CHECK(first.head.keep_alive);
  const std::string rest = bytes.substr(first.consumed + first.head.content_length);
  const HeadParse second = parse_head(rest, {});
  REQUIRE(second.state == HeadParse::State::kComplete);
  CHECK(second.head.target == "/b");
  CHECK_FALSE(second.head.keep_alive);
  CHECK(second.consumed == rest.size());
}

TEST_CASE("Expect: 100-continue, keep-alive and header lookup") {
  const HeadParse p =
      parse_head(req("POST /w HTTP/1.1",
                     "Host: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\nX-Y:  v  \r\n"),
                 {});
  REQUIRE(p.state == HeadParse::State::kComplete);
  CHECK(p.head.expect_continue);
  CHECK(p.head.keep_alive);
  REQUIRE(p.head.header("x-y") != nullptr);
  CHECK(*p.head.header("x-y") == "v");
  CHECK(p.head.header("absent") == nullptr);
  const HeadParse old = parse_head(req("GET / HTTP/1.0", "Connection: keep-alive\r\n"), {});
  CHECK(old.head.keep_alive);
  CHECK_FALSE(parse_head(req("GET / HTTP/1.0", ""), {}).head.keep_alive);
}

TEST_CASE("responses always carry Content-Length") {
  const std::string r =
      format_response(503, "application/json", "{}", {{"Retry-After", "5"}}, true);
  CHECK(r ==
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nRetry-After: 5\r\nConnection: close\r\n\r\n{}");
  CHECK(format_response(204, "", "", {}, false) ==
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace eso::http
