// hub_shard: the subscriber side (subscriptions, local matching and dispatch, resume, polls,
// stats gathering, block_publisher marks).
#include <algorithm>

#include "switchyard/base/utf8.hpp"

#include "shard_internal.hpp"

namespace sy::hub {

subscription_handle& subscription_handle::operator=(subscription_handle&& o) noexcept {
    if (this != &o) {
        reset();
        shard_ = std::exchange(o.shard_, nullptr);
        id_ = std::exchange(o.id_, 0);
    }
    return *this;
}

void subscription_handle::reset() {
    if (shard_) shard_->unsubscribe(id_);
    shard_ = nullptr;
    id_ = 0;
}

// ---- publish entry -----------------------------------------------------------------------------

std::optional<publish_error> hub_shard::publish(std::string_view topic,
                                                std::string_view content_type,
                                                sy::shared_bytes payload, publish_callback done,
                                                publish_origin origin) {
    auto refuse = [&done](publish_error e) -> std::optional<publish_error> {
        if (done) done(unexpected(e));
        return e;
    };
    if (!validate_topic(topic, hub_.settings_.limits)) return refuse(publish_error::invalid_topic);
    if (!valid_content_type(content_type)) return refuse(publish_error::invalid_content_type);
    // The one reserved-prefix check for every transport (they all publish through here).
    const bool reserved = hub_.settings_.reserved(topic);
    if (origin == publish_origin::client && reserved) return refuse(publish_error::reserved_topic);
    // The server's own topics (sys.*: this node's figures, jobs.*: this node's jobs) are
    // numbered here even by a backplane's log, so they do not depend on it.
    const bool own = origin == publish_origin::server && reserved;
    if (!own && !log_->available(topic)) return refuse(publish_error::log_unavailable);
    // Checked here, on the publisher's shard, once for every subscriber on every loop.
    const bool utf8 = is_valid_utf8(payload.bytes());
    const unsigned owner = hub_.owner_of(topic);
    if (owner == index_) {
        owner_publish(std::string(topic), std::string(content_type), std::move(payload), utf8,
                      index_, std::move(done));
        return std::nullopt;
    }
    hub_shard* o = hub_.shards_[owner].get();
    hub_.post_(owner, [o, n = std::string(topic), c = std::string(content_type),
                       p = std::move(payload), utf8, me = index_, d = std::move(done)]() mutable {
        o->owner_publish(std::move(n), std::move(c), std::move(p), utf8, me, std::move(d));
    });
    return std::nullopt;
}

// ---- subscriptions -----------------------------------------------------------------------------

result<subscription_handle, topic_error> hub_shard::subscribe(std::string_view pattern,
                                                              subscriber* s,
                                                              subscribe_options opts) {
    if (auto v = validate_pattern(pattern, hub_.settings_.limits); !v) return unexpected(v.error());
    return add_subscription(pattern, s, opts, {}, 0);
}

subscription_handle hub_shard::add_subscription(std::string_view pattern, subscriber* s,
                                                subscribe_options opts, history_callback waiter,
                                                std::size_t waiter_limit) {
    auto owned = std::make_unique<subscription>();
    subscription& sub = *owned;
    sub.id = next_id_++;
    sub.pattern = std::string(pattern);
    sub.literal = is_literal(pattern);
    sub.transport = s ? s->transport() : subscriber_transport::long_poll;
    sub.target = s;
    sub.start = sub.literal ? opts.start : start_from::live;  // wildcard: live only
    sub.since = opts.since;
    sub.epoch = opts.epoch;
    sub.last_id = 0;
    sub.resuming = sub.start != start_from::live;
    sub.waiter = std::move(waiter);  // set before the history request, which may answer inline
    sub.waiter_limit = waiter_limit;
    // Registration (sublist + interest count) happens before the history request is posted, so
    // any message the owner publishes after answering reaches this shard: no hole.
    subs_.insert(sub.pattern, &sub);
    hub_.shared_[index_].interest.fetch_add(1, std::memory_order_relaxed);
    interest_changed(sub.pattern, true);
    hub::bump(hub_.shared_[index_].subscribers[static_cast<std::size_t>(sub.transport)]);
    const subscription_id id = sub.id;
    by_id_.emplace(id, std::move(owned));
    if (sub.resuming) request_history(sub);
    return subscription_handle(this, id);
}

void hub_shard::request_history(subscription& sub) {
    hub_shard* o = hub_.shards_[hub_.owner_of(sub.pattern)].get();
    const bool newest = sub.start == start_from::newest;
    const std::size_t limit = sub.waiter ? sub.waiter_limit : 0;
    run_on(o->index_,
           [o, me = this, id = sub.id, name = sub.pattern, since = sub.since, newest, limit]() {
               o->owner_read(name, since, limit, newest, me->index_,
                             [me, id](log_slice snap) { me->resume_reply(id, std::move(snap)); });
           });
}

void hub_shard::interest_changed(const std::string& pattern, bool added) {
    if (!hub_.settings_.on_interest) return;
    if (added) {
        if (++pattern_refs_[pattern] == 1) hub_.settings_.on_interest(index_, pattern, true);
        return;
    }
    auto it = pattern_refs_.find(pattern);
    if (it == pattern_refs_.end() || --it->second > 0) return;
    pattern_refs_.erase(it);
    hub_.settings_.on_interest(index_, pattern, false);
}

void hub_shard::unsubscribe(subscription_id id) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) remove(*it->second);
}

