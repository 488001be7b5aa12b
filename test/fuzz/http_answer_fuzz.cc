// libFuzzer target: trigger --server's HTTP client (server/http_client.cc) reads any bytes a
// server or a proxy sends back as an answer within its limits or a clear error, never a crash
// or a hang: status line, headers, Content-Length, chunked coding, trailers, 1xx heads.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "server/http_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 0;
  // The whole input is written before reading (it fits the socket's buffer: -max_len=8192),
  // then the sending side closes, as a server that answered and hung up.
  for (size_t off = 0; off < size;) {
    const ssize_t n = ::send(pair[0], data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(pair[0]);
  constexpr size_t kMax = 2048;
  const auto out = eso::http::read_answer(pair[1], std::chrono::seconds(2), kMax);
  using Failure = eso::http::ClientOutcome::Failure;
  if (out.failure == Failure::kNone) {
    if (out.status < 100 || out.status > 999 || out.body.size() > kMax) __builtin_trap();
  } else {
    if (out.detail.empty() || out.status != 0 || !out.body.empty()) __builtin_trap();
    if (out.failure == Failure::kTimeout) __builtin_trap();  // all bytes were there: no waiting
  }
  return 0;
}
