// loop: one event loop per thread (the reactor).
//
// THREAD CONTRACT
//   * post(task) is the ONLY member that may be called from any thread. Everything else
//     (timers, hooks, defer, poller, run/run_once, stop) is for the loop's own thread, or for
//     any thread before run() starts. To stop a loop from another thread: post([&l] { l.stop(); }).
//   * Tasks posted run on the loop thread, in the order they were posted by each producer
//     (FIFO per producer), and none is lost: a task posted before the loop is destroyed either runs
//     or is destroyed (its captures released) by ~loop.
//
// ONE TURN (run() repeats it until stop()):
//   1. before-sleep hooks run (connections flush coalesced output here: one writev per turn),
//      then deferred work runs (handlers closed during the turn are freed here), repeated until
//      both are empty;
//   2. wait for I/O (timeout = next timer, 0 if work is pending);
//   3. dispatch the ready batch (io_handler::on_io), then expired timers, then posted tasks
//      (at most options::max_tasks_per_turn per turn, the rest next turn).
// DEFERRED CLOSE: an io_handler closed during step 3 removes its fd and asks
// defer()/destroy_later() to free it; the free runs in step 1 of the next pass, after the whole
// batch, so an event for it still sitting later in the same batch touches live (closed) memory,
// never freed memory. Handlers therefore ignore events once closed.
//
// Timers are one-shot, millisecond resolution against a per-turn cached monotonic clock.
//
// SLOTS: per-loop service state (a server's loop_state, a service's counters) lives in typed
// slots of the loop, found from the loop itself (loop::current()->slot<T>()), so no service keeps
// a global table indexed by loop or a thread-local of its own. One slot per type per loop.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/mpsc_queue.hpp"
#include "switchyard/core/poller.hpp"
#include "switchyard/core/timer_queue.hpp"

namespace sy::core {

class loop;

/// Intrusive "run me once before the loop sleeps" node (no allocation per use). A connection
/// inherits it and calls loop::schedule_before_sleep(*this) whenever it queues output; scheduling
/// twice in one turn runs it once. The object must stay alive until it ran (the loop's ordering
/// runs hooks before deferred frees, so a connection freed via destroy_later is safe as long as
/// it does not schedule itself after closing).
class before_sleep_hook {
  public:
    virtual void before_sleep() = 0;
    bool before_sleep_scheduled() const { return hook_scheduled_; }

  protected:
    virtual ~before_sleep_hook() = default;  // virtual only because loop is a friend

  private:
    friend class loop;
    before_sleep_hook* hook_next_ = nullptr;
    bool hook_scheduled_ = false;
};

/// Loop-owned counters (written by the loop thread, readable anywhere).
struct loop_stats {
    counter turns;
    counter io_events;
    counter tasks_run;
    counter posts_woken;  ///< eventfd wakeups consumed
    counter timers_fired;
    counter timer_lag_sum_ns;  ///< sum over fired timers of (fire time - deadline)
    counter timer_lag_max_ns;  ///< maximum since start (reset_lag_max() to window it)
    counter timer_lag_last_ns;
    counter turn_busy_max_ns;  ///< longest turn spent working (excluding the wait)
    counter busy_ns;           ///< total time spent working
};

namespace detail {
unsigned next_slot_id();
/// A process-wide small integer per type, assigned on first use (thread-safe static init).
template <typename T>
unsigned slot_id() {
    static const unsigned id = next_slot_id();
    return id;
}
}  // namespace detail

class loop {
  public:
    struct options {
        unsigned max_events = 256;           ///< ready events dispatched per turn
        unsigned max_tasks_per_turn = 4096;  ///< posted tasks run per turn before yielding to I/O
        poller_kind poller = poller_kind::epoll;
    };

    loop();
    explicit loop(options o);
    ~loop();
    loop(const loop&) = delete;
    loop& operator=(const loop&) = delete;

    /// Runs turns until stop(). Binds the loop to the calling thread.
    void run();
    /// One turn waiting at most max_wait_ms (-1 = until an event/timer/post). For tests and for
    /// embedding. Returns false once stop() was called.
    bool run_once(int max_wait_ms = -1);
    /// Ends run() after the current turn. Loop thread only (from elsewhere: post a task that calls
    /// it).
    void stop() { stopping_ = true; }
    bool stopping() const { return stopping_; }

    /// THREAD-SAFE. Queues t to run on the loop thread; wakes the loop (eventfd) if it may sleep.
    void post(task t);

    // ---- timers (loop thread) ----
    timer_id add_timer(millis delay, task cb);
    timer_id add_timer_at(std::int64_t deadline_ns, task cb);
    /// false if the timer already fired or was cancelled (then nothing happens).
    bool cancel_timer(timer_id id) { return timers_.cancel(id); }
    bool reschedule_timer(timer_id id, millis delay);
    bool reschedule_timer_at(timer_id id, std::int64_t deadline_ns) {
        return timers_.reschedule(id, deadline_ns);
    }
    bool timer_pending(timer_id id) const { return timers_.pending(id); }
    std::size_t timer_count() const { return timers_.size(); }

