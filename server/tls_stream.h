#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "server/socket_stream.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace eso::http {

/// Native TLS for serve (DESIGN.md §6): the certificate and key, and optionally the CA whose
/// client certificates are accepted as webhook credentials.
struct TlsOptions {
  std::string cert_file;       ///< PEM chain, leaf first
  std::string key_file;        ///< PEM private key
  std::string client_ca_file;  ///< PEM CAs; empty: client certificates are not asked for
};

/// The server's TLS settings. The files are re-read when they change (checked at most once a
/// second), so a rotated certificate (cert-manager, a mounted Secret) is served without a
/// restart; a change that does not load keeps the previous one and says why on stderr.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(TlsOptions options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// A new server-side session for one connection (owned by the caller: SSL_free).
  SSL* new_session();

 private:
  explicit TlsContext(TlsOptions options) : options_(std::move(options)) {}
  std::string stamp() const;

  TlsOptions options_;
  std::mutex mu_;
  SSL_CTX* ctx_ = nullptr;
  std::string stamp_;
  std::chrono::steady_clock::time_point checked_{};
};

/// A TLS connection over a socket: the same deadlines and partial-I/O handling as
/// SocketStream, with OpenSSL's want-read/want-write turned into poll() waits.
class TlsStream final : public Stream {
 public:
  /// Takes over `fd` and `ssl` (which may be mid-connection, for a parked keep-alive).
  TlsStream(int fd, SSL* ssl);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  /// Completes the server handshake before `deadline`; false on failure or timeout.
  bool handshake(Deadline deadline);
  ReadEnd read_some(std::string& into, size_t max, Deadline deadline) override;
  bool write_all(std::string_view data, Deadline deadline) override;
  std::string peer_identity() const override;
  /// Decrypted bytes already buffered: the connection is readable though its socket is not.
  bool pending() const;
  /// Gives the socket and session up without closing them.
  void release() { fd_ = -1, ssl_ = nullptr; }

 private:
  /// Waits as OpenSSL asks after `rc`; false when the connection is over or out of time.
  bool wait_for(int rc, Deadline deadline, bool& closed);
  int fd_;
  SSL* ssl_;
};

/// Sends close_notify once, without waiting.
void shutdown_tls(SSL* ssl);
/// Frees a TLS session and closes its socket.
void close_tls(int fd, SSL* ssl);

}  // namespace eso::http
