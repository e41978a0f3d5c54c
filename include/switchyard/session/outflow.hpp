// outflow_guard: applies the hub's slow-subscriber policy to one subscriber's connection.
//
// The hub decides WHICH policy and cap a topic has (hub::topic_policy, carried by each message);
// the session owns the connection and so the queue, and asks this guard before queuing each
// message. With `queued` = the connection's queued output bytes before the message:
//   queued <  cap: send. If messages were skipped before (drop-oldest), a gap goes out first.
//   queued >= cap: drop-oldest     -> skip this message, remember the range for the gap event
//                                     (counted with hub_shard::count_drop)
//                  disconnect      -> the session closes (WS 1008 / SSE stream ends)
//                                     (counted with hub_shard::count_disconnect)
//                  block-publisher -> send anyway (the cap is soft by what is in flight) and
//                                     mark the subscription over cap for the message's topic:
//                                     POST /pub to it answers 503 until the queue drains.
// "Drop-oldest" skips the NEW messages while over the cap: what is already queued is older but
// partly in the kernel and the middle of a frame, so it cannot be taken back; the subscriber sees
// the same thing (the oldest messages it has not received are gone, then a gap, then new ones).
// Draining: while over (marks or a pending gap) the session calls recheck() from a short timer;
// below half the cap the marks are cleared and the pending gap is handed out.
//
// Thread: the subscriber's loop only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/core/counter.hpp"
#include "switchyard/hub/hub.hpp"

namespace sy::session {

/// Per-loop counters of the push sessions (summed by /metrics).
struct push_counters {
    core::counter ws_sessions;   ///< WebSocket sessions opened
    core::counter sse_sessions;  ///< SSE streams opened
    core::counter ws_closed;     ///< open now = ws_sessions - ws_closed
    core::counter sse_closed;
    core::counter deliveries;   ///< hub messages queued to WS/SSE subscribers
    core::counter gaps_sent;    ///< gap events sent (resume past history, drop-oldest)
    core::counter drops;        ///< messages skipped by drop-oldest
    core::counter disconnects;  ///< subscribers closed by the disconnect policy
    core::counter over_cap;     ///< block-publisher over-cap transitions
    core::counter ws_messages_in;
    core::counter ws_protocol_errors;
};

struct pending_gap {
    std::string topic;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    std::uint64_t lost = 0;
};

class outflow_guard {
  public:
    enum class verdict : std::uint8_t { send, skip, disconnect };

    outflow_guard(hub::hub_shard& shard, push_counters* counters)
        : shard_(&shard), counters_(counters) {}

    /// Decides for message m (see the file comment). sub: the subscription id (block marks).
    verdict check(const hub::message& m, std::size_t queued, hub::subscription_id sub);
    /// A gap to send before the next message, if any (taken: the guard forgets it).
    std::optional<pending_gap> take_gap();
    bool has_gap() const { return gap_.has_value(); }
    /// True while something waits for the queue to drain (marks or a gap).
    bool waiting() const { return gap_.has_value() || !marked_.empty(); }
    /// Queue drained to `queued`: clears marks below half the cap. Returns true when a pending
    /// gap may now be sent (queued below half the cap).
    bool recheck(std::size_t queued, hub::subscription_id sub);

  private:
    hub::hub_shard* shard_;
    push_counters* counters_;
    std::optional<pending_gap> gap_;
    std::vector<std::string> marked_;  // topics marked over cap (block-publisher)
    std::uint64_t cap_ = 0;            // the cap of the last message checked
};

}  // namespace sy::session
