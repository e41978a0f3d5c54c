// topic_log: the owner side of a topic's numbering and history, behind one interface.
//
// A topic's owner shard (hub.hpp) asks its shard's log to number a new message (append), to
// read the history after an offset (read) and for the topic's newest position (top). Two
// implementations:
// - local_topic_log (this header): what the hub always did. Offsets 1, 2, ... per topic, epoch
//   0, a bounded deque per topic (hub.history_count / history_age_ms); every call answers
//   inline, and the owner fans the appended message out itself.
// - a backplane's log (src/backplane): offsets assigned by an external store shared by several
//   nodes (Redis), so every node delivers and resumes with the same ids; its answers come back
//   later on the owner shard, and appended messages come back to every interested node through
//   hub_shard::deliver_remote (delivers() == true), so the owner does not fan out on append.
//
// Threads: one log per shard (hub_settings::make_log), called only on that shard's thread for
// topics that shard owns; callbacks run on that shard's thread too (possibly inline).
//
// Epochs: a log numbers a topic inside an epoch; when its history is lost or reset (a Redis
// restarted without persistence) the epoch changes, and a resume token of another epoch is
// treated as "from the start" (with the gap event when history does not reach back). Epoch 0
// is the local log: tokens without an epoch (every token issued before epochs) mean epoch 0 or
// "the topic's current epoch", so they keep working.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/base/result.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/hub/message.hpp"
#include "switchyard/hub/policy.hpp"
#include "switchyard/hub/sublist.hpp"

namespace sy::hub {

class hub;

enum class publish_error : std::uint8_t {
    invalid_topic,
    rejected_over_cap,     // a block_publisher subscriber of the topic is over its output cap
    invalid_content_type,  // not valid_content_type()
    reserved_topic,        // under hub_settings::reserved_prefixes, published by a client
    log_unavailable,       // the topic's log (a backplane) cannot number messages now: retry
};
std::string_view to_string(publish_error e);

/// Where a message sits in its topic's log.
struct log_position {
    std::uint64_t epoch = 0;
    std::uint64_t offset = 0;
};

/// A topic's newest position and what its history still holds.
struct log_top {
    std::uint64_t epoch = 0;
    std::uint64_t last = 0;             // newest offset (0: nothing published)
    std::uint64_t first_available = 1;  // oldest retained offset, or last + 1 when none
    std::uint64_t retained = 0;         // messages retained
};

/// Part of a topic's history: messages with offset > since, ascending, and the top when read.
struct log_slice {
    std::vector<message_ptr> messages;
    log_top top;
    bool more = false;  // the limit cut it short
    /// The log could not be read (a backplane cut from Redis): top and messages say nothing.
    /// A resuming subscriber goes on live, with a gap event for any hole it then sees.
    bool failed = false;
};

using append_callback = unique_function<void(result<log_position, publish_error>)>;
using read_callback = unique_function<void(log_slice)>;

class topic_log {
  public:
    virtual ~topic_log() = default;
    /// True when appended messages reach subscribers through hub_shard::deliver_remote (on
    /// every node, this one included) rather than by the owner's own fan-out.
    virtual bool delivers() const = 0;
    /// Numbers m (every field set but epoch and id) and keeps it. A log that delivers() may
    /// copy what it needs and drop m; a local log sets m->epoch and m->id before `done`.
    virtual void append(const std::shared_ptr<message>& m, append_callback done) = 0;
    /// Messages of `topic` after `since` (at most limit, 0: no limit), or only the newest one.
    virtual void read(const std::string& topic, std::uint64_t since, std::size_t limit,
                      bool newest_only, read_callback done) = 0;
    /// The newest position known on this node (a remote log answers from what it has seen).
    virtual log_top top(std::string_view topic) = 0;
    /// False while appends to topic would fail (the topic's Redis is unreachable): publish()
    /// refuses at once with publish_error::log_unavailable, before any post. Any shard's log
    /// answers for every topic (one backplane). Called on the shard's thread.
    virtual bool available(std::string_view /*topic*/) const { return true; }
};

/// Today's hub history: per-topic offsets 1, 2, ... in epoch 0 and a deque bounded by the
/// topic's policy (count and age). Synchronous: every callback runs inline.
class local_topic_log final : public topic_log {
  public:
    /// h gives each topic's policy and the clock; it must outlive the log.
    explicit local_topic_log(const hub& h) : hub_(h) {}
    bool delivers() const override { return false; }
    void append(const std::shared_ptr<message>& m, append_callback done) override;
    void read(const std::string& topic, std::uint64_t since, std::size_t limit, bool newest_only,
              read_callback done) override;
    log_top top(std::string_view topic) override;

  private:
    struct topic_history {
        std::uint64_t last = 0;
        std::deque<message_ptr> messages;  // consecutive offsets, oldest first
    };
    void evict(topic_history& t, const topic_policy& p, std::int64_t now);
    topic_history* find(std::string_view topic);

    const hub& hub_;
    std::unordered_map<std::string, topic_history, string_hash, std::equal_to<>> topics_;
};

/// The resume token of a position: "<offset>" in epoch 0 (as every token before epochs),
/// "<epoch>:<offset>" otherwise. Used for SSE ids, ETags, X-Message-Id and envelopes.
std::string resume_token(std::uint64_t epoch, std::uint64_t offset);
/// Parses "<offset>" (epoch 0: any epoch) or "<epoch>:<offset>"; nullopt when malformed.
std::optional<log_position> parse_resume_token(std::string_view s);

}  // namespace sy::hub
