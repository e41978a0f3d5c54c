// result<T, E>: a small value-or-error type shaped like C++23 std::expected (not available in
// GCC 12). Hot paths return it instead of throwing; exceptions are for start-up and config load.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace sy {

/// Wraps an error value so that `result<T, E> r = unexpected(e);` is unambiguous.
template <typename E>
class unexpected {
  public:
    explicit constexpr unexpected(E e) : error_(std::move(e)) {}
    constexpr const E& error() const& { return error_; }
    constexpr E&& error() && { return std::move(error_); }

  private:
    E error_;
};

template <typename E>
unexpected(E) -> unexpected<E>;

/// Either a T (success) or an E (failure). Accessing the wrong side is a programming error
/// (asserted in debug builds).
template <typename T, typename E>
class [[nodiscard]] result {
  public:
    using value_type = T;
    using error_type = E;

    template <typename U = T, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                          !std::is_same_v<std::decay_t<U>, result>>>
    constexpr result(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}
    template <typename G>
    constexpr result(unexpected<G> e) : v_(std::in_place_index<1>, std::move(e).error()) {}

    constexpr bool has_value() const { return v_.index() == 0; }
    constexpr explicit operator bool() const { return has_value(); }

    constexpr T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    constexpr const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    constexpr T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    constexpr T& operator*() & { return value(); }
    constexpr const T& operator*() const& { return value(); }
    constexpr T* operator->() { return &value(); }
    constexpr const T* operator->() const { return &value(); }

    constexpr const E& error() const {
        assert(!has_value());
        return std::get<1>(v_);
    }

    template <typename U>
    constexpr T value_or(U&& alt) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(alt));
    }

  private:
    std::variant<T, E> v_;
};

/// result<void, E>: success carries nothing.
template <typename E>
class [[nodiscard]] result<void, E> {
  public:
    constexpr result() = default;
    template <typename G>
    constexpr result(unexpected<G> e) : ok_(false), e_(std::move(e).error()) {}

    constexpr bool has_value() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr const E& error() const {
        assert(!ok_);
        return e_;
    }

  private:
    bool ok_ = true;
    E e_{};
};

}  // namespace sy
