#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace eso {

/// What kind of failure an Error is; callers map it to exit codes and HTTP statuses.
enum class ErrorCode {
  kInvalidArgument,  ///< bad input from the user or a file
  kMalformed,        ///< input that does not parse at all (e.g. not JSON), as opposed to unusable
  kConfig,           ///< kubeconfig or environment cannot be used
  kUnreachable,      ///< network failure talking to a server (worth retrying)
  kTlsVerification,  ///< the server certificate does not verify (not worth retrying)
  kUnauthorized,     ///< 401: credentials missing, expired or wrong
  kForbidden,        ///< 403: RBAC denies the request
  kNotFound,         ///< 404
  kConflict,         ///< 409
  kGone,             ///< 410: expired continue token or resourceVersion
  kTooManyRequests,  ///< 429
  kServer,           ///< 5xx or a response we cannot understand
  kInternal,         ///< a bug in eso-updater
};

/// A failure with a message that says what failed, with what, and what to do next.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

/// A value or an Error. GCC 12 has no std::expected; this is the small subset we need.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing on success.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace eso
