// The pub/sub hub, sharded across the server's event loops without a lock per message.
//
// Threading model (see also docs/threading.md):
// - The hub has one hub_shard per event loop ("shard"). Every method of hub_shard, and every
//   callback it makes (subscriber::on_message, publish/history/stats completions), runs on that
//   shard's thread. Objects of a shard are touched by no other thread.
// - Work crosses shards only through the post function given at construction:
//   post(shard, task) must run `task` later on that shard's thread, and tasks posted from one
//   shard to another must run in the order they were posted (FIFO per pair). Message ordering
//   and "no duplicate, no hole" on resume rely on that.
// - When the target shard is the calling shard, the hub calls directly instead of posting, so
//   with shard_count 1 nothing is ever posted. Consequence: callbacks may run before the call
//   that caused them returns (publish completion, on_message for a resume from local history).
// - The only state read across threads is a per-shard "interest" count (relaxed atomics: how
//   many subscriptions a shard holds, so a publish skips shards with none), the policy
//   counters and the totals (topics, publishes, deliveries, subscribers by transport:
//   hub::totals),
//   each written by its own shard only, relaxed.
//
// Topic ownership: topic t is owned by shard hash(t) % shard_count. The owner assigns ids
// (1, 2, ...), timestamps, keeps the bounded history and the per-topic counters, and posts one
// delivery task per interested shard; each shard matches its own subscriptions.
//
// Lifetime: topics are never forgotten (their last id must survive so resumes stay correct);
// the history of an idle topic empties by age. The hub must outlive every task it posted: stop
// and drain the loops before destroying it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/hub/message.hpp"
#include "switchyard/hub/policy.hpp"
#include "switchyard/hub/sublist.hpp"
#include "switchyard/hub/topic.hpp"
#include "switchyard/hub/topic_log.hpp"

