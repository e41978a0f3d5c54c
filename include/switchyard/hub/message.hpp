// Messages as the hub hands them to subscribers.
//
// message: immutable once published, shared by reference count across shards (message_ptr).
// delivery: one message as seen by one shard during one dispatch, with a small per-protocol cache
//   so the payload is framed once per protocol per shard and every subscriber of that protocol
//   queues the same shared_bytes.
// subscriber: the interface a session implements.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "switchyard/base/buffer.hpp"

namespace sy::hub {

struct topic_policy;

enum class message_kind : std::uint8_t {
    data,  // a published message
    gap,   // messages gap_from..gap_to (inclusive) were lost: history no longer reaches back
};

struct message {
    std::string topic;
    /// data: the topic's monotonic id (1, 2, ...). gap: gap_to (the last lost id), so that
    /// "last id seen" bookkeeping works the same for both kinds.
    std::uint64_t id = 0;
    /// The epoch of id in the topic's log (hub/topic_log.hpp): 0 for the local log.
    std::uint64_t epoch = 0;
    std::int64_t time_ms = 0;  // wall clock at the owner when the id was assigned
    std::string content_type;
    sy::shared_bytes payload;
    /// The payload is valid UTF-8 (sy::is_valid_utf8). Decided once, when the hub makes the
    /// message, so the framers of every loop (WebSocket text or binary, JSON string or base64)
    /// read a flag instead of scanning the payload again. Whoever builds a message by hand sets
    /// it the same way.
    bool utf8 = false;
    message_kind kind = message_kind::data;
    std::uint64_t gap_from = 0;  // gap only
    std::uint64_t gap_to = 0;    // gap only; the first available id is gap_to + 1
    /// The resolved policy of the topic (slow-subscriber policy, output cap); never null for
    /// messages made by the hub. Points into the hub's settings, valid for the hub's lifetime.
    const topic_policy* policy = nullptr;

    bool is_gap() const { return kind == message_kind::gap; }
    std::uint64_t lost_count() const { return is_gap() ? gap_to - gap_from + 1 : 0; }
};

using message_ptr = std::shared_ptr<const message>;

/// Protocol slots for the framing cache; the server assigns one per protocol (ws text, sse, ...).
inline constexpr unsigned max_protocol_slots = 8;

/// Lifetime: valid only during the on_message call that receives it; keep message_ptr() or the
/// framed shared_bytes (both refcounted) to hold on to the content. Thread: the receiving shard.
class delivery {
  public:
    explicit delivery(message_ptr m) : msg_(std::move(m)) {}
    delivery(const delivery&) = delete;
    delivery& operator=(const delivery&) = delete;

    const message& msg() const { return *msg_; }
    const message_ptr& message_ptr_ref() const { return msg_; }

    /// The message framed for protocol `slot` (< max_protocol_slots). The first caller's
    /// encode(const message&) -> sy::shared_bytes builds it; later callers on this delivery get
    /// the same bytes. Different encoders must not share a slot.
    template <typename Encode>
    const sy::shared_bytes& framed(unsigned slot, Encode&& encode) const {
        sy::shared_bytes& b = cache_[slot];
        if (!b) b = std::forward<Encode>(encode)(*msg_);
        return b;
    }
    /// How many slots are filled (for tests and metrics).
    unsigned framed_count() const {
        unsigned n = 0;
        for (const auto& b : cache_) n += b ? 1 : 0;
        return n;
    }

  private:
    message_ptr msg_;
    mutable std::array<sy::shared_bytes, max_protocol_slots> cache_;
};

/// How a subscriber's messages leave the server, as far as the session tells the hub (a label
/// for introspection: hub::hub_shard::list_topics counts subscribers by it; routing ignores it).
enum class subscriber_transport : std::uint8_t { other, websocket, sse, grpc, long_poll, amqp };
inline constexpr std::size_t subscriber_transport_count = 6;
/// "websocket", "sse", "grpc", "long_poll", "amqp", "other".
std::string_view to_string(subscriber_transport t);

/// Implemented by sessions. Called on the shard that subscribed, never concurrently.
/// on_message may unsubscribe (this or any subscription) and may publish; a subscriber must stay
/// alive until it is unsubscribed.
class subscriber {
  public:
    virtual ~subscriber() = default;
    virtual void on_message(const delivery& d) = 0;
    /// The transport label (introspection only). A long-poll waiter without a subscriber object
    /// counts as long_poll.
    virtual subscriber_transport transport() const { return subscriber_transport::other; }
};

}  // namespace sy::hub
