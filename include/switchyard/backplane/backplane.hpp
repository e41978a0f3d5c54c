// backplane: several switchyard nodes (and prefork processes) share one hub through Redis.
//
// Design (docs/scaling.md):
// - One id space. Every topic's log is Redis: a publish runs one script (EVALSHA, EVAL until
//   the script is loaded) that takes the topic's next offset (HINCRBY on sy:m:<topic>), appends
//   the message to a stream capped at the topic's history_count (XADD sy:s:<topic> MAXLEN n,
//   with the offset as the entry id "<offset>-0") and PUBLISHes it on sy:t:<topic>, atomically.
//   The topic's epoch (a field of sy:m:<topic>, set by the first publish after the key is gone)
//   changes when Redis lost the topic, so resume tokens of the old history are detected.
// - Routing per topic. The hub reports per-shard interest (hub_settings::on_interest); this
//   node SUBSCRIBEs sy:t:<topic> while any local subscriber of that topic exists, and
//   UNSUBSCRIBEs grace_ms after the last one left. A wildcard pattern ("news.*", "news.>")
//   becomes one PSUBSCRIBE of "sy:t:news.*" (Redis' glob matches any tail), and the hub's own
//   matcher filters exactly, so a pattern subscriber pays for the topics its glob over-matches.
// - Delivery. Every message, this node's own included, comes back from the channel and enters
//   the hub with hub_shard::deliver_remote, which fans it out as a local publish would; the
//   owner drops repeats (a topic matched by a channel and a pattern).
// - History reads (resume, ?since=, Last-Event-ID, polls, gRPC) go to the stream with one read
//   script (epoch, last offset, oldest retained offset and the entries in one reply).
// - Redis down: publishes fail with publish_error::log_unavailable (HTTP 503 + Retry-After,
//   gRPC UNAVAILABLE), or with fallback = local are numbered by this node alone in epoch 0;
//   subscribers stay connected. On reconnection every channel is subscribed again and each
//   topic with a known last offset (a wildcard pattern: each topic it matched, up to
//   catch_up_topics) is read from the stream after it (catch-up); a subscriber
//   whose next message jumps ids refills from the stream (the hub's resume path) or gets the
//   gap event when the stream no longer reaches back.
//
// Threads: the links and all channel state live on one loop (loop 0, given to start()); the
// per-shard logs post their work there and get answers posted back to their shard (the post
// function given to install()). healthy() and the counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/backplane/redis_link.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/hub/hub.hpp"

namespace sy::backplane {

class redis_presence;

struct settings {
    /// One Redis, or several: topics are then sharded over them by consistent hashing of the
    /// name (the same on every node, so every node finds a topic's log on the same Redis).
    std::vector<redis_endpoint> endpoints;
    std::string node_id;
    bool fallback_local = false;  // backplane.fallback = local
    millis grace{5000};
    millis connect_timeout{2000};
    millis retry_max{5000};
    millis presence_ttl{15000};  // backplane.presence_ttl_ms (presence.hpp)
    /// Per wildcard pattern and Redis: how many matched topics it remembers (with the newest
    /// offset seen) so a reconnection can catch them up from their streams. Beyond it, a topic
    /// is caught up only when its next message shows the jump (docs/scaling.md).
    std::size_t catch_up_topics = 1024;
};

/// Counters, each written by the backplane's loop only (relaxed), read anywhere.
struct counters {
    std::atomic<std::uint64_t> publishes{0};         // scripts acknowledged with an offset
    std::atomic<std::uint64_t> publish_failures{0};  // refused while down or failed by Redis
    std::atomic<std::uint64_t> local_fallbacks{0};   // numbered locally (fallback = local)
    std::atomic<std::uint64_t> received{0};          // channel messages taken in
    std::atomic<std::uint64_t> subscribe_commands{0};
    std::atomic<std::uint64_t> unsubscribe_commands{0};
    std::atomic<std::uint64_t> channels{0};  // channels and patterns subscribed now
    std::atomic<std::uint64_t> reads{0};     // history reads from the stream
    std::atomic<std::uint64_t> catch_up{0};  // messages delivered by catch-up reads
    std::atomic<std::uint64_t> reconnects{0};
    std::atomic<std::uint64_t> links_up{0};  // links up now, two per Redis when healthy
};

class backplane {
  public:
    using post_fn = std::function<void(unsigned loop, task)>;

    explicit backplane(settings s);
    ~backplane();
    backplane(const backplane&) = delete;
    backplane& operator=(const backplane&) = delete;