namespace sy::hub {

struct hub_settings {
    topic_limits limits;
    topic_policy defaults;
    std::vector<topic_rule> rules;  // first matching rule wins
    /// Wall-clock milliseconds for message timestamps and history age. Empty: system clock.
    /// Called on owner shards, possibly concurrently: must be thread-safe.
    std::function<std::int64_t()> clock;
    /// Topics starting with one of these prefixes (the server's "sys." and the jobs API's
    /// "jobs.") are published by the server only: publish() refuses them with
    /// publish_error::reserved_topic unless the origin is publish_origin::server. Empty: no
    /// reserved topics. Subscribing there is not restricted by the hub. A backplane keeps
    /// these topics on their node (this node's figures and jobs).
    std::vector<std::string> reserved_prefixes;
    /// Whether `topic` starts with one of reserved_prefixes.
    bool reserved(std::string_view topic) const {
        for (const std::string& p : reserved_prefixes)
            if (topic.starts_with(p)) return true;
        return false;
    }
    /// The owner side of every topic a shard owns: called once per shard at construction (on
    /// the constructing thread) with the shard's index. Empty: local_topic_log (history in
    /// this process). A backplane installs its own log here (topic_log.hpp).
    std::function<std::unique_ptr<topic_log>(hub&, unsigned shard)> make_log;
    /// Per-shard interest, for a backplane that subscribes only where it must: called on shard
    /// `shard`'s thread when a pattern (a topic or a wildcard pattern, as subscribed) gains its
    /// first subscription on that shard (gained = true) or loses its last one (false). Empty:
    /// not tracked (no cost).
    std::function<void(unsigned shard, const std::string& pattern, bool gained)> on_interest;
};

using post_fn = std::function<void(unsigned shard, task)>;

/// Who publishes: every transport a client reaches publishes as `client` (the default), so the
/// reserved-prefix check is made once here for /pub, WebSocket, gRPC and the AMQP bridge alike;
/// only the server's own publisher (server::system_topics) passes `server`.
enum class publish_origin : std::uint8_t { client, server };

/// A content type the hub can hand to every transport as it is: at most 255 bytes of visible
/// ASCII, space or tab (an HTTP field value without obs-text, a JSON and a protobuf string, an
/// AMQP shortstr). Anything else (CR/LF, bytes >= 0x80 that are not UTF-8 to a gRPC or WebSocket
/// client) would reach other subscribers in a form they cannot parse, so publish() refuses it.
bool valid_content_type(std::string_view content_type);

struct publish_ack {
    std::uint64_t id = 0;       // the id the owner assigned
    std::uint64_t epoch = 0;    // the epoch of that id (0: the local log)
    std::uint64_t reached = 0;  // subscribers the message was handed to, summed over shards
};
using publish_callback = unique_function<void(result<publish_ack, publish_error>)>;

/// Where a subscription starts.
enum class start_from : std::uint8_t {
    live,    // only messages published from now on
    since,   // every message with id > since (history, then live), or a gap event first
    newest,  // the newest retained message (if any), then live
};
struct subscribe_options {
    start_from start = start_from::live;
    std::uint64_t since = 0;
    /// The epoch `since` belongs to (resume tokens carry it); 0: the topic's current epoch.
    /// Another epoch than the topic's: since is ignored (history from the start, or a gap).
    std::uint64_t epoch = 0;
    static subscribe_options after(std::uint64_t id, std::uint64_t epoch = 0) {
        return {start_from::since, id, epoch};
    }
    static subscribe_options from_newest() { return {start_from::newest, 0, 0}; }
};

/// Reply to history() and to a long poll (next_after).
struct history_result {
    /// When non-zero, ids lost_from..lost_from+lost-1 are gone from history before `messages`.
    std::uint64_t lost = 0;
    std::uint64_t lost_from = 0;
    std::vector<message_ptr> messages;  // ascending ids, all > since
    std::uint64_t last_id = 0;          // the topic's newest id at the time of the answer
    std::uint64_t epoch = 0;            // the epoch of last_id (0: the local log)
    bool more = false;                  // limit cut the answer short; ask again after the last id
};
using history_callback = unique_function<void(result<history_result, topic_error>)>;

struct topic_stats {
    std::uint64_t last_id = 0;
    std::uint64_t history_count = 0;
    std::uint64_t subscribers = 0;  // subscriptions matching the topic, over all shards
    std::uint64_t publishes = 0;
    std::uint64_t deliveries = 0;  // sum of `reached` over the topic's publishes (per-shard counts;
                                   // a delivery still running on another shard may be missing)
    std::uint64_t over_cap = 0;    // block_publisher subscribers currently over cap
};
using stats_callback = unique_function<void(result<topic_stats, topic_error>)>;

/// Hub-wide figures: each shard's single-writer counters summed (hub::totals). topics counts the
/// topics each shard owns (topics are never forgotten); publishes the messages owners accepted;
/// deliveries the subscribers reached, counted on the shard that reached them; subscribers the
/// live subscriptions by the transport their subscriber reports when it subscribes
/// (subscriber::transport(); next_after's waiters are long_poll), index = subscriber_transport.
struct hub_totals {
    std::uint64_t topics = 0;
    std::uint64_t publishes = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t subscribers[subscriber_transport_count] = {};
};
/// One topic as list_topics() reports it: the owner's counters (stats.subscribers is the sum
/// over every shard) and the matching subscriptions by transport (index = subscriber_transport).
struct topic_info {
    std::string name;
    topic_stats stats;
    std::array<std::uint64_t, subscriber_transport_count> subscribers_by{};
};
/// Every topic of the hub, sorted by name.
using topics_callback = unique_function<void(std::vector<topic_info>)>;

using subscription_id = std::uint64_t;
class hub_shard;

/// Owns one subscription: unsubscribes on destruction. Move-only; destroy it on its shard.
class subscription_handle {
  public:
    subscription_handle() = default;
    subscription_handle(hub_shard* s, subscription_id id) : shard_(s), id_(id) {}
    subscription_handle(subscription_handle&& o) noexcept
        : shard_(std::exchange(o.shard_, nullptr)), id_(std::exchange(o.id_, 0)) {}
    subscription_handle& operator=(subscription_handle&& o) noexcept;
    subscription_handle(const subscription_handle&) = delete;
    subscription_handle& operator=(const subscription_handle&) = delete;
    ~subscription_handle() { reset(); }

    subscription_id id() const { return id_; }
    explicit operator bool() const { return shard_ != nullptr; }
    void reset();  // unsubscribes now
    /// Gives up ownership; the caller unsubscribes with hub_shard::unsubscribe(id).
    subscription_id release() {
        shard_ = nullptr;
        return std::exchange(id_, 0);
    }

  private:
    hub_shard* shard_ = nullptr;
    subscription_id id_ = 0;
};

class hub;

/// The part of the hub that lives on one shard. All methods: that shard's thread only.
class hub_shard {
  public:
    hub_shard(hub& h, unsigned index);
    ~hub_shard();
    hub_shard(const hub_shard&) = delete;
    hub_shard& operator=(const hub_shard&) = delete;

    unsigned index() const { return index_; }

