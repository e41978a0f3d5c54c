// task: a move-only `void()` callable with small-buffer storage.
//
// Used for everything the loop runs later: posted tasks, timer callbacks, deferred work. Unlike
// std::function it accepts move-only captures (unique_ptr, accepted sockets, promises), and
// callables up to inline_size bytes that are nothrow-movable are stored without allocation.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sy::core {

class task {
  public:
    static constexpr std::size_t inline_size = 48;

    task() noexcept = default;
    task(std::nullptr_t) noexcept {}

    template <typename F, typename D = std::decay_t<F>,
              typename = std::enable_if_t<!std::is_same_v<D, task> && std::is_invocable_v<D&>>>
    task(F&& f) {  // NOLINT: implicit on purpose, like std::function
        if constexpr (fits_inline<D>()) {
            ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            D* p = new D(std::forward<F>(f));
            ::new (static_cast<void*>(buf_)) D*(p);
            ops_ = &heap_ops<D>;
        }
    }

    task(task&& o) noexcept : ops_(o.ops_) {
        if (ops_) {
            ops_->move(buf_, o.buf_);
            o.ops_ = nullptr;
        }
    }
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            reset();
            if (o.ops_) {
                o.ops_->move(buf_, o.buf_);
                ops_ = o.ops_;
                o.ops_ = nullptr;
            }
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// Calls the callable. Calling an empty task is a programming error.
    void operator()() { ops_->call(buf_); }
    explicit operator bool() const noexcept { return ops_ != nullptr; }
    void reset() noexcept {
        if (ops_) {
            ops_->destroy(buf_);
            ops_ = nullptr;
        }
    }

  private:
    struct ops {
        void (*call)(void*);
        void (*move)(void* dst, void* src) noexcept;
        void (*destroy)(void*) noexcept;
    };

    template <typename D>
    static constexpr bool fits_inline() {
        return sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
               std::is_nothrow_move_constructible_v<D>;
    }

    template <typename D>
    static constexpr ops inline_ops = {
        [](void* p) { (*static_cast<D*>(p))(); },
        [](void* dst, void* src) noexcept {
            ::new (dst) D(std::move(*static_cast<D*>(src)));
            static_cast<D*>(src)->~D();
        },
        [](void* p) noexcept { static_cast<D*>(p)->~D(); },
    };
    template <typename D>
    static constexpr ops heap_ops = {
        [](void* p) { (**static_cast<D**>(p))(); },
        [](void* dst, void* src) noexcept { ::new (dst) D*(*static_cast<D**>(src)); },
        [](void* p) noexcept { delete *static_cast<D**>(p); },
    };

    alignas(std::max_align_t) unsigned char buf_[inline_size];
    const ops* ops_ = nullptr;
};

}  // namespace sy::core
