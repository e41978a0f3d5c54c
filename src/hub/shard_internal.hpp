// Private structures of hub_shard, shared by hub.cpp and hub_shard.cpp.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/hub/hub.hpp"

namespace sy::hub {

// One subscription, owned by the shard that created it (by_id_), pointed to by subs_.
struct hub_shard::subscription {
    subscription_id id = 0;
    std::string pattern;
    bool literal = true;
    // Which subscriber gauge counts it: the target's transport() when it subscribed, kept so the
    // release needs no call into a subscriber that may be in its destructor.
    subscriber_transport transport = subscriber_transport::other;
    subscriber* target = nullptr;  // null for a long-poll waiter
    start_from start = start_from::live;
    std::uint64_t since = 0;
    std::uint64_t epoch = 0;  // of since (0: the topic's current one); then of last_id
    // True between registration and the owner's history reply: live deliveries are buffered
    // so history can be delivered first (resume without duplicate or hole).
    bool resuming = false;
    bool dead = false;          // removed; memory kept until the current dispatch ends
    std::uint64_t last_id = 0;  // literal only: newest id handed out (dedupe by id)
    std::vector<message_ptr> buffered;
    std::vector<std::string> over_cap_topics;  // block_publisher marks to clear on removal
    history_callback waiter;                   // long poll: fires once, then unsubscribes
    std::size_t waiter_limit = 0;
};

// A topic owned by this shard.
struct hub_shard::topic_state {
    std::string name;
    const topic_policy* policy = nullptr;
    std::uint64_t publishes = 0;
    // Subscribers reached, one slot per shard: shard d adds what its delivery reached to
    // delivered[d] (single writer, relaxed), and stats() sums the slots. Counting where the
    // delivery happens is what lets a publish nobody waits for skip the reply to the owner.
    // The array is made with the topic and never moves (topics are never forgotten), so the
    // delivery task carries a plain pointer to its slot. Slots of one topic share cache lines:
    // the cost is one line transfer per delivery per shard, paid while the mailbox's is paid.
    std::unique_ptr<std::atomic<std::uint64_t>[]> delivered;
    std::int64_t over_cap = 0;  // block_publisher subscribers over cap, all shards
    // Newest id handed out by deliver_remote (in remote_epoch): a repeat of it is dropped.
    std::uint64_t remote_epoch = 0;
    std::uint64_t remote_last = 0;
};

// Fan-out bookkeeping for a publish whose caller waits for the ack (publish with a callback):
// the shards' replies sum `reached` here. Touched only on the owner shard until the last reply,
// then only on the origin shard (the shared_ptr itself travels to the receiving shards and back).
struct hub_shard::pending_publish {
    std::uint64_t id = 0;
    std::uint64_t epoch = 0;
    unsigned waiting = 0;  // shard replies still expected
    std::uint64_t reached = 0;
    unsigned origin = 0;
    publish_callback done;
};

template <typename F>
void hub_shard::run_on(unsigned shard, F&& f) {
    if (shard == index_) {
        f();
    } else {
        hub_.post_(shard, task(std::forward<F>(f)));
    }
}

}  // namespace sy::hub
