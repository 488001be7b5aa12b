#include "server/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <fmt/format.h>

namespace eso::http {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

Result<SSL_CTX*> load(const TlsOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Error{ErrorCode::kInternal, "TLS: " + openssl_error()};
  auto fail = [&](const std::string& what) -> Result<SSL_CTX*> {
    const std::string why = openssl_error();
    SSL_CTX_free(ctx);
    return Error{ErrorCode::kConfig, fmt::format("TLS: {}: {}", what, why)};
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // RELEASE_BUFFERS: an idle connection (kept alive, or a slow client between bytes) holds no
  // 16 KiB read and write buffers; 1,100 hostile TLS connections cost 34 MiB without it.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // With client verification on, OpenSSL refuses to resume a session without an ID context
  // (a fatal alert to every client with a session cache: curl, nginx upstreams).
  static constexpr unsigned char kSessionContext[] = "eso-updater";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
    return fail("cannot load the certificate " + o.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load the key " + o.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("the key " + o.key_file + " does not match the certificate " + o.cert_file);
  }
  if (!o.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.client_ca_file.c_str(), nullptr) != 1) {
      return fail("cannot load the client CA " + o.client_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    // Asked for, not required: probes and Basic-auth senders connect without one; a
    // certificate that is presented must verify.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(TlsOptions options) {
  std::shared_ptr<TlsContext> context(new TlsContext(std::move(options)));
  auto ctx = load(context->options_);
  if (!ctx) return ctx.error();
  context->ctx_ = *ctx;
  context->stamp_ = context->stamp();
  context->checked_ = std::chrono::steady_clock::now();
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string TlsContext::stamp() const {
  std::string out;
  for (const auto* f : {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
    struct stat st {};
    if (!f->empty() && ::stat(f->c_str(), &st) == 0) {
      out +=
          fmt::format("{}.{}.{}.{};", st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino, st.st_size);
    }
  }
  return out;
}

SSL* TlsContext::new_session() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ >= std::chrono::seconds(1)) {
    checked_ = now;
    if (std::string current = stamp(); current != stamp_) {
      stamp_ = std::move(current);
      auto reloaded = load(options_);
      if (reloaded) {
        SSL_CTX_free(ctx_);  // sessions made from it keep their own reference
        ctx_ = *reloaded;
        fmt::print(stderr, "eso-updater serve: TLS certificate reloaded\n");
      } else {
        fmt::print(stderr, "warning: {}; still serving the previous certificate\n",
                   reloaded.error().message);
      }
    }
  }
  return SSL_new(ctx_);
}

TlsTransport::TlsTransport(int fd, std::shared_ptr<TlsContext> context)
    : fd_(fd), context_(std::move(context)) {
  set_non_blocking(fd_);
}

TlsTransport::~TlsTransport() {
  if (ssl_ == nullptr) {
    ::close(fd_);
    return;
  }
  shutdown_tls(ssl_);
  close_tls(fd_, ssl_);
}

Io TlsTransport::start_session() {
  // RFC 8446 §5.1: a record is a 5-byte header (type, version, 16-bit length) and its body, at
  // most 2^14 + 2048 bytes (RFC 5246 §6.2.3). Read until the first one is whole.
  constexpr size_t kHeader = 5;
  constexpr size_t kMaxRecord = kHeader + (1u << 14) + 2048;
  for (;;) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(first_record_.data());
    const bool header = first_record_.size() >= kHeader;
    const size_t whole = header ? kHeader + (size_t{bytes[3]} << 8 | bytes[4]) : kHeader;
    // Not a handshake record, or one too long: a session now, and OpenSSL says why it refuses.
    if (header && (bytes[0] != 0x16 || whole > kMaxRecord || first_record_.size() >= whole)) {
      break;
    }
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, whole - first_record_.size()), 0);
    if (n == 0) return Io::kClosed;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantRead : Io::kError;
    first_record_.append(buf, static_cast<size_t>(n));
  }
  ssl_ = context_->new_session();
  if (ssl_ == nullptr) return Io::kError;
  // The session reads the record already received from memory, then the socket (handshake()).
  BIO* from_memory = BIO_new_mem_buf(first_record_.data(), static_cast<int>(first_record_.size()));
  BIO* to_socket = BIO_new_socket(fd_, BIO_NOCLOSE);
  if (from_memory == nullptr || to_socket == nullptr) {
    BIO_free(from_memory);
    BIO_free(to_socket);
    return Io::kError;
  }
  BIO_set_mem_eof_return(from_memory, -1);  // drained: "retry", not end of stream
  SSL_set_bio(ssl_, from_memory, to_socket);
  reading_first_record_ = true;
  return Io::kOk;
}

void shutdown_tls(SSL* ssl) {
  ERR_clear_error();
  SSL_shutdown(ssl);  // one try at close_notify; a peer that is gone does not matter
  ERR_clear_error();
}

void close_tls(int fd, SSL* ssl) {
  SSL_free(ssl);
  ERR_clear_error();
  if (fd >= 0) ::close(fd);
}

Io TlsTransport::outcome(int rc) const {
  const int err = SSL_get_error(ssl_, rc);
  const int saved = errno;
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ) return Io::kWantRead;
  if (err == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
  if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && saved == 0)) {
    return Io::kClosed;
  }
  return Io::kError;
}

Io TlsTransport::handshake() {
  if (ssl_ == nullptr) {
    if (const Io started = start_session(); started != Io::kOk) return started;
  }
  for (;;) {
    ERR_clear_error();  // SSL_get_error reads the thread's queue: start it empty
    const int rc = SSL_accept(ssl_);
    if (rc == 1) return Io::kOk;
    const Io io = outcome(rc);
    if (io != Io::kWantRead || !reading_first_record_ || BIO_ctrl_pending(SSL_get_rbio(ssl_)) > 0) {
      return io;
    }
    // The first record is consumed: read from the socket from now on.
    BIO* from_socket = BIO_new_socket(fd_, BIO_NOCLOSE);
    if (from_socket == nullptr) return Io::kError;
    SSL_set0_rbio(ssl_, from_socket);
    reading_first_record_ = false;
    first_record_.clear();
    first_record_.shrink_to_fit();
  }
}

Io TlsTransport::read(std::string& into, size_t max) {
  char buf[16384];
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf, static_cast<int>(std::min(sizeof buf, max)));
  if (n <= 0) return outcome(n);
  into.append(buf, static_cast<size_t>(n));
  return Io::kOk;
}

Io TlsTransport::write(std::string_view data, size_t& written) {
  written = 0;
  ERR_clear_error();
  const int n =
      SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
  if (n <= 0) return outcome(n);
  written = static_cast<size_t>(n);
  return Io::kOk;
}

std::string TlsTransport::peer_identity() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  std::string out;
  if (SSL_get_verify_result(ssl_) == X509_V_OK) {
    std::array<char, 512> subject{};
    X509_NAME_oneline(X509_get_subject_name(cert), subject.data(), subject.size());
    out = subject.data();
  }
  X509_free(cert);
  return out;
}

}  // namespace eso::http
