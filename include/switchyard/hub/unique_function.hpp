// unique_function<R(Args...)>: a move-only type-erased callable (std::move_only_function is
// C++23, not in GCC 12). Small callables (up to 48 bytes, nothrow-movable) are stored inline so
// posting a typical cross-shard task (a few pointers and a shared_ptr) does not allocate.
//
// Thread: a unique_function is a plain value; it may be created on one thread, moved through a
// queue and invoked on another, as long as one thread uses it at a time.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sy::hub {

template <typename Signature>
class unique_function;

template <typename R, typename... Args>
class unique_function<R(Args...)> {
  public:
    static constexpr std::size_t inline_size = 48;

    unique_function() = default;
    unique_function(std::nullptr_t) {}

    template <typename F, typename D = std::decay_t<F>,
              typename = std::enable_if_t<!std::is_same_v<D, unique_function> &&
                                          std::is_invocable_r_v<R, D&, Args...>>>
    unique_function(F&& f) {  // NOLINT(google-explicit-constructor): like std::function
        if constexpr (fits_inline<D>()) {
            ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            heap_ = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }

    unique_function(unique_function&& o) noexcept { move_from(o); }
    unique_function& operator=(unique_function&& o) noexcept {
        if (this != &o) {
            reset();
            move_from(o);
        }
        return *this;
    }
    unique_function(const unique_function&) = delete;
    unique_function& operator=(const unique_function&) = delete;
    ~unique_function() { reset(); }

    explicit operator bool() const { return ops_ != nullptr; }

    R operator()(Args... args) { return ops_->call(target(), std::forward<Args>(args)...); }

    void reset() {
        if (ops_) ops_->destroy(*this);
        ops_ = nullptr;
    }

  private:
    struct ops_table {
        R (*call)(void*, Args&&...);
        void (*move)(unique_function& to, unique_function& from);  // to is empty
        void (*destroy)(unique_function&);
        bool is_inline;
    };

    template <typename D>
    static constexpr bool fits_inline() {
        return sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
               std::is_nothrow_move_constructible_v<D>;
    }

    template <typename D>
    static constexpr ops_table inline_ops = {
        [](void* p, Args&&... a) -> R { return (*static_cast<D*>(p))(std::forward<Args>(a)...); },
        [](unique_function& to, unique_function& from) {
            D* src = std::launder(reinterpret_cast<D*>(from.storage_));
            ::new (static_cast<void*>(to.storage_)) D(std::move(*src));
            src->~D();
        },
        [](unique_function& f) { std::launder(reinterpret_cast<D*>(f.storage_))->~D(); },
        true,
    };
    template <typename D>
    static constexpr ops_table heap_ops = {
        [](void* p, Args&&... a) -> R { return (*static_cast<D*>(p))(std::forward<Args>(a)...); },
        [](unique_function& to, unique_function& from) { to.heap_ = from.heap_; },
        [](unique_function& f) { delete static_cast<D*>(f.heap_); },
        false,
    };

    void* target() { return ops_->is_inline ? static_cast<void*>(storage_) : heap_; }

    void move_from(unique_function& o) noexcept {
        if (!o.ops_) return;
        o.ops_->move(*this, o);
        ops_ = o.ops_;
        o.ops_ = nullptr;
    }

    const ops_table* ops_ = nullptr;
    union {
        alignas(std::max_align_t) unsigned char storage_[inline_size];
        void* heap_;
    };
};

/// A unit of work posted to a shard. It runs once, on that shard's thread.
using task = unique_function<void()>;

}  // namespace sy::hub
