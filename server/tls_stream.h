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

/// A TLS connection over a non-blocking socket: OpenSSL's want-read/want-write are handed to
/// the event loop, never waited for here.
class TlsTransport final : public Transport {
 public:
  /// Takes over `fd` and makes it non-blocking. The session is made from `context` only once
  /// the client's first TLS record has arrived whole: a connection that sends half a
  /// ClientHello costs a descriptor and the bytes it sent, not a session's buffers.
  TlsTransport(int fd, std::shared_ptr<TlsContext> context);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  Io handshake() override;
  Io read(std::string& into, size_t max) override;
  Io write(std::string_view data, size_t& written) override;
  std::string peer_identity() const override;
  int fd() const override { return fd_; }

 private:
  /// What `rc` from an SSL call means for the loop.
  Io outcome(int rc) const;
  /// Reads the client's first record into `first_record_`; kOk once it is whole (or cannot be
  /// a TLS record) and a session is made that reads it first, then the socket.
  Io start_session();
  int fd_;
  std::shared_ptr<TlsContext> context_;
  SSL* ssl_ = nullptr;
  std::string first_record_;
  bool reading_first_record_ = false;  ///< the session still reads from first_record_
};

/// Sends close_notify once, without waiting.
void shutdown_tls(SSL* ssl);
/// Frees a TLS session and closes its socket.
void close_tls(int fd, SSL* ssl);

}  // namespace eso::http
