// timer_queue: one-shot timers in a 4-ary min-heap with stable ids.
//
// add O(log n), cancel O(log n), reschedule O(log n), next_deadline O(1). Equal deadlines fire in
// insertion order. Ids carry a generation, so cancelling an id whose timer already fired (or was
// cancelled) is a harmless no-op returning false.
// Deadlines are absolute nanoseconds on the monotonic clock (sy::now_ns()).
//
// For idle timeouts do not rearm on every read: record the activity time and, when the timer fires,
// rearm it for the remainder (the lazy pattern net::connection uses). Arming stays off the read
// path.
//
// Not thread-safe: owned by one loop (see loop.hpp).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "switchyard/base/unique_function.hpp"

namespace sy::core {

struct timer_id {
    std::uint32_t slot = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t gen = 0;
    bool valid() const { return slot != std::numeric_limits<std::uint32_t>::max(); }
    friend bool operator==(timer_id, timer_id) = default;
};

class timer_queue {
  public:
    static constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();

    timer_id add(std::int64_t deadline_ns, task cb);
    /// Removes the timer; false if it already fired or was cancelled.
    bool cancel(timer_id id);
    /// Moves a pending timer to a new deadline (earlier or later); false if not pending.
    bool reschedule(timer_id id, std::int64_t deadline_ns);
    bool pending(timer_id id) const;
    /// Deadline of a pending timer, no_deadline otherwise.
    std::int64_t deadline_of(timer_id id) const;

    std::int64_t next_deadline() const;
    std::size_t size() const { return heap_.size(); }
    bool empty() const { return heap_.empty(); }

    /// Pops the earliest timer if its deadline <= now: its callback goes to out, its deadline to
    /// deadline_out. The id is dead from here on (the callback may add new timers).
    bool pop_expired(std::int64_t now_ns, task& out, std::int64_t& deadline_out);

  private:
    struct slot {
        std::int64_t deadline = 0;
        std::uint64_t seq = 0;
        task cb;
        std::uint32_t heap_pos = 0;
        std::uint32_t gen = 0;
        bool live = false;
    };
    bool less(std::uint32_t a, std::uint32_t b) const;
    void place(std::uint32_t pos, std::uint32_t s);
    void sift_up(std::uint32_t pos);
    void sift_down(std::uint32_t pos);
    void remove_at(std::uint32_t pos);
    void free_slot(std::uint32_t s);
    const slot* find(timer_id id) const;

    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> heap_;  // slot indices
    std::uint64_t seq_ = 0;
};

}  // namespace sy::core
