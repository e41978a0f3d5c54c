// broker_queue: ready list, round-robin dispatch with consumer credit, TTL, max-length and
// dead-lettering. See broker.hpp for the threading and lifetime contract.
#include <algorithm>

#include "switchyard/hub/broker.hpp"

namespace sy::hub {

std::int64_t broker_queue::expiry_for(const queue_entry& e, std::int64_t now_ms) const {
    std::optional<std::uint64_t> ttl = args.message_ttl_ms;
    if (e.msg->ttl_ms && (!ttl || *e.msg->ttl_ms < *ttl)) ttl = e.msg->ttl_ms;
    if (!ttl) return 0;
    // RabbitMQ: TTL 0 means "deliver now or drop"; expires_at == now makes the head check drop
    // it unless a consumer takes it in the same dispatch.
    return now_ms + static_cast<std::int64_t>(*ttl);
}

std::deque<queue_entry>& broker_queue::list_for(const queue_entry& e) {
    if (!prio_) return ready_;
    // RabbitMQ: a priority above the queue's maximum counts as the maximum.
    std::size_t p = std::min<std::size_t>(e.msg->priority, prio_->levels.size() - 1);
    if (p > prio_->top) prio_->top = p;
    return prio_->levels[p];
}

std::deque<queue_entry>& broker_queue::head_list() {
    if (!prio_) return ready_;
    while (prio_->top > 0 && prio_->levels[prio_->top].empty()) prio_->top--;
    return prio_->levels[prio_->top];
}

bool broker_queue::head_may_expire() {
    if (!prio_) return !ready_.empty() && ready_.front().expires_at_ms != 0;
    return prio_->count != 0;
}

bool broker_queue::enqueue(queue_entry e, std::int64_t now_ms) {
    if (args.max_length || args.max_length_bytes) {
        auto over = [&](std::uint64_t extra) {
            return (args.max_length && ready_count() + 1 > *args.max_length) ||
                   (args.max_length_bytes && ready_bytes_ + extra > *args.max_length_bytes);
        };
        if (args.overflow == overflow_policy::reject_publish) {
            if (over(e.msg->body.size())) return false;
        } else {
            while (ready_count() != 0 && over(e.msg->body.size())) {
                drop_head_one(now_ms, dead_reason::maxlen);
            }
            if (args.max_length && *args.max_length == 0) {
                counters_.publish++;
                notify(queue_event::enqueued, e);
                notify(queue_event::dropped, e);
                broker_->dead_letter(*vh_, *this, std::move(e), dead_reason::maxlen, now_ms);
                return true;
            }
        }
    }
    counters_.publish++;
    if (e.expires_at_ms == 0) e.expires_at_ms = expiry_for(e, now_ms);
    e.seq = next_seq_++;
    ready_bytes_ += e.msg->body.size();
    std::deque<queue_entry>& list = list_for(e);
    list.push_back(std::move(e));
    if (prio_) prio_->count++;
    notify(queue_event::enqueued, list.back());
    dispatch(now_ms);
    // TTL 0: not taken by a consumer in this dispatch -> expired now.
    if (!list.empty() && list.back().expires_at_ms != 0 && list.back().expires_at_ms <= now_ms) {
        expire(now_ms);
    }
    return true;
}

void broker_queue::drop_head_one(std::int64_t now_ms, dead_reason why) {
    drop_one(head_list(), now_ms, why);
}

void broker_queue::drop_one(std::deque<queue_entry>& from, std::int64_t now_ms, dead_reason why) {
    queue_entry e = std::move(from.front());
    from.pop_front();
    if (prio_) prio_->count--;
    ready_bytes_ -= e.msg->body.size();
    if (why == dead_reason::expired) broker_->stats().expired++;
    if (why == dead_reason::maxlen) broker_->stats().dropped++;
    notify(queue_event::dropped, e);
    if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
    e.store_id = 0;
    broker_->dead_letter(*vh_, *this, std::move(e), why, now_ms);
}

void broker_queue::expire(std::int64_t now_ms) {
    // RabbitMQ expires only at the head of the queue too (messages behind a live head wait); a
    // priority queue at the head of each level.
    auto drop_expired = [&](std::deque<queue_entry>& l) {
        while (!l.empty() && l.front().expires_at_ms != 0 && l.front().expires_at_ms <= now_ms) {
            drop_one(l, now_ms, dead_reason::expired);
        }
    };
    if (!prio_) return drop_expired(ready_);
    for (std::size_t p = prio_->levels.size(); p-- > 0;) drop_expired(prio_->levels[p]);
}

void broker_queue::dispatch(std::int64_t now_ms) {
    if (consumers_.empty() || ready_count() == 0) return;
    auto self = shared_from_this();
    std::size_t idle = 0;  // consecutive consumers without credit
    while (ready_count() != 0 && idle < consumers_.size()) {
        if (rr_ >= consumers_.size()) rr_ = 0;
        broker_consumer* c = consumers_[rr_].c;
        rr_++;
        if (!c->has_credit()) {
            idle++;
            continue;
        }
        idle = 0;
        std::deque<queue_entry>& head = head_list();
        if (head.front().expires_at_ms != 0 && head.front().expires_at_ms < now_ms) {
            drop_one(head, now_ms, dead_reason::expired);
            continue;
        }
        queue_entry e = std::move(head.front());
        head.pop_front();
        if (prio_) prio_->count--;
        ready_bytes_ -= e.msg->body.size();
        broker_->stats().delivered++;
        (c->no_ack() ? counters_.deliver_no_ack : counters_.deliver)++;
        if (e.redelivered) {
            counters_.redeliver++;
            broker_->stats().redelivered++;
        }
        notify(queue_event::delivered, e);
        if (c->no_ack()) {
            notify(queue_event::acked, e);
            if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
        } else {
            unacked_++;
        }
        c->deliver(self, std::move(e));
        if (consumers_.empty()) break;  // deliver may cancel
    }
}

std::optional<queue_entry> broker_queue::get(bool no_ack, std::int64_t now_ms) {
    last_used_ms = now_ms;
    expire(now_ms);
    if (ready_count() == 0) return std::nullopt;
    std::deque<queue_entry>& head = head_list();
    queue_entry e = std::move(head.front());
    head.pop_front();
    if (prio_) prio_->count--;
    ready_bytes_ -= e.msg->body.size();
    broker_->stats().delivered++;
    (no_ack ? counters_.get_no_ack : counters_.get)++;
    if (e.redelivered) {
        counters_.redeliver++;
        broker_->stats().redelivered++;
    }
    notify(queue_event::delivered, e);
    if (no_ack) {
        notify(queue_event::acked, e);
        if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
        e.store_id = 0;
    } else {
        unacked_++;
    }
    return e;
}

void broker_queue::ack(const queue_entry& e) {
    if (unacked_ > 0) unacked_--;
    broker_->stats().acked++;
    counters_.ack++;
    notify(queue_event::acked, e);
    if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
}

void broker_queue::reject(queue_entry e, std::int64_t now_ms) {
    if (unacked_ > 0) unacked_--;
    notify(queue_event::rejected, e);
    if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
    e.store_id = 0;
    if (deleted_) return;
    broker_->dead_letter(*vh_, *this, std::move(e), dead_reason::rejected, now_ms);
}

void broker_queue::requeue(queue_entry e) {
    if (unacked_ > 0) unacked_--;
    if (deleted_) {
        notify(queue_event::dropped, e);
        if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
        return;
    }
    e.redelivered = true;
    ready_bytes_ += e.msg->body.size();
    // Back at its original place, as RabbitMQ (publish order survives requeues): usually the head
    // (of its priority level in a priority queue).
    std::deque<queue_entry>& list = list_for(e);
    auto at = std::upper_bound(list.begin(), list.end(), e.seq,
                               [](std::uint64_t s, const queue_entry& x) { return s < x.seq; });
    auto it = list.insert(at, std::move(e));
    if (prio_) prio_->count++;
    notify(queue_event::requeued, *it);
}

std::size_t broker_queue::purge() {
    std::size_t n = ready_count();
    auto drop_all = [&](std::deque<queue_entry>& l) {
        for (auto& e : l) {
            notify(queue_event::dropped, e);
            if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
        }
        l.clear();
    };
    drop_all(ready_);
    if (prio_) {
        for (std::size_t p = prio_->levels.size(); p-- > 0;) drop_all(prio_->levels[p]);
        prio_->count = 0;
        prio_->top = 0;
    }
    ready_bytes_ = 0;
    return n;
}

void broker_queue::add_consumer(std::string tag, broker_consumer* c) {
    consumers_.push_back({std::move(tag), c});
    had_consumer_ = true;
}

bool broker_queue::remove_consumer(broker_consumer* c) {
    auto it = std::find_if(consumers_.begin(), consumers_.end(),
                           [c](const consumer_rec& r) { return r.c == c; });
    if (it == consumers_.end()) return false;
    consumers_.erase(it);
    exclusive_consumer = false;
    return true;
}

bool broker_queue::has_consumer(std::string_view tag) const {
    return std::any_of(consumers_.begin(), consumers_.end(),
                       [tag](const consumer_rec& r) { return r.tag == tag; });
}

}  // namespace sy::hub
