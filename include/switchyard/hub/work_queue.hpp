// work_queue: a competing-consumers queue with acknowledgements, the model behind the jobs API
// and (later) AMQP queues. Each message goes to one consumer at a time; it leaves the queue on
// ack, goes back (flagged redelivered) on nack-with-requeue, on visibility timeout or when its
// consumer goes away, and is handed to the dead-letter callback when rejected, expired, pushed
// out by overflow, or delivered too many times.
//
// Time: no timers inside. Every mutating call takes now_ms (a monotonic clock), and tick(now_ms)
// applies TTLs and visibility timeouts; the owner calls it periodically (e.g. every 100 ms).
// Thread: not thread-safe; one queue belongs to one shard. Callbacks (work_consumer::on_deliver,
// dead_letter) run synchronously inside the call that caused them and may call back into the
// queue (ack inside on_deliver is fine); the queue is re-entrancy safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/result.hpp"

namespace sy::hub {

enum class overflow_policy : std::uint8_t {
    drop_head,       // the oldest ready message is dead-lettered to make room
    reject_publish,  // enqueue fails with work_error::full
};

enum class dead_letter_reason : std::uint8_t {
    rejected,        // nack without requeue
    expired,         // TTL reached while ready
    max_length,      // dropped by drop_head overflow
    delivery_limit,  // delivered max_deliveries times without an ack
};
std::string_view to_string(dead_letter_reason r);

enum class work_error : std::uint8_t {
    full,         // reject_publish overflow
    unknown_tag,  // already acked/nacked, or requeued after a timeout (a stale lease)
    unknown_consumer,
};
std::string_view to_string(work_error e);

struct work_queue_settings {
    std::size_t max_length = 0;  // ready messages; 0: unbounded
    overflow_policy overflow = overflow_policy::drop_head;
    std::int64_t default_ttl_ms = 0;         // 0: messages do not expire
    std::int64_t visibility_timeout_ms = 0;  // 0: unacked until ack/nack or consumer removal
    std::uint32_t max_deliveries = 0;        // 0: unlimited
};

struct queued_message {
    std::uint64_t id = 0;  // assigned by enqueue, 1, 2, ...
    std::string content_type;
    sy::shared_bytes payload;
    std::int64_t enqueued_ms = 0;
    std::int64_t expires_ms = 0;       // 0: never
    std::uint32_t delivery_count = 0;  // times handed out, this delivery included
    bool redelivered = false;          // handed out before (AMQP's redelivered flag)
};

/// One handed-out message. `tag` identifies this delivery (a lease): acking with the tag of an
/// earlier delivery of the same message fails with unknown_tag.
struct work_delivery {
    std::uint64_t tag = 0;
    const queued_message* msg = nullptr;  // valid until this tag is acked/nacked/requeued
};

class work_consumer {
  public:
    virtual ~work_consumer() = default;
    virtual void on_deliver(const work_delivery& d) = 0;
};

using consumer_id = std::uint64_t;
using dead_letter_fn = std::function<void(queued_message&&, dead_letter_reason)>;

struct work_queue_stats {
    std::size_t ready = 0;
    std::size_t unacked = 0;
    std::size_t consumers = 0;
    std::uint64_t enqueued = 0;
    std::uint64_t delivered = 0;
    std::uint64_t acked = 0;
    std::uint64_t nacked = 0;
    std::uint64_t requeued = 0;  // nack-requeue, visibility timeouts, consumer removal
    std::uint64_t timeouts = 0;  // visibility timeouts
    std::uint64_t expired = 0;
    std::uint64_t dropped = 0;   // drop_head overflow
    std::uint64_t rejected = 0;  // reject_publish overflow
    std::uint64_t dead_lettered = 0;
};

class work_queue {
  public:
    explicit work_queue(work_queue_settings s = {}, dead_letter_fn dead_letter = {});
    work_queue(const work_queue&) = delete;
    work_queue& operator=(const work_queue&) = delete;

    /// Appends a message (ttl_ms overrides the default TTL; 0: none) and dispatches.
    result<std::uint64_t, work_error> enqueue(std::string_view content_type,
                                              sy::shared_bytes payload, std::int64_t now_ms,
                                              std::optional<std::int64_t> ttl_ms = std::nullopt);

    /// Adds a push consumer with a prefetch window (max unacked; 0: unlimited). Dispatches.
    /// The consumer must outlive its registration.
    consumer_id add_consumer(work_consumer* c, std::uint32_t prefetch, std::int64_t now_ms);
    /// Removes a consumer; its unacked messages go back to the head of the queue, redelivered.
    result<void, work_error> remove_consumer(consumer_id id, std::int64_t now_ms);
    /// Pull one message without a consumer (AMQP basic.get, the jobs API). The lease is subject
    /// to the visibility timeout. The pointer is valid until the tag is settled.
    std::optional<work_delivery> get(std::int64_t now_ms);

    result<void, work_error> ack(std::uint64_t tag, std::int64_t now_ms);
    /// requeue: back to the head, redelivered (or dead-lettered past max_deliveries);
    /// otherwise dead-lettered as rejected.
    result<void, work_error> nack(std::uint64_t tag, bool requeue, std::int64_t now_ms);

    /// Expires TTLs of ready messages, requeues timed-out leases, then dispatches.
    void tick(std::int64_t now_ms);

    work_queue_stats stats() const;
    const work_queue_settings& settings() const { return settings_; }

  private:
    struct lease {
        queued_message msg;
        consumer_id consumer = 0;   // 0: pulled with get()
        std::int64_t deadline = 0;  // 0: none
    };
    struct consumer_rec {
        consumer_id id;
        work_consumer* target;
        std::uint32_t prefetch;
        std::uint32_t unacked = 0;
    };

    void dispatch(std::int64_t now_ms);
    consumer_rec* next_consumer();
    work_delivery hand_out(queued_message msg, consumer_id consumer, std::int64_t now_ms);
    std::optional<queued_message> take_ready(std::int64_t now_ms);
    lease settle(std::unordered_map<std::uint64_t, lease>::iterator it);
    void requeue(queued_message msg);
    void dead_letter(queued_message msg, dead_letter_reason r);
    consumer_rec* find_consumer(consumer_id id);

    work_queue_settings settings_;
    dead_letter_fn dead_letter_;
    std::deque<queued_message> ready_;
    std::unordered_map<std::uint64_t, lease> unacked_;
    std::set<std::pair<std::int64_t, std::uint64_t>> deadlines_;  // (deadline, tag)
    std::vector<consumer_rec> consumers_;
    std::size_t rr_ = 0;  // round-robin position in consumers_
    std::uint64_t next_id_ = 1;
    std::uint64_t next_tag_ = 1;
    consumer_id next_consumer_ = 1;
    bool dispatching_ = false;
    std::size_t ttl_count_ = 0;  // ready messages with an expiry (tick scans only if > 0)
    work_queue_stats st_;
};

}  // namespace sy::hub
