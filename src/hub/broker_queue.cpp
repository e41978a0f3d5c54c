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

bool broker_queue::enqueue(queue_entry e, std::int64_t now_ms) {
    if (args.max_length || args.max_length_bytes) {
        auto over = [&](std::uint64_t extra) {
            return (args.max_length && ready_.size() + 1 > *args.max_length) ||
                   (args.max_length_bytes && ready_bytes_ + extra > *args.max_length_bytes);
        };
        if (args.overflow == overflow_policy::reject_publish) {
            if (over(e.msg->body.size())) return false;
        } else {
            while (!ready_.empty() && over(e.msg->body.size())) {
                drop_head_one(now_ms, dead_reason::maxlen);
            }
            if (args.max_length && *args.max_length == 0) {
                notify(queue_event::enqueued, e);
                notify(queue_event::dropped, e);
                broker_->dead_letter(*vh_, *this, std::move(e), dead_reason::maxlen, now_ms);
                return true;
            }
        }
    }
    if (e.expires_at_ms == 0) e.expires_at_ms = expiry_for(e, now_ms);
    e.seq = next_seq_++;
    ready_bytes_ += e.msg->body.size();
    ready_.push_back(std::move(e));
    notify(queue_event::enqueued, ready_.back());
    dispatch(now_ms);
    // TTL 0: not taken by a consumer in this dispatch -> expired now.
    if (!ready_.empty() && ready_.back().expires_at_ms != 0 &&
        ready_.back().expires_at_ms <= now_ms) {
        expire(now_ms);
    }
    return true;
}

void broker_queue::drop_head_one(std::int64_t now_ms, dead_reason why) {
    queue_entry e = std::move(ready_.front());
    ready_.pop_front();
    ready_bytes_ -= e.msg->body.size();
    if (why == dead_reason::expired) broker_->stats().expired++;
    if (why == dead_reason::maxlen) broker_->stats().dropped++;
    notify(queue_event::dropped, e);
    if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
    e.store_id = 0;
    broker_->dead_letter(*vh_, *this, std::move(e), why, now_ms);
}

void broker_queue::expire(std::int64_t now_ms) {
    // RabbitMQ expires only at the head of the queue too (messages behind a live head wait).
    while (!ready_.empty() && ready_.front().expires_at_ms != 0 &&
           ready_.front().expires_at_ms <= now_ms) {
        drop_head_one(now_ms, dead_reason::expired);
    }
}

void broker_queue::dispatch(std::int64_t now_ms) {
    if (consumers_.empty() || ready_.empty()) return;
    auto self = shared_from_this();
    std::size_t idle = 0;  // consecutive consumers without credit
    while (!ready_.empty() && idle < consumers_.size()) {
        if (rr_ >= consumers_.size()) rr_ = 0;
        broker_consumer* c = consumers_[rr_].c;
        rr_++;
        if (!c->has_credit()) {
            idle++;
            continue;
        }
        idle = 0;
        if (ready_.front().expires_at_ms != 0 && ready_.front().expires_at_ms < now_ms) {
            drop_head_one(now_ms, dead_reason::expired);
            continue;
        }
        queue_entry e = std::move(ready_.front());
        ready_.pop_front();
        ready_bytes_ -= e.msg->body.size();
        broker_->stats().delivered++;
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
    if (ready_.empty()) return std::nullopt;
    queue_entry e = std::move(ready_.front());
    ready_.pop_front();
    ready_bytes_ -= e.msg->body.size();
    broker_->stats().delivered++;
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
    // Back at its original place, as RabbitMQ (publish order survives requeues): usually the head.
    auto at = std::upper_bound(ready_.begin(), ready_.end(), e.seq,
                               [](std::uint64_t s, const queue_entry& x) { return s < x.seq; });
    auto it = ready_.insert(at, std::move(e));
    notify(queue_event::requeued, *it);
}

std::size_t broker_queue::purge() {
    std::size_t n = ready_.size();
    for (auto& e : ready_) {
        notify(queue_event::dropped, e);
        if (e.store_id != 0 && broker_->observer()) broker_->observer()->on_settled(e.store_id);
    }
    ready_.clear();
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