void hub_shard::remove(subscription& s) {
    subs_.remove(s.pattern, &s);
    hub_.shared_[index_].interest.fetch_sub(1, std::memory_order_relaxed);
    interest_changed(s.pattern, false);
    hub::bump(hub_.shared_[index_].subscribers[static_cast<std::size_t>(s.transport)],
              ~std::uint64_t{0});  // minus one
    s.dead = true;
    for (const std::string& t : s.over_cap_topics) {
        hub_shard* o = hub_.shards_[hub_.owner_of(t)].get();
        run_on(o->index_, [o, t] { o->owner_over_cap(t, -1); });
    }
    s.over_cap_topics.clear();
    auto it = by_id_.find(s.id);
    // Inside a dispatch the subscription may still be in a match list: keep its memory until
    // the outermost dispatch ends.
    if (depth_ > 0) graveyard_.push_back(std::move(it->second));
    by_id_.erase(it);
}

void hub_shard::release_graveyard() {
    graveyard_.clear();
}

// ---- dispatch ----------------------------------------------------------------------------------

std::uint64_t hub_shard::deliver_local(const message_ptr& m) {
    if (scratch_.size() <= depth_) scratch_.emplace_back();
    std::vector<subscription*>& matches = scratch_[depth_];  // deque: stable across nesting
    matches.clear();
    subs_.match(m->topic, matches);
    if (matches.empty()) return 0;
    ++depth_;
    const delivery d(m);
    std::uint64_t reached = 0;
    for (subscription* s : matches) {
        if (!s->dead && offer(*s, d)) ++reached;
    }
    matches.clear();
    if (--depth_ == 0) release_graveyard();
    return reached;
}

bool hub_shard::offer(subscription& s, const delivery& d) {
    const message& m = d.msg();
    if (s.resuming) {
        s.buffered.push_back(d.message_ptr_ref());
        return true;
    }
    if (s.literal) {
        if (m.epoch == s.epoch && m.id <= s.last_id) return false;  // replayed from history
        // A hole in a numbered-elsewhere topic (a backplane message missed while its link was
        // down, or published between a resume's read and its channel subscription): fill it
        // from the log the way a resume does, keeping this message buffered meanwhile.
        if (m.epoch != 0 && m.epoch == s.epoch && s.last_id != 0 && m.id > s.last_id + 1 &&
            !s.waiter) {
            s.resuming = true;
            s.start = start_from::since;
            s.since = s.last_id;
            s.buffered.push_back(d.message_ptr_ref());
            request_history(s);
            return true;
        }
        s.last_id = m.id;
        s.epoch = m.epoch;
    }
    if (s.waiter) {
        history_result r;
        r.messages.push_back(d.message_ptr_ref());
        r.last_id = m.id;
        finish_waiter(s, std::move(r));
        return true;
    }
    s.target->on_message(d);
    return true;
}

void hub_shard::finish_waiter(subscription& s, history_result r) {
    history_callback cb = std::move(s.waiter);
    remove(s);
    cb(std::move(r));
}

