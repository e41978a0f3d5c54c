// unique_function<R(Args...)>: a move-only type-erased callable (std::move_only_function is
// C++23, not in GCC 12), and `task`, the `void()` one: the single callable type of every layer
// (loop posts, timers, deferred work, the thread pool, hub cross-shard tasks and completions).
//
// Unlike std::function it accepts move-only captures (unique_ptr, accepted sockets, promises).
// Callables up to inline_size bytes, pointer-aligned and nothrow-movable, are stored inline, so a
// typical posted task does not allocate. inline_size makes the whole object one cache line
// (64 bytes: 56 of storage and the ops pointer); it is chosen so that a hub delivery (the task
// the owner shard posts to every interested shard on each publish: two pointers, a message_ptr
// and a counter slot, or a pending-ack shared_ptr) fits, which src/hub/hub.cpp static_asserts.
//
// Thread: a unique_function is a plain value; it may be created on one thread, moved through a
// queue and invoked on another, as long as one thread uses it at a time.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sy {

template <typename Signature>
class unique_function;

template <typename R, typename... Args>
class unique_function<R(Args...)> {
  public:
    static constexpr std::size_t inline_size = 56;
    static constexpr std::size_t inline_align = alignof(void*);

    /// True when a callable of type D is stored without allocating.
    template <typename D>
    static constexpr bool fits_inline() {
        return sizeof(D) <= inline_size && alignof(D) <= inline_align &&
               std::is_nothrow_move_constructible_v<D>;
    }

    unique_function() noexcept = default;
    unique_function(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

    template <typename F, typename D = std::decay_t<F>,
              typename = std::enable_if_t<!std::is_same_v<D, unique_function> &&
                                          std::is_invocable_r_v<R, D&, Args...>>>
    unique_function(F&& f) {  // NOLINT(google-explicit-constructor): like std::function
        if constexpr (fits_inline<D>()) {
            ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            D* p = new D(std::forward<F>(f));
            ::new (static_cast<void*>(buf_)) D*(p);
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

    explicit operator bool() const noexcept { return ops_ != nullptr; }

    /// Calls the callable. Calling an empty unique_function is a programming error.
    R operator()(Args... args) { return ops_->call(buf_, std::forward<Args>(args)...); }

    void reset() noexcept {
        if (ops_) {
            ops_->destroy(buf_);
            ops_ = nullptr;
        }
    }

  private:
    struct ops_table {
        R (*call)(void*, Args&&...);
        void (*move)(void* dst, void* src) noexcept;  // dst is raw storage; src is left dead
        void (*destroy)(void*) noexcept;
    };

    template <typename D>
    static constexpr ops_table inline_ops = {
        [](void* p, Args&&... a) -> R {
            return (*std::launder(static_cast<D*>(p)))(std::forward<Args>(a)...);
        },
        [](void* dst, void* src) noexcept {
            D* s = std::launder(static_cast<D*>(src));
            ::new (dst) D(std::move(*s));
            s->~D();
        },
        [](void* p) noexcept { std::launder(static_cast<D*>(p))->~D(); },
    };
    template <typename D>
    static constexpr ops_table heap_ops = {
        [](void* p, Args&&... a) -> R { return (**static_cast<D**>(p))(std::forward<Args>(a)...); },
        [](void* dst, void* src) noexcept { ::new (dst) D*(*static_cast<D**>(src)); },
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };

    void move_from(unique_function& o) noexcept {
        if (!o.ops_) return;
        o.ops_->move(buf_, o.buf_);
        ops_ = o.ops_;
        o.ops_ = nullptr;
    }

    alignas(inline_align) unsigned char buf_[inline_size];
    const ops_table* ops_ = nullptr;
};

/// A unit of work run later, once, on the thread it was handed to (a loop, a timer, a pool).
using task = unique_function<void()>;

static_assert(sizeof(task) == 64, "task is meant to be one cache line");

}  // namespace sy