    /// Before the hub is made: sets hs.make_log and hs.on_interest. post(i, t) runs t on loop i
    /// (the hub's shard i); the backplane's own loop is 0.
    void install(hub::hub_settings& hs, post_fn post);
    /// After the hub is made, before the loops run.
    void attach(hub::hub& h) { hub_ = &h; }
    /// On loop 0's thread, when it starts: connects both links.
    void start(core::loop& l);
    /// On loop 0's thread, when it stops: closes the links (no reconnect).
    void stop();

    /// Both links up (any thread). A node whose backplane is down says so in readiness.
    bool healthy() const;
    /// The Redis holding topic has both links up (any thread).
    bool topic_up(std::string_view topic) const;
    const counters& stats() const { return counters_; }
    const settings& config() const { return settings_; }

    // For the per-shard logs (loop 0's thread).
    void publish(const std::shared_ptr<hub::message>& m, unsigned shard, hub::append_callback done);
    void read(const std::string& topic, std::uint64_t since, std::size_t limit, bool newest,
              unsigned shard, hub::read_callback done);
    void interest(const std::string& pattern, bool gained);
    void post(unsigned loop, task t) { post_(loop, std::move(t)); }
    hub::hub& hub_ref() { return *hub_; }

    // For redis_presence (loop 0's thread): a command, or a script (EVAL; args are numkeys,
    // keys and argv), on the command link of the Redis holding topic. False (done not called)
    // when that link is down.
    bool command(std::string_view topic, std::span<const std::string_view> args,
                 redis_link::reply_fn done);
    bool eval(std::string_view topic, std::string_view script,
              std::span<const std::string_view> args, redis_link::reply_fn done);
    /// The topics this node subscribes to by name now (local subscribers or the grace period).
    std::vector<std::string> literal_topics() const;
    /// Presence and per-node topic figures across nodes (loop 0's thread; made by start()).
    redis_presence* presence() { return presence_.get(); }

    /// Which of settings::endpoints holds topic's log and channel (jump consistent hash of the
    /// name's FNV-1a; the same on every node and build).
    static std::size_t shard_index(std::string_view topic, std::size_t shards);

  private:
    struct channel {
        std::size_t refs = 0;
        bool pattern = false;
        bool subscribed = false;  // SUBSCRIBE sent on the current subscriber connection
        core::timer_id unsub_timer{};
        std::uint64_t epoch = 0;  // literal channels: the newest message seen
        std::uint64_t last = 0;
        bool catch_up = false;  // read the stream after `last` once the subscription is back
        // Patterns: the topics matched so far and the newest offset of each (at most
        // settings::catch_up_topics), read after that offset once the subscription is back.
        std::unordered_map<std::string, std::uint64_t, hub::string_hash, std::equal_to<>> seen;
    };
    /// One Redis: its two links, its scripts' SHA1s, its channels.
    struct redis_shard {
        const redis_endpoint* endpoint = nullptr;
        std::unique_ptr<redis_link> cmd;
        std::unique_ptr<redis_link> sub;
        std::string sha[2];  // SHA1s of the publish and read scripts once loaded
        // By Redis channel or glob; looked up by view for every message received.
        std::unordered_map<std::string, channel, hub::string_hash, std::equal_to<>> channels;
    };
    redis_shard& shard_of(std::string_view topic) {
        return *shards_[shard_index(topic, shards_.size())];
    }
    void command_up(redis_shard& r);
    void pubsub_up(redis_shard& r);
    void links_down(redis_shard& r);
    void count_links();
    void on_push(redis_shard& r, const resp::value& v);
    void on_channel_message(redis_shard& r, std::string_view pattern, std::string_view channel,
                            std::string_view payload);
    void interest_on(redis_shard& r, const std::string& key, bool pattern, bool gained);
    void subscribe(redis_shard& r, const std::string& key, channel& c);
    void release(redis_shard& r, const std::string& key);
    void catch_up(redis_shard& r, const std::string& key, channel& c);
    bool run_script(redis_shard& r, int which, std::span<const std::string_view> args,
                    redis_link::reply_fn done);

    settings settings_;
    post_fn post_;
    hub::hub* hub_ = nullptr;
    core::loop* loop_ = nullptr;
    std::vector<std::unique_ptr<redis_shard>> shards_;
    counters counters_;
    std::atomic<std::uint64_t> up_bits_{0};  // bit i: Redis i has both links up
    std::unique_ptr<redis_presence> presence_;
};

/// The Redis channel of a topic and the glob of a wildcard pattern ("a.*" and "a.>" -> "sy:t:a.*").
std::string channel_of(std::string_view pattern);

}  // namespace sy::backplane