void hub_shard::resume_reply(subscription_id id, log_slice snap) {
    auto it = by_id_.find(id);
    if (it == by_id_.end() || !it->second->resuming) return;  // unsubscribed meanwhile
    subscription& s = *it->second;
    ++depth_;
    s.resuming = false;
    std::vector<message_ptr> buffered = std::move(s.buffered);
    if (snap.failed) {
        resume_unread(s, std::move(buffered));
        if (--depth_ == 0) release_graveyard();
        return;
    }
    const std::uint64_t epoch = snap.top.epoch;
    if (s.epoch != 0 && s.epoch != epoch && s.since != 0) {
        // A token of another (lost) epoch: its offset means nothing here, read from the start.
        s.since = 0;
        s.epoch = epoch;
        s.resuming = true;
        s.buffered = std::move(buffered);
        request_history(s);
        if (--depth_ == 0) release_graveyard();
        return;
    }
    s.epoch = epoch;
    if (s.waiter) {
        history_result r = to_history(std::move(snap), s.since, epoch);
        s.last_id = std::min(s.since, r.last_id);
        std::uint64_t last = r.messages.empty() ? s.last_id : r.messages.back()->id;
        for (const message_ptr& m : buffered) {
            if (r.more || (s.waiter_limit > 0 && r.messages.size() >= s.waiter_limit)) break;
            if (m->epoch != epoch || m->id <= last) continue;
            r.messages.push_back(m);
            last = m->id;
        }
        if (r.lost > 0 || !r.messages.empty()) finish_waiter(s, std::move(r));
    } else {
        if (s.start == start_from::since) {
            s.last_id = std::min(s.since, snap.top.last);
            if (snap.top.first_available > s.last_id + 1) {
                send_gap(s, s.last_id + 1, snap.top.first_available - 1, epoch);
            }
        }
        for (const message_ptr& m : snap.messages) {
            if (s.dead) break;
            if (m->epoch != epoch || m->id <= s.last_id) continue;
            s.last_id = m->id;
            s.target->on_message(delivery(m));
        }
        for (std::size_t i = 0; i < buffered.size() && !s.dead; ++i) {
            const message_ptr& m = buffered[i];
            if (m->epoch != epoch || m->id <= s.last_id) continue;
            // A log numbered elsewhere may leave a hole between what the read returned and
            // the first live message (published between the read and the channel
            // subscription): read again after the last delivered id, keep the rest buffered.
            if (epoch != 0 && m->id > s.last_id + 1) {
                s.resuming = true;
                s.since = s.last_id;
                s.buffered.assign(buffered.begin() + static_cast<std::ptrdiff_t>(i),
                                  buffered.end());
                request_history(s);
                break;
            }
            s.last_id = m->id;
            s.target->on_message(delivery(m));
        }
    }
    if (--depth_ == 0) release_graveyard();
}

void hub_shard::send_gap(subscription& s, std::uint64_t from, std::uint64_t to,
                         std::uint64_t epoch) {
    auto gap = std::make_shared<message>();
    gap->topic = s.pattern;
    gap->kind = message_kind::gap;
    gap->gap_from = from;
    gap->gap_to = to;
    gap->id = to;
    gap->epoch = epoch;
    gap->time_ms = hub_.now();
    gap->policy = &hub_.policy_for(s.pattern);
    s.last_id = to;
    s.target->on_message(delivery(std::move(gap)));
}

void hub_shard::resume_unread(subscription& s, std::vector<message_ptr> buffered) {
    if (s.waiter) {
        if (buffered.empty()) return;  // keeps waiting for a live message
        history_result r;
        r.messages.push_back(buffered.front());
        r.last_id = buffered.front()->id;
        r.epoch = buffered.front()->epoch;
        finish_waiter(s, std::move(r));
        return;
    }
    for (const message_ptr& m : buffered) {
        if (s.dead) break;
        const bool same = m->epoch == s.epoch;
        if (same && m->id <= s.last_id) continue;
        // Never a silent hole: what the log could not give back is announced.
        if (same && s.last_id != 0 && m->id > s.last_id + 1) {
            send_gap(s, s.last_id + 1, m->id - 1, m->epoch);
        }
        s.last_id = m->id;
        s.epoch = m->epoch;
        s.target->on_message(delivery(m));
    }
}

// ---- polls and stats ---------------------------------------------------------------------------

void hub_shard::history(std::string_view topic, std::uint64_t since, std::size_t limit,
                        history_callback done, std::uint64_t epoch) {
    if (auto v = validate_topic(topic, hub_.settings_.limits); !v) {
        done(unexpected(v.error()));
        return;
    }
    hub_shard* o = hub_.shards_[hub_.owner_of(topic)].get();
    run_on(o->index_, [o, me = this, name = std::string(topic), since, limit, epoch,
                       done = std::move(done)]() mutable {
        o->owner_read(
            name, since, limit, false, me->index_,
            [o, me, name, since, limit, epoch, done = std::move(done)](log_slice snap) mutable {
                if (epoch == 0 || epoch == snap.top.epoch || since == 0) {
                    return done(to_history(std::move(snap), since, epoch));
                }
                // Another epoch's position: read from the start (to_history reports the gap).
                me->run_on(o->index_, [o, me, name, limit, done = std::move(done)]() mutable {
                    o->owner_read(name, 0, limit, false, me->index_,
                                  [done = std::move(done)](log_slice s) mutable {
                                      done(to_history(std::move(s), 0, 0));
                                  });
                });
            });
    });
}

