#include "switchyard/hub/work_queue.hpp"

#include <algorithm>

namespace sy::hub {

std::string_view to_string(dead_letter_reason r) {
    switch (r) {
        case dead_letter_reason::rejected:
            return "rejected";
        case dead_letter_reason::expired:
            return "expired";
        case dead_letter_reason::max_length:
            return "maxlen";
        case dead_letter_reason::delivery_limit:
            return "delivery_limit";
    }
    return "unknown";
}

std::string_view to_string(work_error e) {
    switch (e) {
        case work_error::full:
            return "queue full";
        case work_error::unknown_tag:
            return "unknown delivery tag";
        case work_error::unknown_consumer:
            return "unknown consumer";
    }
    return "unknown";
}

work_queue::work_queue(work_queue_settings s, dead_letter_fn dead_letter)
    : settings_(s), dead_letter_(std::move(dead_letter)) {}

result<std::uint64_t, work_error> work_queue::enqueue(std::string_view content_type,
                                                      sy::shared_bytes payload, std::int64_t now_ms,
                                                      std::optional<std::int64_t> ttl_ms) {
    if (settings_.max_length > 0 && ready_.size() >= settings_.max_length) {
        if (settings_.overflow == overflow_policy::reject_publish) {
            ++st_.rejected;
            return unexpected(work_error::full);
        }
        queued_message head = std::move(ready_.front());
        ready_.pop_front();
        if (head.expires_ms) --ttl_count_;
        ++st_.dropped;
        dead_letter(std::move(head), dead_letter_reason::max_length);
    }
    queued_message m;
    m.id = next_id_++;
    m.content_type = std::string(content_type);
    m.payload = std::move(payload);
    m.enqueued_ms = now_ms;
    const std::int64_t ttl = ttl_ms.value_or(settings_.default_ttl_ms);
    if (ttl > 0) {
        m.expires_ms = now_ms + ttl;
        ++ttl_count_;
    }
    const std::uint64_t id = m.id;
    ready_.push_back(std::move(m));
    ++st_.enqueued;
    dispatch(now_ms);
    return id;
}

consumer_id work_queue::add_consumer(work_consumer* c, std::uint32_t prefetch,
                                     std::int64_t now_ms) {
    const consumer_id id = next_consumer_++;
    consumers_.push_back(consumer_rec{id, c, prefetch});
    dispatch(now_ms);
    return id;
}

work_queue::consumer_rec* work_queue::find_consumer(consumer_id id) {
    auto it = std::find_if(consumers_.begin(), consumers_.end(),
                           [id](const consumer_rec& c) { return c.id == id; });
    return it == consumers_.end() ? nullptr : &*it;
}

result<void, work_error> work_queue::remove_consumer(consumer_id id, std::int64_t now_ms) {
    auto it = std::find_if(consumers_.begin(), consumers_.end(),
                           [id](const consumer_rec& c) { return c.id == id; });
    if (it == consumers_.end()) return unexpected(work_error::unknown_consumer);
    const auto pos = static_cast<std::size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (rr_ > pos) --rr_;
    if (rr_ >= consumers_.size()) rr_ = 0;
    // Requeue its leases, highest id first onto the head, so they come back in id order.
    std::vector<std::uint64_t> tags;
    for (const auto& [tag, l] : unacked_) {
        if (l.consumer == id) tags.push_back(tag);
    }
    std::sort(tags.begin(), tags.end(), [this](std::uint64_t a, std::uint64_t b) {
        return unacked_.at(a).msg.id > unacked_.at(b).msg.id;
    });
    for (std::uint64_t tag : tags) requeue(settle(unacked_.find(tag)).msg);
    dispatch(now_ms);
    return {};
}

std::optional<work_delivery> work_queue::get(std::int64_t now_ms) {
    std::optional<queued_message> m = take_ready(now_ms);
    if (!m) return std::nullopt;
    return hand_out(std::move(*m), 0, now_ms);
}

result<void, work_error> work_queue::ack(std::uint64_t tag, std::int64_t now_ms) {
    auto it = unacked_.find(tag);
    if (it == unacked_.end()) return unexpected(work_error::unknown_tag);
    settle(it);
    ++st_.acked;
    dispatch(now_ms);
    return {};
}

result<void, work_error> work_queue::nack(std::uint64_t tag, bool requeue_it, std::int64_t now_ms) {
    auto it = unacked_.find(tag);
    if (it == unacked_.end()) return unexpected(work_error::unknown_tag);
    queued_message m = settle(it).msg;
    ++st_.nacked;
    if (requeue_it) {
        requeue(std::move(m));
    } else {
        dead_letter(std::move(m), dead_letter_reason::rejected);
    }
    dispatch(now_ms);
    return {};
}

void work_queue::tick(std::int64_t now_ms) {
    // Visibility timeouts: the oldest deadlines first.
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
        const std::uint64_t tag = deadlines_.begin()->second;
        ++st_.timeouts;
        requeue(settle(unacked_.find(tag)).msg);
    }
    // TTLs anywhere in the ready queue (not only at the head, unlike AMQP), so expired jobs do
    // not linger behind a long-lived one.
    if (ttl_count_ > 0) {
        std::deque<queued_message> keep;
        for (queued_message& m : ready_) {
            if (m.expires_ms && m.expires_ms <= now_ms) {
                --ttl_count_;
                ++st_.expired;
                dead_letter(std::move(m), dead_letter_reason::expired);
            } else {
                keep.push_back(std::move(m));
            }
        }
        ready_.swap(keep);
    }
    dispatch(now_ms);
}