    /// Publishes to a topic. `done` (optional) runs on this shard with the id and the number of
    /// subscribers reached, or the error. The payload is shared, not copied. A refusal decided
    /// here, before any post (invalid topic or content type, reserved topic), is also returned
    /// (nullopt: accepted so far), so a caller that passes no callback (a WebSocket client's
    /// publish, which must not pay for an ack) can still answer it.
    std::optional<publish_error> publish(std::string_view topic, std::string_view content_type,
                                         sy::shared_bytes payload, publish_callback done = {},
                                         publish_origin origin = publish_origin::client);

    /// Registers s for messages whose topic matches pattern. With since/newest on a literal
    /// pattern: history first (or a gap message), then live, no duplicate, no hole. For a
    /// wildcard pattern the start option is ignored: live only (no per-topic resume).
    result<subscription_handle, topic_error> subscribe(std::string_view pattern, subscriber* s,
                                                       subscribe_options opts = {});
    /// Idempotent; safe from inside on_message.
    void unsubscribe(subscription_id id);

    /// Short poll: messages of topic with id > since (at most limit), maybe none.
    /// `epoch` as in subscribe_options (0: the topic's current epoch).
    void history(std::string_view topic, std::uint64_t since, std::size_t limit,
                 history_callback done, std::uint64_t epoch = 0);
    /// Long poll: answers at once if history holds messages after `since` (up to limit, with
    /// the gap if any), else with the next published message. Fires at most once. Cancel (for
    /// a timeout) by dropping the returned handle.
    result<subscription_handle, topic_error> next_after(std::string_view topic, std::uint64_t since,
                                                        std::size_t limit, history_callback done,
                                                        std::uint64_t epoch = 0);

    /// A message numbered elsewhere (a backplane's channel), handed to this node: it goes to
    /// the topic's owner shard, which drops a repeat (an id it already delivered in the same
    /// epoch: overlapping channel and pattern subscriptions) and fans it out as if published
    /// here. Any shard; m must have topic, epoch, id and policy (hub::policy_for) set.
    void deliver_remote(message_ptr m);

    void stats(std::string_view topic, stats_callback done);
    /// Every topic the hub knows (each owner shard snapshots its own topics on its thread, then
    /// each shard counts its subscriptions matching them), merged and answered on this shard.
    /// Two scatter-gathers: 2 x shard_count posts and replies; cost per shard is proportional
    /// to its topics and to the topic count times a match. For introspection (once a second at
    /// most), not for per-message paths.
    void list_topics(topics_callback done);

    /// How many subscriptions on every shard match `topic` (a concrete topic name); done runs
    /// on this shard. Shards holding no subscription at all are not asked, so with no
    /// subscriber anywhere it answers at once without a post (a cheap "is anyone listening").
    void count_subscribers(std::string_view topic, unique_function<void(std::uint64_t)> done);

    /// block_publisher: subscription `id` declares its output over (or back under) the cap for
    /// topic (a concrete topic it received, which matters for wildcard subscriptions). The owner
    /// of the topic counts over-cap subscribers; unsubscribing clears the marks.
    /// Why a counter on the owner (updated by a post per transition) rather than an atomic flag
    /// per subscription read at publish: the owner would need a registry of every subscription
    /// of the topic on every shard and would read other threads' memory on each publish. With
    /// the counter, the publish check is a plain integer read on the owner's own thread and only
    /// the rare over/under transitions cross shards. Cost: the block takes effect one post
    /// latency late, so the session's cap is soft by the messages already in flight.
    void set_over_cap(subscription_id id, std::string_view topic, bool over);
    void count_drop(std::uint64_t n = 1);
    void count_disconnect();

    /// Number of live subscriptions on this shard.
    std::size_t subscription_count() const { return by_id_.size(); }

  private:
    friend class hub;
    struct subscription;
    struct topic_state;
    struct pending_publish;

    // Owner side (hub.cpp).
    topic_state& topic(std::string_view name);
    void owner_publish(std::string name, std::string content_type, sy::shared_bytes payload,
                       bool utf8, unsigned origin, publish_callback done);
    void owner_reply(const std::shared_ptr<pending_publish>& p, std::uint64_t reached);
    /// This shard reached n subscribers with a message of a topic whose slot for this shard is
    /// `slot`: adds n there and to the shard's delivery total.
    void count_delivered(std::atomic<std::uint64_t>& slot, std::uint64_t n);
    void owner_over_cap(const std::string& name, int delta);
    void fan_out(topic_state& t, const message_ptr& msg, unsigned origin, publish_callback done);
    void owner_remote(const message_ptr& m);
    /// Reads the owner's log, then runs done(slice) on shard `reply_to`.
    void owner_read(const std::string& name, std::uint64_t since, std::size_t limit,
                    bool newest_only, unsigned reply_to, read_callback done);
    static history_result to_history(log_slice snap, std::uint64_t since, std::uint64_t epoch);
    void interest_changed(const std::string& pattern, bool added);
    std::uint64_t count_matches(std::string_view topic);
    std::vector<topic_info> owned_topics();
    void count_by_transport(std::string_view topic,
                            std::array<std::uint64_t, subscriber_transport_count>& out);
    void count_topic_subscribers(std::vector<topic_info>& topics, topics_callback done);