result<subscription_handle, topic_error> hub_shard::next_after(std::string_view topic,
                                                               std::uint64_t since,
                                                               std::size_t limit,
                                                               history_callback done,
                                                               std::uint64_t epoch) {
    if (auto v = validate_topic(topic, hub_.settings_.limits); !v) return unexpected(v.error());
    // A one-shot literal subscription resuming after `since`; resume_reply answers from
    // history when it can, otherwise offer() answers with the next live message.
    return add_subscription(topic, nullptr, subscribe_options::after(since, epoch), std::move(done),
                            limit);
}

std::uint64_t hub_shard::count_matches(std::string_view topic) {
    if (scratch_.size() <= depth_) scratch_.emplace_back();
    std::vector<subscription*>& matches = scratch_[depth_];
    matches.clear();
    subs_.match(topic, matches);
    const auto n = static_cast<std::uint64_t>(
        std::count_if(matches.begin(), matches.end(), [](subscription* s) { return !s->dead; }));
    matches.clear();
    return n;
}

void hub_shard::stats(std::string_view topic, stats_callback done) {
    if (auto v = validate_topic(topic, hub_.settings_.limits); !v) {
        done(unexpected(v.error()));
        return;
    }
    // Scatter-gather: the owner reports the topic's counters, every shard its matching
    // subscriptions; `g` is only touched on this shard.
    struct gather {
        topic_stats st;
        unsigned waiting = 0;
        stats_callback done;
    };
    auto g = std::make_shared<gather>();
    g->waiting = hub_.shard_count() + 1;
    g->done = std::move(done);
    auto step = [](gather& gr) {
        if (--gr.waiting == 0) gr.done(gr.st);
    };
    const std::string name(topic);
    hub_shard* o = hub_.shards_[hub_.owner_of(topic)].get();
    run_on(o->index_, [o, me = this, g, name, step]() {
        topic_stats st;
        auto it = o->topics_.find(name);
        if (it != o->topics_.end()) {
            topic_state& t = *it->second;
            const log_top top = o->log_->top(name);
            std::uint64_t deliveries = 0;
            for (unsigned d = 0; d < o->hub_.shard_count(); ++d) {
                deliveries += t.delivered[d].load(std::memory_order_relaxed);
            }
            st = topic_stats{top.last,    top.retained, 0,
                             t.publishes, deliveries,   static_cast<std::uint64_t>(t.over_cap)};
        }
        o->run_on(me->index_, [g, st, step]() {
            const std::uint64_t subs = g->st.subscribers;
            g->st = st;
            g->st.subscribers = subs;
            step(*g);
        });
    });
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        hub_shard* s = hub_.shards_[d].get();
        run_on(d, [s, me = this, g, name, step]() {
            const std::uint64_t n = s->count_matches(name);
            s->run_on(me->index_, [g, n, step]() {
                g->st.subscribers += n;
                step(*g);
            });
        });
    }
}

void hub_shard::count_subscribers(std::string_view topic,
                                  unique_function<void(std::uint64_t)> done) {
    struct gather {
        std::uint64_t n = 0;
        unsigned waiting = 0;
        unique_function<void(std::uint64_t)> done;
    };
    std::vector<unsigned> asked;
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        if (hub_.shared_[d].interest.load(std::memory_order_relaxed) > 0) asked.push_back(d);
    }
    if (asked.empty()) {
        done(0);
        return;
    }
    auto g = std::make_shared<gather>();
    g->waiting = static_cast<unsigned>(asked.size());
    g->done = std::move(done);
    const std::string name(topic);
    for (unsigned d : asked) {
        hub_shard* s = hub_.shards_[d].get();
        run_on(d, [s, me = this, g, name]() {
            const std::uint64_t n = s->count_matches(name);
            s->run_on(me->index_, [g, n]() {
                g->n += n;
                if (--g->waiting == 0) g->done(g->n);
            });
        });
    }
}

// ---- the list of every topic -------------------------------------------------------------------

