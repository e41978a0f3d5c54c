// hub: construction, policy table, counters, and the owner side of hub_shard (topics, ids,
// history, fan-out, publish completion).
#include "switchyard/hub/hub.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
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
        case publish_error::reserved_topic:
            return "reserved topic: published by the server only";
        case publish_error::log_unavailable:
            return "the topic's log is unavailable: retry later";
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

hub_totals hub::totals() const {
    hub_totals t;
    for (unsigned i = 0; i < shard_count(); ++i) {
        const shard_shared& s = shared_[i];
        t.topics += s.topics.load(std::memory_order_relaxed);
        t.publishes += s.publishes.load(std::memory_order_relaxed);
        t.deliveries += s.deliveries.load(std::memory_order_relaxed);
        for (std::size_t k = 0; k < subscriber_transport_count; ++k) {
            t.subscribers[k] += s.subscribers[k].load(std::memory_order_relaxed);
        }
    }
    return t;
}

std::int64_t hub::now() const {
    if (settings_.clock) return settings_.clock();
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- hub_shard: owner side ---------------------------------------------------------------------

hub_shard::hub_shard(hub& h, unsigned index)
    : hub_(h),
      index_(index),
      log_(h.settings_.make_log ? h.settings_.make_log(h, index)
                                : std::make_unique<local_topic_log>(h)) {}
hub_shard::~hub_shard() = default;

hub_shard::topic_state& hub_shard::topic(std::string_view name) {
    auto it = topics_.find(name);
    if (it != topics_.end()) return *it->second;
    auto t = std::make_unique<topic_state>();
    t->name = std::string(name);
    t->policy = &hub_.policy_for(name);
    t->delivered = std::make_unique<std::atomic<std::uint64_t>[]>(hub_.shard_count());
    hub::bump(hub_.shared_[index_].topics);
    return *topics_.emplace(t->name, std::move(t)).first->second;
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
    auto m = std::make_shared<message>();
    m->topic = std::move(name);
    m->time_ms = hub_.now();
    m->content_type = std::move(content_type);
    m->payload = std::move(payload);
    m->utf8 = utf8;
    m->policy = t.policy;
    // The local log answers inline (the message is numbered and kept, then fanned out here);
    // a log that delivers() acks later and the message comes back through deliver_remote.
    const bool fan_out_here = !log_->delivers();
    log_->append(m, [this, &t, m, origin, fan_out_here, finish,
                     done = std::move(done)](result<log_position, publish_error> r) mutable {
        if (!r) {
            finish(std::move(done), unexpected(r.error()));
            return;
        }
        if (!fan_out_here) {
            finish(std::move(done), publish_ack{r->offset, r->epoch, 0});
            return;
        }
        ++t.publishes;
        hub::bump(hub_.shared_[index_].publishes);
        fan_out(t, m, origin, std::move(done));
    });
}

void hub_shard::fan_out(topic_state& t, const message_ptr& msg, unsigned origin,
                        publish_callback done) {
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
        if (done) {
            run_on(origin,
                   [cb = std::move(done),
                    ack = publish_ack{msg->id, msg->epoch, reached}]() mutable { cb(ack); });
        }
        return;
    }
    // One post per interested shard. Only a publish with a callback needs the shards' counts
    // back (the ack carries `reached`): then each shard replies to the owner; otherwise the
    // shards count in their slot of t.delivered and the publish costs no reply at all.
    std::shared_ptr<pending_publish> p;
    if (done) {
        p = std::make_shared<pending_publish>();
        p->id = msg->id;
        p->epoch = msg->epoch;
        p->waiting = remote + (local ? 1 : 0);
        p->origin = origin;
        p->done = std::move(done);
    }
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        if (d == index_ || hub_.shared_[d].interest.load(std::memory_order_relaxed) == 0) continue;
        auto deliver = [target = hub_.shards_[d].get(), owner = this, msg, slot = &t.delivered[d],
                        p]() {
            const std::uint64_t reached = target->deliver_local(msg);
            target->count_delivered(*slot, reached);
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

void hub_shard::deliver_remote(message_ptr m) {
    hub_shard* o = hub_.shards_[hub_.owner_of(m->topic)].get();
    run_on(o->index_, [o, m = std::move(m)] { o->owner_remote(m); });
}

void hub_shard::owner_remote(const message_ptr& m) {
    topic_state& t = topic(m->topic);
    if (m->epoch == t.remote_epoch && m->id <= t.remote_last) return;  // a repeat
    t.remote_epoch = m->epoch;
    t.remote_last = m->id;
    ++t.publishes;
    hub::bump(hub_.shared_[index_].publishes);
    fan_out(t, m, index_, {});
}

void hub_shard::count_delivered(std::atomic<std::uint64_t>& slot, std::uint64_t n) {
    // Single writer per slot (this shard): a plain read-modify-write, no locked instruction.
    hub::bump(slot, n);
    hub::bump(hub_.shared_[index_].deliveries, n);
}

void hub_shard::owner_reply(const std::shared_ptr<pending_publish>& p, std::uint64_t reached) {
    p->reached += reached;
    if (--p->waiting > 0) return;
    // The last reply: from here on only the origin shard touches *p.
    run_on(p->origin, [p] { p->done(publish_ack{p->id, p->epoch, p->reached}); });
}

void hub_shard::owner_over_cap(const std::string& name, int delta) {
    topic_state& t = topic(name);
    t.over_cap += delta;
    assert(t.over_cap >= 0);
}

void hub_shard::owner_read(const std::string& name, std::uint64_t since, std::size_t limit,
                           bool newest_only, unsigned reply_to, read_callback done) {
    log_->read(name, since, limit, newest_only,
               [this, reply_to, done = std::move(done)](log_slice s) mutable {
                   run_on(reply_to, [done = std::move(done), s = std::move(s)]() mutable {
                       done(std::move(s));
                   });
               });
}

history_result hub_shard::to_history(log_slice snap, std::uint64_t since, std::uint64_t epoch) {
    history_result r;
    // A position of another epoch says nothing about this one: from the start.
    if (epoch != 0 && epoch != snap.top.epoch) since = 0;
    since = std::min(since, snap.top.last);
    r.last_id = snap.top.last;
    r.epoch = snap.top.epoch;
    if (snap.top.first_available > since + 1) {
        r.lost_from = since + 1;
        r.lost = snap.top.first_available - since - 1;
    }
    r.messages = std::move(snap.messages);
    r.more = snap.more;
    return r;
}

// ---- local_topic_log ---------------------------------------------------------------------------

local_topic_log::topic_history* local_topic_log::find(std::string_view topic) {
    auto it = topics_.find(topic);
    return it == topics_.end() ? nullptr : &it->second;
}

void local_topic_log::evict(topic_history& t, const topic_policy& p, std::int64_t now) {
    while (t.messages.size() > p.history_count) t.messages.pop_front();
    if (p.history_age_ms > 0) {
        while (!t.messages.empty() && now - t.messages.front()->time_ms > p.history_age_ms) {
            t.messages.pop_front();
        }
    }
}

void local_topic_log::append(const std::shared_ptr<message>& m, append_callback done) {
    auto it = topics_.find(m->topic);
    if (it == topics_.end()) it = topics_.emplace(m->topic, topic_history{}).first;
    topic_history& t = it->second;
    m->epoch = 0;
    m->id = ++t.last;
    const topic_policy& p = m->policy ? *m->policy : hub_.policy_for(m->topic);
    if (p.history_count > 0) t.messages.push_back(m);
    evict(t, p, m->time_ms);
    done(log_position{0, m->id});
}

void local_topic_log::read(const std::string& topic, std::uint64_t since, std::size_t limit,
                           bool newest_only, read_callback done) {
    log_slice s;
    topic_history* t = find(topic);
    if (!t) {
        done(std::move(s));
        return;
    }
    evict(*t, hub_.policy_for(topic), hub_.now());
    s.top = top(topic);
    if (newest_only) {
        if (!t->messages.empty()) s.messages.push_back(t->messages.back());
        done(std::move(s));
        return;
    }
    auto first = std::upper_bound(t->messages.begin(), t->messages.end(), since,
                                  [](std::uint64_t v, const message_ptr& m) { return v < m->id; });
    std::size_t n = static_cast<std::size_t>(t->messages.end() - first);
    if (limit > 0 && n > limit) {
        n = limit;
        s.more = true;
    }
    s.messages.assign(first, first + static_cast<std::ptrdiff_t>(n));
    done(std::move(s));
}

log_top local_topic_log::top(std::string_view topic) {
    log_top r;
    topic_history* t = find(topic);
    if (!t) return r;
    evict(*t, hub_.policy_for(topic), hub_.now());
    r.last = t->last;
    r.first_available = t->messages.empty() ? t->last + 1 : t->messages.front()->id;
    r.retained = t->messages.size();
    return r;
}

// ---- resume tokens -----------------------------------------------------------------------------

std::string resume_token(std::uint64_t epoch, std::uint64_t offset) {
    if (epoch == 0) return std::to_string(offset);
    return std::to_string(epoch) + ':' + std::to_string(offset);
}

std::optional<log_position> parse_resume_token(std::string_view s) {
    auto number = [](std::string_view d) -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
        if (d.empty() || ec != std::errc() || p != d.data() + d.size()) return std::nullopt;
        return v;
    };
    log_position pos;
    const std::size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
        auto e = number(s.substr(0, colon));
        if (!e) return std::nullopt;
        pos.epoch = *e;
        s.remove_prefix(colon + 1);
    }
    auto o = number(s);
    if (!o) return std::nullopt;
    pos.offset = *o;
    return pos;
}

}  // namespace sy::hub