    // Subscriber side (hub_shard.cpp).
    subscription_handle add_subscription(std::string_view pattern, subscriber* s,
                                         subscribe_options opts, history_callback waiter,
                                         std::size_t waiter_limit);
    std::uint64_t deliver_local(const message_ptr& m);
    bool offer(subscription& s, const delivery& d);
    void resume_reply(subscription_id id, log_slice snap);
    void request_history(subscription& s);
    void send_gap(subscription& s, std::uint64_t from, std::uint64_t to, std::uint64_t epoch);
    /// The log could not be read: deliver what came live, with a gap event for any hole.
    void resume_unread(subscription& s, std::vector<message_ptr> buffered);
    void finish_waiter(subscription& s, history_result r);
    void remove(subscription& s);
    void release_graveyard();

    template <typename F>
    void run_on(unsigned shard, F&& f);

    hub& hub_;
    unsigned index_;
    std::unique_ptr<topic_log> log_;  // the owner side of this shard's topics
    // Local subscriptions per pattern, kept only when hub_settings::on_interest is set.
    std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> pattern_refs_;
    // Owned topics.
    std::unordered_map<std::string, std::unique_ptr<topic_state>, string_hash, std::equal_to<>>
        topics_;
    // Local subscriptions.
    sublist<subscription*> subs_;
    std::unordered_map<subscription_id, std::unique_ptr<subscription>> by_id_;
    subscription_id next_id_ = 1;
    unsigned depth_ = 0;  // nested dispatches; frees wait until it is back to 0
    std::vector<std::unique_ptr<subscription>> graveyard_;
    std::deque<std::vector<subscription*>> scratch_;  // one match buffer per nesting level
};

class hub {
  public:
    /// Throws std::invalid_argument for an invalid rule pattern or shard_count 0 (start-up only).
    hub(hub_settings settings, unsigned shard_count, post_fn post);
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    unsigned shard_count() const { return static_cast<unsigned>(shards_.size()); }
    /// Use shard(i) only on shard i's thread (the reference itself may be taken anywhere).
    hub_shard& shard(unsigned i) { return *shards_[i]; }
    unsigned owner_of(std::string_view topic) const;
    /// The resolved policy of a topic (first matching rule, else defaults). Any thread.
    const topic_policy& policy_for(std::string_view topic) const;
    const hub_settings& settings() const { return settings_; }
    /// Sums of the per-shard counters. Any thread (relaxed; a momentary view).
    policy_counters counters() const;
    /// Sums of the per-shard topic, publish, delivery and subscriber counters. Any thread
    /// (relaxed; a momentary view, costs O(shards)).
    hub_totals totals() const;
    /// Wall-clock ms (hub_settings::clock or the system clock). Any thread.
    std::int64_t now() const;

  private:
    friend class hub_shard;
    struct alignas(64) shard_shared {
        std::atomic<std::uint64_t> interest{0};  // subscriptions held by the shard
        std::atomic<std::uint64_t> drops{0};
        std::atomic<std::uint64_t> disconnects{0};
        std::atomic<std::uint64_t> rejections{0};
        // Written by this shard only (a plain load + store, no locked instruction), on every
        // publish and delivery: a cache line of their own, since `interest` above is read by
        // the other shards on each of their publishes.
        alignas(64) std::atomic<std::uint64_t> topics{0};
        std::atomic<std::uint64_t> publishes{0};
        std::atomic<std::uint64_t> deliveries{0};
        std::atomic<std::uint64_t> subscribers[subscriber_transport_count] = {};
    };
    /// Single-writer increment (or decrement, by wrapping) of one of the shard's own counters.
    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    hub_settings settings_;
    std::vector<topic_policy> rule_policies_;  // parallel to settings_.rules
    post_fn post_;
    std::unique_ptr<shard_shared[]> shared_;
    std::vector<std::unique_ptr<hub_shard>> shards_;
};

}  // namespace sy::hub
