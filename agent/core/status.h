// Status and Result<T>: errors as values across module boundaries.
//
// A Status is OK or carries a code and a human-readable message that names what was wrong
// (the field, the file, the operation), and optionally a reason: a stable snake_case word, set by
// the module that made the error, that tells cases of one code apart ("not_finite" vs "bad_time"
// for a rejected payload, "quota" vs "disk_full" for kResourceExhausted). Callers that act on the
// kind of an error read code() and reason(), never the message, which is for people. Result<T>
// holds either a T or a non-OK Status. Both are
// [[nodiscard]]: an ignored error is a compile warning. Values are cheap to move; not thread-safe
// to mutate concurrently (like any value type).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace weir {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: payload, config, flag
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // e.g. another instance holds the lock
  kOutOfRange,          // a value or position outside its allowed range
  kResourceExhausted,   // quota, queue or memory budget reached
  kFailedPrecondition,  // the object is not in a state to do this (e.g. store after fsync failure)
  kUnavailable,         // a peer (broker) cannot be reached right now; retry may succeed
  kDataLoss,            // corruption found; data could not be read
  kIoError,             // an OS or library I/O call failed
  kCancelled,           // shut down while waiting
  kDeadlineExceeded,    // a wait ran out of time
  kInternal,            // a library returned something it should not have
};

// Returns the stable lower-case name of a code, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != StatusCode::kOk || message_.empty());
  }

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The reason word, or "" when the maker gave none.
  std::string_view reason() const { return reason_; }

  // Returns a copy with `reason` set. `reason` must be in static storage (a string literal): the
  // reasons are a closed vocabulary each module documents in its header.
  Status WithReason(std::string_view reason) const {
    Status s = *this;
    s.reason_ = reason;
    return s;
  }

  // "invalid_argument: field 'value': not a number", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("opening log: ...").
  Status WithContext(std::string_view context) const;

  // Marks a deliberately ignored status (e.g. best-effort cleanup on an error path).
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string_view reason_;  // points at static storage (see WithReason)
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-OK Status. Accessing value() of an error is a programming error
// (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weir

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define WEIR_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::weir::Status weir_status_ = (expr);        \
    if (!weir_status_.ok()) return weir_status_; \
  } while (false)

#define WEIR_CONCAT_INNER_(a, b) a##b
#define WEIR_CONCAT_(a, b) WEIR_CONCAT_INNER_(a, b)
// Declares `lhs` from a Result's value, or returns its Status from the enclosing function.
#define WEIR_ASSIGN_OR_RETURN(lhs, expr)                  \
  auto WEIR_CONCAT_(weir_result_, __LINE__) = (expr);     \
  if (!WEIR_CONCAT_(weir_result_, __LINE__).ok())         \
    return WEIR_CONCAT_(weir_result_, __LINE__).status(); \
  lhs = std::move(WEIR_CONCAT_(weir_result_, __LINE__)).value()
