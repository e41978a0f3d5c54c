// write_coalescing: when a connection that carries a stream of small messages (push fan-out:
// WebSocket frames, SSE events) writes what it has queued.
//
// A connection normally writes its queue once per loop turn. At a high fan-out that is one
// syscall per delivery: a loop turn that handles one publish queues one frame on each of
// thousands of connections and writes each of them, and the next publish comes in the next turn.
// A send() costs about as much as eight frames sent together, so a busy connection is better
// off holding its queue briefly and writing several frames in one writev.
//
// The policy (write_coalescer), adaptive and bounded:
//   - quiet: nothing is held when the loop slept (a poller wait of at least the loop's idle
//     mark, core::loop::idle_at_ns()) since this connection's last write. A lone message, or
//     any message at a rate the loop keeps up with, goes out at the end of its turn as before.
//   - busy: output queued while the loop has been working without such a sleep since this
//     connection's last write is held until delay after the first held byte was queued
//     (push.write_delay_us), so the messages of the next turns join it in one write.
//   - caps: a held queue is written at the end of the turn in which it reaches max_frames
//     queued segments (push.max_coalesce_frames) or max_bytes (push.max_coalesce_bytes).
//   - delay 0 turns coalescing off (every turn writes, as without it).
// Nothing is allocated per message: the state is three integers in the connection; held frames
// stay in the connection's output queue (shared bytes, gathered by the one writev).
//
// Times are the loop's monotonic nanoseconds (core::loop::now_ns()). Not thread-safe (one loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace sy::net {

/// Server-lifetime settings (connection_options::coalesce).
struct coalesce_limits {
    std::int64_t delay_ns = 0;         ///< the longest a busy connection holds output; 0: off
    std::size_t max_frames = 16;       ///< write once this many segments are queued
    std::size_t max_bytes = 64 << 10;  ///< write once this many bytes are queued
};

class write_coalescer {
  public:
    static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();

    /// Output was queued at now; the queue now holds frames segments and bytes bytes; idle_at:
    /// when the loop last woke from an idle sleep. Returns when the queue is due: <= now means
    /// "write at the end of this turn", later means "hold until then" (the caller arms a timer).
    std::int64_t on_queued(const coalesce_limits& l, std::int64_t now, std::int64_t idle_at,
                           std::size_t frames, std::size_t bytes) {
        if (due_ == 0) {
            const bool busy = l.delay_ns > 0 && last_write_ >= idle_at;
            due_ = busy ? now + l.delay_ns : now;
        }
        if (frames >= l.max_frames || bytes >= l.max_bytes) due_ = now;
        return due_;
    }
    /// True while queued output is held past now.
    bool holding(std::int64_t now) const { return due_ > now; }
    /// When the held output is due; 0: nothing queued since the last write.
    std::int64_t due() const { return due_; }
    /// The hold ends now (its timer fired, or the caller flushes explicitly).
    void release(std::int64_t now) {
        if (due_ > now) due_ = now;
    }
    /// A write reached the kernel at now: the next queued byte starts a new decision.
    void on_written(std::int64_t now) {
        last_write_ = now;
        due_ = 0;
    }

  private:
    std::int64_t last_write_ = never;
    std::int64_t due_ = 0;
};

}  // namespace sy::net
