// hub: construction, policy table, counters, and the owner side of hub_shard (topics, ids,
// history, fan-out, publish completion).
#include "switchyard/hub/hub.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <stdexcept>

#include "shard_internal.hpp"

namespace sy::hub {

std::string_view to_string(publish_error e) {
    switch (e) {
        case publish_error::invalid_topic:
            return "invalid topic";
        case publish_error::rejected_over_cap:
            return "rejected: a subscriber is over its cap";
        case publish_error::invalid_content_type:
            return "invalid content type";
    }
    return "unknown publish error";
}

std::string_view to_string(subscriber_transport t) {
    switch (t) {
        case subscriber_transport::websocket:
            return "websocket";
        case subscriber_transport::sse:
            return "sse";
        case subscriber_transport::grpc:
            return "grpc";
        case subscriber_transport::long_poll:
            return "long_poll";
        case subscriber_transport::amqp:
            return "amqp";
        case subscriber_transport::other:
            break;
    }
    return "other";
}

bool valid_content_type(std::string_view content_type) {
    if (content_type.size() > 255) return false;
    for (char ch : content_type) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c > 0x7e) return false;
    }
    return true;
}

std::string_view to_string(slow_policy p) {
    switch (p) {
        case slow_policy::drop_oldest:
            return "drop-oldest";
        case slow_policy::disconnect:
            return "disconnect";
        case slow_policy::block_publisher:
            return "block-publisher";
    }
    return "unknown";
}

std::optional<slow_policy> parse_slow_policy(std::string_view s) {
    std::string n(s);
    std::replace(n.begin(), n.end(), '_', '-');
    if (n == "drop-oldest") return slow_policy::drop_oldest;
    if (n == "disconnect") return slow_policy::disconnect;
    if (n == "block-publisher") return slow_policy::block_publisher;
    return std::nullopt;
}

// ---- hub -------------------------------------------------------------------------------------

hub::hub(hub_settings settings, unsigned shard_count, post_fn post)
    : settings_(std::move(settings)), post_(std::move(post)) {
    if (shard_count == 0) throw std::invalid_argument("hub: shard_count must be at least 1");
    if (shard_count > 1 && !post_) throw std::invalid_argument("hub: a post function is needed");
    for (const topic_rule& r : settings_.rules) {
        if (!validate_pattern(r.pattern, settings_.limits)) {
            throw std::invalid_argument("hub: invalid topic rule pattern: " + r.pattern);
        }
        const topic_policy& d = settings_.defaults;
        rule_policies_.push_back(topic_policy{r.slow.value_or(d.slow),
                                              r.output_cap_bytes.value_or(d.output_cap_bytes),
                                              r.history_count.value_or(d.history_count),
                                              r.history_age_ms.value_or(d.history_age_ms)});
    }
    shared_ = std::make_unique<shard_shared[]>(shard_count);
    for (unsigned i = 0; i < shard_count; ++i) {
        shards_.push_back(std::make_unique<hub_shard>(*this, i));
    }
}

hub::~hub() = default;

unsigned hub::owner_of(std::string_view topic) const {
    return static_cast<unsigned>(std::hash<std::string_view>{}(topic) % shards_.size());
}

const topic_policy& hub::policy_for(std::string_view topic) const {
    for (std::size_t i = 0; i < settings_.rules.size(); ++i) {
        if (pattern_matches(settings_.rules[i].pattern, topic)) return rule_policies_[i];
    }
    return settings_.defaults;
}

policy_counters hub::counters() const {
    policy_counters c;
    for (unsigned i = 0; i < shard_count(); ++i) {
        c.drops += shared_[i].drops.load(std::memory_order_relaxed);
        c.disconnects += shared_[i].disconnects.load(std::memory_order_relaxed);
        c.publisher_rejections += shared_[i].rejections.load(std::memory_order_relaxed);
    }
    return c;
}

