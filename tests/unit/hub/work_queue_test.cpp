#include "switchyard/hub/work_queue.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace sy::hub {
namespace {

struct consumer : work_consumer {
    void on_deliver(const work_delivery& d) override {
        got.push_back({d.tag, d.msg->id, d.msg->redelivered, d.msg->delivery_count,
                       std::string(d.msg->payload.view())});
        if (hook) hook(d);
    }
    struct item {
        std::uint64_t tag, id;
        bool redelivered;
        std::uint32_t count;
        std::string body;
    };
    std::vector<std::uint64_t> ids() const {
        std::vector<std::uint64_t> v;
        for (const auto& g : got) v.push_back(g.id);
        return v;
    }
    std::vector<item> got;
    std::function<void(const work_delivery&)> hook;
};

struct dead {
    std::vector<std::pair<std::uint64_t, dead_letter_reason>> items;
    dead_letter_fn fn() {
        return [this](queued_message&& m, dead_letter_reason r) { items.emplace_back(m.id, r); };
    }
};

sy::shared_bytes b(std::string_view s) {
    return sy::shared_bytes::copy_of(s);
}

TEST(WorkQueue, RoundRobinWithPrefetch) {
    work_queue q;
    consumer a, c;
    q.add_consumer(&a, 2, 0);
    q.add_consumer(&c, 1, 0);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.enqueue("t", b(std::to_string(i)), 0));
    EXPECT_EQ(a.ids(), (std::vector<std::uint64_t>{1, 3}));
    EXPECT_EQ(c.ids(), (std::vector<std::uint64_t>{2}));
    EXPECT_EQ(q.stats().ready, 2u);
    EXPECT_EQ(q.stats().unacked, 3u);
    ASSERT_TRUE(q.ack(c.got[0].tag, 0));
    EXPECT_EQ(c.ids(), (std::vector<std::uint64_t>{2, 4}));
    EXPECT_EQ(c.got[1].body, "3");
    EXPECT_EQ(q.ack(c.got[0].tag, 0).error(), work_error::unknown_tag);  // double ack
    EXPECT_EQ(q.stats().acked, 1u);
}

TEST(WorkQueue, AckInsideOnDeliverDrainsQueue) {
    work_queue q;
    consumer a;
    a.hook = [&](const work_delivery& d) { ASSERT_TRUE(q.ack(d.tag, 0)); };
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    q.add_consumer(&a, 1, 0);
    EXPECT_EQ(a.ids(), (std::vector<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_EQ(q.stats().ready, 0u);
    EXPECT_EQ(q.stats().unacked, 0u);
}

TEST(WorkQueue, NackRequeueRedelivers) {
    dead dl;
    work_queue q({}, dl.fn());
    consumer a;
    q.add_consumer(&a, 1, 0);
    ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    ASSERT_TRUE(q.enqueue("t", b("y"), 0));
    ASSERT_TRUE(q.nack(a.got[0].tag, true, 0));
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[1].id, 1u);  // back at the head
    EXPECT_TRUE(a.got[1].redelivered);
    EXPECT_EQ(a.got[1].count, 2u);
    EXPECT_FALSE(a.got[0].redelivered);
    ASSERT_TRUE(q.nack(a.got[1].tag, false, 0));
    ASSERT_EQ(dl.items.size(), 1u);
    EXPECT_EQ(dl.items[0], std::make_pair(std::uint64_t{1}, dead_letter_reason::rejected));
    EXPECT_EQ(a.got.back().id, 2u);
    EXPECT_EQ(q.nack(999, true, 0).error(), work_error::unknown_tag);
}

TEST(WorkQueue, MaxDeliveriesDeadLetters) {
    dead dl;
    work_queue_settings s;
    s.max_deliveries = 2;
    work_queue q(s, dl.fn());
    consumer a;
    q.add_consumer(&a, 1, 0);
    ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    ASSERT_TRUE(q.nack(a.got[0].tag, true, 0));
    ASSERT_TRUE(q.nack(a.got[1].tag, true, 0));
    EXPECT_EQ(a.got.size(), 2u);
    ASSERT_EQ(dl.items.size(), 1u);
    EXPECT_EQ(dl.items[0].second, dead_letter_reason::delivery_limit);
}

TEST(WorkQueue, VisibilityTimeout) {
    work_queue_settings s;
    s.visibility_timeout_ms = 100;
    work_queue q(s);
    consumer a;
    q.add_consumer(&a, 1, 0);
    ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    ASSERT_TRUE(q.enqueue("t", b("y"), 0));
    const std::uint64_t stale = a.got[0].tag;
    q.tick(99);
    EXPECT_EQ(q.stats().unacked, 1u);
    EXPECT_EQ(a.got.size(), 1u);  // prefetch 1: y waits
    q.tick(100);  // the lease expired: x goes back to the head and the credit is freed
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[1].id, 1u);
    EXPECT_TRUE(a.got[1].redelivered);
    EXPECT_EQ(a.got[1].count, 2u);
    EXPECT_EQ(q.stats().timeouts, 1u);
    EXPECT_EQ(q.ack(stale, 120).error(), work_error::unknown_tag);  // the stale lease
    ASSERT_TRUE(q.ack(a.got[1].tag, 120));
    ASSERT_EQ(a.got.size(), 3u);
    EXPECT_EQ(a.got[2].id, 2u);
    EXPECT_FALSE(a.got[2].redelivered);
}

