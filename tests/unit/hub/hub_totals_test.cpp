// hub::totals(): per-shard single-writer counters (topics, publishes, deliveries, subscribers by
// transport) summed over shards; what sy_hub_* report.
#include <gtest/gtest.h>

#include "hub_test_support.hpp"

namespace sy::hub {
namespace {

using test::bytes;
using test::fake_executor;
using test::recorder;

/// A recorder that reports a transport.
struct labelled : recorder {
    explicit labelled(subscriber_transport t) : t_(t) {}
    subscriber_transport transport() const override { return t_; }
    subscriber_transport t_;
};

std::uint64_t subs(const hub& h, subscriber_transport k) {
    return h.totals().subscribers[static_cast<std::size_t>(k)];
}

TEST(HubTotals, SubscribersAreCountedByKindAndReleased) {
    fake_executor ex(3);
    hub h({}, 3, ex.poster());
    labelled a(subscriber_transport::websocket), b(subscriber_transport::websocket),
        c(subscriber_transport::sse);
    recorder d;  // says nothing: other
    auto s1 = h.shard(0).subscribe("t.a", &a);
    auto s2 = h.shard(1).subscribe("t.*", &b);
    auto s3 = h.shard(2).subscribe("t.a", &c);
    auto s4 = h.shard(2).subscribe("t.b", &d);
    // A long poll's waiter (no subscriber object) is long_poll.
    auto w = h.shard(1).next_after("t.a", 0, 1, [](auto) {});
    ex.run_all(1);
    ASSERT_TRUE(s1 && s2 && s3 && s4 && w);
    EXPECT_EQ(subs(h, subscriber_transport::websocket), 2u);
    EXPECT_EQ(subs(h, subscriber_transport::sse), 1u);
    EXPECT_EQ(subs(h, subscriber_transport::other), 1u);
    EXPECT_EQ(subs(h, subscriber_transport::long_poll), 1u);
    EXPECT_EQ(subs(h, subscriber_transport::grpc), 0u);
    s2->reset();
    s3->reset();
    EXPECT_EQ(subs(h, subscriber_transport::websocket), 1u);
    EXPECT_EQ(subs(h, subscriber_transport::sse), 0u);
    // The waiter is answered by a publish and leaves.
    h.shard(0).publish("t.a", "", bytes("1"));
    ex.run_all(2);
    EXPECT_EQ(subs(h, subscriber_transport::long_poll), 0u);
}

TEST(HubTotals, TopicsPublishesAndDeliveriesSumOverShards) {
    fake_executor ex(4);
    hub h({}, 4, ex.poster());
    recorder r0, r1, r2;
    auto a = h.shard(0).subscribe("x.>", &r0);
    auto b = h.shard(1).subscribe("x.one", &r1);
    auto c = h.shard(2).subscribe("x.one", &r2);
    ex.run_all(3);
    const hub_totals before = h.totals();
    EXPECT_EQ(before.topics, 0u);
    for (int i = 0; i < 3; ++i) h.shard(3).publish("x.one", "", bytes("m"));
    h.shard(1).publish("x.two", "", bytes("m"));
    h.shard(1).publish("bad..topic", "", bytes("m"));  // refused: not counted
    ex.run_all(4);
    const hub_totals t = h.totals();
    EXPECT_EQ(t.topics, 2u);
    EXPECT_EQ(t.publishes, 4u);
    // x.one reached 3 subscribers 3 times, x.two one.
    EXPECT_EQ(t.deliveries, 3u * 3u + 1u);
    EXPECT_EQ(r0.got.size(), 4u);
}

}  // namespace
}  // namespace sy::hub
