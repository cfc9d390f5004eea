#pragma once

// Result<T, Code> carries either a value or a stable error code with a
// human-readable detail. It is the only way fallible operations report
// failure across library boundaries (no exceptions cross them).

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace trustgate::base {

// Error is a stable code plus a one-line detail that says what to fix.
template <typename Code>
struct Error {
  Code code;
  std::string detail;
};

// MakeError builds an Error; `Result<T, Code> r = MakeError(Code::kX, "...")`.
template <typename Code>
Error<Code> MakeError(Code code, std::string detail = {}) {
  return Error<Code>{code, std::move(detail)};
}

// Result holds a T or an Error<Code>. Accessing value() on an error, or
// error() on a value, is a programming bug (asserted).
template <typename T, typename Code>
class [[nodiscard]] Result {
 public:
  using ValueType = T;
  using CodeType = Code;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error<Code> error)                                          // NOLINT
      : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error<Code>& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error<Code>&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }
  Code code() const { return error().code; }
  const std::string& detail() const { return error().detail; }

 private:
  std::variant<T, Error<Code>> v_;
};

// Ok is the value of a Status that succeeded.
struct Ok {};

// Status is a Result with no value.
template <typename Code>
using Status = Result<Ok, Code>;

}  // namespace trustgate::base

// TG_ASSIGN_OR_RETURN(lhs, expr): evaluates a Result; on error returns its
// Error from the enclosing function (whose return type must accept it).
#define TG_CONCAT_INNER_(a, b) a##b
#define TG_CONCAT_(a, b) TG_CONCAT_INNER_(a, b)
#define TG_ASSIGN_OR_RETURN(lhs, expr)                          \
  auto TG_CONCAT_(tg_result_, __LINE__) = (expr);               \
  if (!TG_CONCAT_(tg_result_, __LINE__).ok()) {                 \
    return std::move(TG_CONCAT_(tg_result_, __LINE__)).error(); \
  }                                                             \
  lhs = std::move(TG_CONCAT_(tg_result_, __LINE__)).value()
#define TG_RETURN_IF_ERROR(expr)            \
  do {                                      \
    auto tg_status_ = (expr);               \
    if (!tg_status_.ok()) {                 \
      return std::move(tg_status_).error(); \
    }                                       \
  } while (0)