TEST(WorkQueue, ConsumerGoneRequeuesInOrder) {
    work_queue q;
    consumer a, c;
    const consumer_id ida = q.add_consumer(&a, 0, 0);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    EXPECT_EQ(a.got.size(), 3u);
    ASSERT_TRUE(q.enqueue("t", b("x"), 0));
    ASSERT_TRUE(q.ack(a.got[1].tag, 0));
    // Remove a: ids 1 and 3 go back to the head, before 4... but 4 was already delivered to a
    // (unlimited prefetch), so it is requeued too.
    ASSERT_TRUE(q.remove_consumer(ida, 0));
    EXPECT_EQ(q.remove_consumer(ida, 0).error(), work_error::unknown_consumer);
    EXPECT_EQ(q.stats().ready, 3u);
    q.add_consumer(&c, 0, 0);
    EXPECT_EQ(c.ids(), (std::vector<std::uint64_t>{1, 3, 4}));
    for (const auto& g : c.got) EXPECT_TRUE(g.redelivered);
}

TEST(WorkQueue, OverflowDropHead) {
    dead dl;
    work_queue_settings s;
    s.max_length = 2;
    work_queue q(s, dl.fn());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.enqueue("t", b(std::to_string(i)), 0));
    EXPECT_EQ(q.stats().ready, 2u);
    EXPECT_EQ(q.stats().dropped, 2u);
    ASSERT_EQ(dl.items.size(), 2u);
    EXPECT_EQ(dl.items[0], std::make_pair(std::uint64_t{1}, dead_letter_reason::max_length));
    auto d = q.get(0);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->msg->id, 3u);
}

TEST(WorkQueue, OverflowRejectPublish) {
    work_queue_settings s;
    s.max_length = 1;
    s.overflow = overflow_policy::reject_publish;
    work_queue q(s);
    ASSERT_TRUE(q.enqueue("t", b("a"), 0));
    auto r = q.enqueue("t", b("b"), 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), work_error::full);
    EXPECT_EQ(q.stats().rejected, 1u);
    auto d = q.get(0);  // unacked messages do not count against max_length
    ASSERT_TRUE(d);
    EXPECT_TRUE(q.enqueue("t", b("c"), 0));
}

TEST(WorkQueue, TtlExpiresReadyMessages) {
    dead dl;
    work_queue_settings s;
    s.default_ttl_ms = 100;
    work_queue q(s, dl.fn());
    ASSERT_TRUE(q.enqueue("t", b("a"), 0));      // expires at 100
    ASSERT_TRUE(q.enqueue("t", b("b"), 0, 0));   // never
    ASSERT_TRUE(q.enqueue("t", b("c"), 0, 50));  // expires at 50
    q.tick(60);
    ASSERT_EQ(dl.items.size(), 1u);
    EXPECT_EQ(dl.items[0], std::make_pair(std::uint64_t{3}, dead_letter_reason::expired));
    // At the head, expiry is also checked on delivery without a tick.
    consumer a;
    q.add_consumer(&a, 0, 150);
    EXPECT_EQ(a.ids(), (std::vector<std::uint64_t>{2}));
    EXPECT_EQ(q.stats().expired, 2u);
    EXPECT_EQ(q.stats().dead_lettered, 2u);
}

TEST(WorkQueue, PullGetWithLease) {
    work_queue_settings s;
    s.visibility_timeout_ms = 10;
    work_queue q(s);
    EXPECT_FALSE(q.get(0));
    ASSERT_TRUE(q.enqueue("application/json", b("{}"), 0));
    auto d = q.get(0);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->msg->content_type, "application/json");
    EXPECT_FALSE(q.get(0));
    q.tick(10);
    auto d2 = q.get(10);
    ASSERT_TRUE(d2);
    EXPECT_TRUE(d2->msg->redelivered);
    EXPECT_NE(d2->tag, d->tag);
    EXPECT_TRUE(q.ack(d2->tag, 11));
    EXPECT_EQ(q.stats().ready + q.stats().unacked, 0u);
}

}  // namespace
}  // namespace sy::hub
