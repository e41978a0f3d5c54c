// thread_pool: worker threads for blocking work (file I/O, DNS, password hashing, store calls).
//
// submit(l, fn, cb): fn() runs on a worker; cb(result) then runs ON LOOP l (posted back), so the
// callback may touch l's connections without locks. The queue is bounded (options::max_queue);
// a full queue is reported as submit_error::queue_full and nothing runs (the caller replies 503
// or similar).
// Contracts: fn must not throw (an escaping exception terminates the process); l must outlive
// every job submitted to it (stop the pool, then the loops). submit is thread-safe.
// If the callback's connection may be closed meanwhile, capture a liveness token, not a raw
// pointer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "switchyard/base/result.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"

namespace sy::core {

enum class submit_error { queue_full, stopped };

class thread_pool {
  public:
    struct options {
        std::size_t threads = 2;
        std::size_t max_queue = 1024;  ///< jobs waiting (not running); beyond it submit fails
        std::string name = "sy-pool";
    };

    explicit thread_pool(options o);
    ~thread_pool();  ///< stop(): runs the queued jobs, then joins
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    /// Runs fn() on a worker, then posts cb(std::move(value)) (or cb() if fn returns void) to l.
    template <typename Fn, typename Cb>
    result<void, submit_error> submit(loop& l, Fn fn, Cb cb) {
        return enqueue([&l, fn = std::move(fn), cb = std::move(cb)]() mutable {
            if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
                fn();
                l.post([cb = std::move(cb)]() mutable { cb(); });
            } else {
                l.post([cb = std::move(cb), v = fn()]() mutable { cb(std::move(v)); });
            }
        });
    }
    /// Same, posting back to loop::current() (must be called on a loop thread).
    template <typename Fn, typename Cb>
    result<void, submit_error> submit(Fn fn, Cb cb) {
        return submit(*loop::current(), std::move(fn), std::move(cb));
    }
    /// Fire and forget.
    result<void, submit_error> execute(task t) { return enqueue(std::move(t)); }

    /// Stops accepting, finishes queued jobs, joins. Idempotent.
    void stop();
    std::size_t queued() const;
    std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
    std::uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }

  private:
    result<void, submit_error> enqueue(task t);
    void worker();

    options opts_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<task> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::uint64_t> completed_{0};
};

}  // namespace sy::core