std::int64_t hub::now() const {
    if (settings_.clock) return settings_.clock();
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- hub_shard: owner side ---------------------------------------------------------------------

hub_shard::hub_shard(hub& h, unsigned index) : hub_(h), index_(index) {}
hub_shard::~hub_shard() = default;

hub_shard::topic_state& hub_shard::topic(std::string_view name) {
    auto it = topics_.find(name);
    if (it != topics_.end()) return *it->second;
    auto t = std::make_unique<topic_state>();
    t->name = std::string(name);
    t->policy = &hub_.policy_for(name);
    t->delivered = std::make_unique<std::atomic<std::uint64_t>[]>(hub_.shard_count());
    return *topics_.emplace(t->name, std::move(t)).first->second;
}

void hub_shard::evict(topic_state& t, std::int64_t now) {
    const topic_policy& p = *t.policy;
    while (t.history.size() > p.history_count) t.history.pop_front();
    if (p.history_age_ms > 0) {
        while (!t.history.empty() && now - t.history.front()->time_ms > p.history_age_ms) {
            t.history.pop_front();
        }
    }
}

void hub_shard::owner_publish(std::string name, std::string content_type, sy::shared_bytes payload,
                              bool utf8, unsigned origin, publish_callback done) {
    topic_state& t = topic(name);
    auto finish = [this, origin](publish_callback cb, result<publish_ack, publish_error> r) {
        if (!cb) return;
        run_on(origin, [cb = std::move(cb), r]() mutable { cb(r); });
    };
    // block_publisher: the count is kept here, on the owner, updated by posts from subscribers'
    // shards (set_over_cap), so the check is a plain integer read with no cross-thread access.
    if (t.over_cap > 0) {
        hub_.shared_[index_].rejections.fetch_add(1, std::memory_order_relaxed);
        finish(std::move(done), unexpected(publish_error::rejected_over_cap));
        return;
    }
    const std::int64_t now = hub_.now();
    auto m = std::make_shared<message>();
    m->topic = std::move(name);
    m->id = ++t.last_id;
    m->time_ms = now;
    m->content_type = std::move(content_type);
    m->payload = std::move(payload);
    m->utf8 = utf8;
    m->policy = t.policy;
    message_ptr msg = std::move(m);
    ++t.publishes;
    if (t.policy->history_count > 0) t.history.push_back(msg);
    evict(t, now);

    // Shards with no subscription at all are skipped. A shard that subscribes concurrently may
    // be skipped for this message; a resume covers it, because its history request reaches this
    // shard after its interest count was raised (see subscribe()).
    unsigned remote = 0;
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        if (d != index_ && hub_.shared_[d].interest.load(std::memory_order_relaxed) > 0) ++remote;
    }
    const bool local = hub_.shared_[index_].interest.load(std::memory_order_relaxed) > 0;
    if (remote == 0) {
        const std::uint64_t reached = local ? deliver_local(msg) : 0;
        count_delivered(t.delivered[index_], reached);
        finish(std::move(done), publish_ack{msg->id, reached});
        return;
    }
    // One post per interested shard. Only a publish with a callback needs the shards' counts
    // back (the ack carries `reached`): then each shard replies to the owner; otherwise the
    // shards count in their slot of t.delivered and the publish costs no reply at all.
    std::shared_ptr<pending_publish> p;
    if (done) {
        p = std::make_shared<pending_publish>();
        p->id = msg->id;
        p->waiting = remote + (local ? 1 : 0);
        p->origin = origin;
        p->done = std::move(done);
    }
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        if (d == index_ || hub_.shared_[d].interest.load(std::memory_order_relaxed) == 0) continue;
        auto deliver = [target = hub_.shards_[d].get(), owner = this, msg, slot = &t.delivered[d],
                        p]() {
            const std::uint64_t reached = target->deliver_local(msg);
            count_delivered(*slot, reached);
            if (p)
                target->run_on(owner->index_,
                               [owner, p, reached] { owner->owner_reply(p, reached); });
        };
        // The fan-out post must not allocate beyond the mailbox node (issue 10).
        static_assert(task::fits_inline<decltype(deliver)>(),
                      "a hub delivery must fit a task inline");
        hub_.post_(d, std::move(deliver));
    }
    if (local) {
        const std::uint64_t reached = deliver_local(msg);
        count_delivered(t.delivered[index_], reached);
        if (p) owner_reply(p, reached);
    }
}

void hub_shard::count_delivered(std::atomic<std::uint64_t>& slot, std::uint64_t n) {
    // Single writer per slot: a plain read-modify-write, no locked instruction.
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void hub_shard::owner_reply(const std::shared_ptr<pending_publish>& p, std::uint64_t reached) {
    p->reached += reached;
    if (--p->waiting > 0) return;
    // The last reply: from here on only the origin shard touches *p.
    run_on(p->origin, [p] { p->done(publish_ack{p->id, p->reached}); });
}

void hub_shard::owner_over_cap(const std::string& name, int delta) {
    topic_state& t = topic(name);
    t.over_cap += delta;
    assert(t.over_cap >= 0);
}

hub_shard::snapshot hub_shard::owner_fetch(const std::string& name, std::uint64_t since,
                                           std::size_t limit, bool newest_only) {
    snapshot s;
    auto it = topics_.find(name);
    if (it == topics_.end()) return s;
    topic_state& t = *it->second;
    evict(t, hub_.now());
    s.last_id = t.last_id;
    s.first_available = t.history.empty() ? t.last_id + 1 : t.history.front()->id;
    if (newest_only) {
        if (!t.history.empty()) s.messages.push_back(t.history.back());
        return s;
    }
    auto first = std::upper_bound(t.history.begin(), t.history.end(), since,
                                  [](std::uint64_t v, const message_ptr& m) { return v < m->id; });
    std::size_t n = static_cast<std::size_t>(t.history.end() - first);
    if (limit > 0 && n > limit) {
        n = limit;
        s.more = true;
    }
    s.messages.assign(first, first + static_cast<std::ptrdiff_t>(n));
    return s;
}

history_result hub_shard::to_history(snapshot snap, std::uint64_t since) {
    history_result r;
    since = std::min(since, snap.last_id);
    r.last_id = snap.last_id;
    if (snap.first_available > since + 1) {
        r.lost_from = since + 1;
        r.lost = snap.first_available - since - 1;
    }
    r.messages = std::move(snap.messages);
    r.more = snap.more;
    return r;
}

}  // namespace sy::hub