    // ---- per-turn work (loop thread) ----
    void schedule_before_sleep(before_sleep_hook& h);
    /// Persistent hook run every turn before sleeping; returns an id for remove_before_sleep.
    std::uint64_t add_before_sleep(std::function<void()> fn);
    void remove_before_sleep(std::uint64_t id);
    /// Runs t after the current dispatch batch (before the next wait).
    void defer(task t) { deferred_.push_back(std::move(t)); }
    /// Frees p after the current dispatch batch (deferred close).
    template <typename T>
    void destroy_later(std::unique_ptr<T> p) {
        if (p) defer([q = p.release()] { delete q; });
    }

    poller& io() { return *poller_; }
    /// Monotonic time cached at the start of the turn's dispatch (cheap; use for timeouts).
    std::int64_t now_ns() const { return now_ns_; }
    std::int64_t now_ms() const { return now_ns_ / 1'000'000; }
    /// Re-reads the clock (after a long computation).
    void update_time() { now_ns_ = sy::now_ns(); }
    /// When the loop last woke from a poller wait that blocked at least the idle mark
    /// (0 before the first): work queued after it, with no such sleep since, finds a busy loop.
    std::int64_t idle_at_ns() const { return idle_at_ns_; }
    /// A poller wait that blocked at least ns means the loop had nothing to do: it sets
    /// idle_at_ns() (what write coalescing calls quiet, net/write_coalescing.hpp). Default 1 ms.
    /// Loop thread, or before run().
    void set_idle_mark_ns(std::int64_t ns) { idle_mark_ns_ = ns; }

    bool in_loop_thread() const { return owner_ == std::this_thread::get_id(); }
    /// The loop running on this thread, or nullptr.
    static loop* current();
    const loop_stats& stats() const { return stats_; }
    loop_stats& mutable_stats() { return stats_; }
    /// Loop thread: restarts the max-lag window (a metrics scrape calls it after reading).
    void reset_lag_max() { stats_.timer_lag_max_ns.set(0); }

    // ---- typed slots (see SLOTS above) ----
    static constexpr unsigned max_slots = 16;
    /// The T stored on this loop, or nullptr. Any thread (a scrape reads other loops' counters);
    /// the T itself decides what is safe to read from elsewhere.
    template <typename T>
    T* slot() const {
        const unsigned id = detail::slot_id<T>();
        return id < max_slots ? static_cast<T*>(slots_[id].ptr.load(std::memory_order_acquire))
                              : nullptr;
    }
    /// Loop thread, or any thread before run(): stores p without owning it (p outlives the loop's
    /// use of it). Replaces what was there (a slot owned by the loop is destroyed).
    template <typename T>
    void set_slot(T* p) {
        put_slot(detail::slot_id<T>(), p, nullptr);
    }
    /// Loop thread, or any thread before run(): the loop owns a new T (destroyed by ~loop, after
    /// the last deferred free) and returns it; an existing slot of type T is kept and returned.
    template <typename T, typename... Args>
    T& emplace_slot(Args&&... args) {
        if (T* p = slot<T>()) return *p;
        T* p = new T(std::forward<Args>(args)...);
        put_slot(detail::slot_id<T>(), p, [](void* q) { delete static_cast<T*>(q); });
        return *p;
    }

  private:
    struct slot_entry {
        std::atomic<void*> ptr{nullptr};
        void (*destroy)(void*) = nullptr;
        slot_entry() = default;
        slot_entry(const slot_entry&) = delete;
        slot_entry& operator=(const slot_entry&) = delete;
        ~slot_entry() {
            if (destroy) destroy(ptr.load(std::memory_order_acquire));
        }
    };
    /// Aborts past max_slots: a fixed array keeps slot() lock-free and never reallocated.
    void put_slot(unsigned id, void* p, void (*destroy)(void*));

    class wakeup;
    void bind_thread();
    int compute_timeout(int max_wait_ms) const;
    void run_pre_sleep();
    void dispatch_io(int n);
    void run_timers();
    void run_posted();

    // First member, so destroyed last: what the poller, timers and unrun tasks release on
    // destruction may still touch a slot (a session's destructor counts itself closed).
    std::array<slot_entry, max_slots> slots_;
    options opts_;
    std::unique_ptr<poller> poller_;
    std::unique_ptr<wakeup> wakeup_;
    std::vector<poll_event> events_;
    timer_queue timers_;
    task_mailbox mailbox_;
    std::atomic<bool> wake_pending_{false};
    bool posted_backlog_ = false;
    bool stopping_ = false;
    std::int64_t now_ns_ = 0;
    std::int64_t idle_at_ns_ = 0;
    std::int64_t idle_mark_ns_ = 1'000'000;
    std::int64_t turn_end_ns_ = 0;  // when the previous turn ended (its wait started after)
    before_sleep_hook* hooks_head_ = nullptr;
    before_sleep_hook* hooks_tail_ = nullptr;
    std::vector<task> deferred_;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> persistent_hooks_;
    std::uint64_t next_hook_id_ = 1;
    std::thread::id owner_;
    loop_stats stats_;
};

}  // namespace sy::core