std::vector<topic_info> hub_shard::owned_topics() {
    std::vector<topic_info> out;
    out.reserve(topics_.size());
    for (auto& [name, tp] : topics_) {
        topic_state& t = *tp;
        const log_top top = log_->top(name);
        topic_info ti;
        ti.name = name;
        ti.stats.last_id = top.last;
        ti.stats.history_count = top.retained;
        ti.stats.publishes = t.publishes;
        for (unsigned d = 0; d < hub_.shard_count(); ++d) {
            ti.stats.deliveries += t.delivered[d].load(std::memory_order_relaxed);
        }
        ti.stats.over_cap = static_cast<std::uint64_t>(t.over_cap);
        out.push_back(std::move(ti));
    }
    return out;
}

void hub_shard::count_by_transport(std::string_view topic,
                                   std::array<std::uint64_t, subscriber_transport_count>& out) {
    if (scratch_.size() <= depth_) scratch_.emplace_back();
    std::vector<subscription*>& matches = scratch_[depth_];
    matches.clear();
    subs_.match(topic, matches);
    for (subscription* s : matches) {
        if (s->dead) continue;
        auto t = s->target ? s->target->transport() : subscriber_transport::long_poll;
        out[static_cast<std::size_t>(t)]++;
    }
    matches.clear();
}

void hub_shard::list_topics(topics_callback done) {
    // Only touched on this shard: each reply is posted back here before it is applied.
    struct gather {
        std::vector<topic_info> topics;
        unsigned waiting = 0;
        topics_callback done;
    };
    auto g = std::make_shared<gather>();
    g->waiting = hub_.shard_count();
    g->done = std::move(done);
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        hub_shard* s = hub_.shards_[d].get();
        run_on(d, [s, me = this, g]() {
            auto part = s->owned_topics();
            s->run_on(me->index_, [me, g, part = std::move(part)]() mutable {
                for (auto& t : part) g->topics.push_back(std::move(t));
                if (--g->waiting == 0) me->count_topic_subscribers(g->topics, std::move(g->done));
            });
        });
    }
}

void hub_shard::count_topic_subscribers(std::vector<topic_info>& topics, topics_callback done) {
    std::sort(topics.begin(), topics.end(),
              [](const topic_info& a, const topic_info& b) { return a.name < b.name; });
    struct gather {
        std::vector<topic_info> topics;
        unsigned waiting = 0;
        topics_callback done;
    };
    auto g = std::make_shared<gather>();
    g->topics = std::move(topics);
    g->waiting = hub_.shard_count();
    g->done = std::move(done);
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(g->topics.size());
    for (const auto& t : g->topics) names->push_back(t.name);
    using counts = std::vector<std::array<std::uint64_t, subscriber_transport_count>>;
    for (unsigned d = 0; d < hub_.shard_count(); ++d) {
        hub_shard* s = hub_.shards_[d].get();
        run_on(d, [s, me = this, g, names]() {
            counts c(names->size());
            for (std::size_t i = 0; i < names->size(); ++i)
                s->count_by_transport((*names)[i], c[i]);
            s->run_on(me->index_, [g, c = std::move(c)]() {
                for (std::size_t i = 0; i < c.size(); ++i) {
                    for (std::size_t k = 0; k < subscriber_transport_count; ++k) {
                        g->topics[i].subscribers_by[k] += c[i][k];
                        g->topics[i].stats.subscribers += c[i][k];
                    }
                }
                if (--g->waiting == 0) g->done(std::move(g->topics));
            });
        });
    }
}

// ---- slow-subscriber policy --------------------------------------------------------------------

void hub_shard::set_over_cap(subscription_id id, std::string_view topic, bool over) {
    auto it = by_id_.find(id);
    if (it == by_id_.end() || !validate_topic(topic, hub_.settings_.limits)) return;
    std::vector<std::string>& marks = it->second->over_cap_topics;
    auto mark = std::find(marks.begin(), marks.end(), topic);
    if (over == (mark != marks.end())) return;  // no change: no post
    if (over) {
        marks.emplace_back(topic);
    } else {
        marks.erase(mark);
    }
    hub_shard* o = hub_.shards_[hub_.owner_of(topic)].get();
    run_on(o->index_, [o, t = std::string(topic), over] { o->owner_over_cap(t, over ? 1 : -1); });
}

void hub_shard::count_drop(std::uint64_t n) {
    hub_.shared_[index_].drops.fetch_add(n, std::memory_order_relaxed);
}

void hub_shard::count_disconnect() {
    hub_.shared_[index_].disconnects.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sy::hub