work_queue_stats work_queue::stats() const {
    work_queue_stats s = st_;
    s.ready = ready_.size();
    s.unacked = unacked_.size();
    s.consumers = consumers_.size();
    return s;
}

// ---- internals ---------------------------------------------------------------------------------

// Pops the head, dead-lettering expired messages on the way.
std::optional<queued_message> work_queue::take_ready(std::int64_t now_ms) {
    while (!ready_.empty()) {
        queued_message m = std::move(ready_.front());
        ready_.pop_front();
        if (m.expires_ms) --ttl_count_;
        if (m.expires_ms && m.expires_ms <= now_ms) {
            ++st_.expired;
            dead_letter(std::move(m), dead_letter_reason::expired);
            continue;
        }
        return m;
    }
    return std::nullopt;
}

work_queue::consumer_rec* work_queue::next_consumer() {
    for (std::size_t i = 0; i < consumers_.size(); ++i) {
        consumer_rec& c = consumers_[(rr_ + i) % consumers_.size()];
        if (c.prefetch == 0 || c.unacked < c.prefetch) {
            rr_ = (rr_ + i + 1) % consumers_.size();
            return &c;
        }
    }
    return nullptr;
}

work_delivery work_queue::hand_out(queued_message msg, consumer_id consumer, std::int64_t now_ms) {
    ++msg.delivery_count;
    msg.redelivered = msg.delivery_count > 1;
    const std::uint64_t tag = next_tag_++;
    lease l{std::move(msg), consumer, 0};
    if (settings_.visibility_timeout_ms > 0) {
        l.deadline = now_ms + settings_.visibility_timeout_ms;
        deadlines_.emplace(l.deadline, tag);
    }
    auto it = unacked_.emplace(tag, std::move(l)).first;
    if (consumer_rec* c = find_consumer(consumer)) ++c->unacked;
    ++st_.delivered;
    return work_delivery{tag, &it->second.msg};
}

// Delivers while there are ready messages and consumers with credit. Re-entrant calls (an ack
// inside on_deliver) return at once: the outer loop sees their effect on its next iteration.
void work_queue::dispatch(std::int64_t now_ms) {
    if (dispatching_) return;
    dispatching_ = true;
    while (!ready_.empty()) {
        consumer_rec* c = next_consumer();
        if (!c) break;
        std::optional<queued_message> m = take_ready(now_ms);
        if (!m) break;
        work_consumer* target = c->target;
        const work_delivery d = hand_out(std::move(*m), c->id, now_ms);
        target->on_deliver(d);  // may ack, nack, remove consumers: c is not used after this
    }
    dispatching_ = false;
}

work_queue::lease work_queue::settle(std::unordered_map<std::uint64_t, lease>::iterator it) {
    lease l = std::move(it->second);
    if (l.deadline) deadlines_.erase({l.deadline, it->first});
    if (consumer_rec* c = find_consumer(l.consumer)) --c->unacked;
    unacked_.erase(it);
    return l;
}

void work_queue::requeue(queued_message msg) {
    if (settings_.max_deliveries > 0 && msg.delivery_count >= settings_.max_deliveries) {
        dead_letter(std::move(msg), dead_letter_reason::delivery_limit);
        return;
    }
    ++st_.requeued;
    msg.redelivered = true;
    if (msg.expires_ms) ++ttl_count_;
    ready_.push_front(std::move(msg));
}

void work_queue::dead_letter(queued_message msg, dead_letter_reason r) {
    ++st_.dead_lettered;
    if (dead_letter_) dead_letter_(std::move(msg), r);
}

}  // namespace sy::hub
