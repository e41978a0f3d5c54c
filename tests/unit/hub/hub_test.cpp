// Hub fan-out, framing cache, policies, polls and stats, on a fake executor (one task queue per
// shard, run by the test in seeded random interleavings).
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "hub_test_support.hpp"

namespace sy::hub {
namespace {

using test::bytes;
using test::fake_executor;
using test::recorder;

struct fixture {
    explicit fixture(unsigned n, hub_settings s = {}) : ex(n) {
        if (!s.clock) s.clock = [this] { return now; };
        h = std::make_unique<hub>(std::move(s), n, ex.poster());
    }
    std::int64_t now = 1000;
    fake_executor ex;
    std::unique_ptr<hub> h;
};

TEST(Hub, SingleShardIsDirect) {
    fixture f(1);
    recorder r;
    auto sub = f.h->shard(0).subscribe("a.b", &r);
    ASSERT_TRUE(sub);
    std::optional<result<publish_ack, publish_error>> ack;
    f.h->shard(0).publish("a.b", "text/plain", bytes("hi"), [&](auto res) { ack = res; });
    ASSERT_TRUE(ack.has_value());  // completed inline, nothing posted
    ASSERT_TRUE(ack->has_value());
    EXPECT_EQ((*ack)->id, 1u);
    EXPECT_EQ((*ack)->reached, 1u);
    ASSERT_EQ(r.got.size(), 1u);
    EXPECT_EQ(r.got[0].payload, "hi");
    EXPECT_EQ(f.ex.pending(), 0u);
    EXPECT_EQ(f.ex.ran(), 0u);
}

TEST(Hub, InvalidTopicPublish) {
    fixture f(2);
    std::optional<result<publish_ack, publish_error>> ack;
    f.h->shard(0).publish("a..b", "", bytes("x"), [&](auto res) { ack = res; });
    ASSERT_TRUE(ack.has_value());
    ASSERT_FALSE(ack->has_value());
    EXPECT_EQ(ack->error(), publish_error::invalid_topic);
    recorder r;
    auto bad = f.h->shard(0).subscribe("a.>.b", &r);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), topic_error::bad_wildcard);
}

TEST(Hub, ContentTypeEveryTransportCanCarry) {
    EXPECT_TRUE(valid_content_type(""));
    EXPECT_TRUE(valid_content_type("application/json; charset=utf-8"));
    EXPECT_TRUE(valid_content_type("text/plain;\tq=\"a b\""));
    EXPECT_TRUE(valid_content_type(std::string(255, 'a')));
    EXPECT_FALSE(valid_content_type(std::string(256, 'a')));
    for (std::string_view bad : std::initializer_list<std::string_view>{
             "text/plain\r\nX-A: 1", "a\nb", "text/\xff", "text/\xc3\xa9",
             std::string_view("a\0b", 3), "a\x7f"}) {
        EXPECT_FALSE(valid_content_type(bad)) << bad;
    }
    fixture f(2);
    std::optional<result<publish_ack, publish_error>> ack;
    recorder r;
    auto h = f.h->shard(1).subscribe("ct", &r);
    f.h->shard(0).publish("ct", "text/\xff", bytes("x"), [&](auto res) { ack = res; });
    ASSERT_TRUE(ack.has_value());
    ASSERT_FALSE(ack->has_value());
    EXPECT_EQ(ack->error(), publish_error::invalid_content_type);
    f.ex.run_all(1);
    EXPECT_TRUE(r.got.empty());
}

// The reserved prefix: a client publish is refused before anything is posted (returned and
// given to the callback); the server's own publish goes through to subscribers there.
TEST(Hub, ReservedPrefixIsServerOnly) {
    hub_settings s;
    s.reserved_prefixes = {"sys."};
    fixture f(2, s);
    recorder r;
    auto h = f.h->shard(1).subscribe("sys.stats", &r);
    ASSERT_TRUE(h);
    std::optional<result<publish_ack, publish_error>> ack;
    auto refused = f.h->shard(0).publish("sys.stats", "", bytes("x"), [&](auto res) { ack = res; });
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(*refused, publish_error::reserved_topic);
    ASSERT_TRUE(ack.has_value());
    ASSERT_FALSE(ack->has_value());
    EXPECT_EQ(ack->error(), publish_error::reserved_topic);
    EXPECT_EQ(f.ex.pending(), 0u);
    EXPECT_FALSE(f.h->shard(0).publish("sysx", "", bytes("ok")).has_value());  // prefix only
    EXPECT_FALSE(f.h->shard(0)
                     .publish("sys.stats", "", bytes("srv"), {}, publish_origin::server)
                     .has_value());
    f.ex.run_all(1);
    ASSERT_EQ(r.got.size(), 1u);
    EXPECT_EQ(r.got[0].payload, "srv");
}

// count_subscribers asks only shards holding a subscription: none anywhere, no post at all.
TEST(Hub, CountSubscribers) {
    fixture f(3);
    std::optional<std::uint64_t> n;
    f.h->shard(0).count_subscribers("sys.stats", [&](std::uint64_t v) { n = v; });
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 0u);
    EXPECT_EQ(f.ex.pending(), 0u);
    recorder a, b, c;
    auto ha = f.h->shard(1).subscribe("sys.stats", &a);
    auto hb = f.h->shard(2).subscribe("sys.>", &b);
    auto hc = f.h->shard(2).subscribe("other", &c);
    n.reset();
    f.h->shard(0).count_subscribers("sys.stats", [&](std::uint64_t v) { n = v; });
    EXPECT_FALSE(n.has_value());
    f.ex.run_all(7);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, 2u);
}

// Subscribers spread over shards with literal and wildcard patterns; publishes from every shard
// in random interleavings. Each subscriber sees exactly its matching messages, in id order per
// topic, and each ack reports the number of matching subscribers.
void fan_out(unsigned shards, std::uint32_t seed) {
    SCOPED_TRACE("shards=" + std::to_string(shards) + " seed=" + std::to_string(seed));
    fixture f(shards);
    const std::vector<std::string> patterns = {"t.a", "t.b", "t.*", "t.>", ">", "t.a", "u.*.x"};
    const std::vector<std::string> topics = {"t.a", "t.b", "t.c", "u.1.x", "u.2.y", "t.a.deep"};
    std::vector<std::unique_ptr<recorder>> recs;
    std::vector<std::pair<std::string, unsigned>> sub_info;  // pattern, shard
    std::vector<subscription_handle> handles;
    for (unsigned s = 0; s < shards; ++s) {
        for (const auto& p : patterns) {
            if ((s + p.size()) % 3 == 0 && shards > 1) continue;  // uneven spread
            recs.push_back(std::make_unique<recorder>());
            handles.push_back(f.h->shard(s).subscribe(p, recs.back().get()).value());
            sub_info.emplace_back(p, s);
        }
    }
    std::mt19937 rng(seed);
    struct sent {
        std::string topic;
        std::optional<result<publish_ack, publish_error>> ack;
    };
    std::vector<std::unique_ptr<sent>> acks;
    for (int i = 0; i < 60; ++i) {
        const unsigned from = static_cast<unsigned>(rng() % shards);
        acks.push_back(std::make_unique<sent>());
        sent* sp = acks.back().get();
        sp->topic = topics[rng() % topics.size()];
        f.h->shard(from).publish(sp->topic, "text/plain", bytes(std::to_string(i)),
                                 [sp](auto r) { sp->ack = r; });
        f.ex.run_some(rng, static_cast<unsigned>(rng() % 4));
    }
    f.ex.run_all(seed);
    std::map<std::string, std::uint64_t> last_id;
    for (const auto& sp : acks) {
        ASSERT_TRUE(sp->ack.has_value());
        ASSERT_TRUE(sp->ack->has_value());
        std::uint64_t expect = 0;
        for (const auto& [p, s] : sub_info) expect += pattern_matches(p, sp->topic) ? 1 : 0;
        EXPECT_EQ((*sp->ack)->reached, expect) << sp->topic;
        last_id[sp->topic] = std::max(last_id[sp->topic], (*sp->ack)->id);
    }
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const std::string& p = sub_info[i].first;
        std::map<std::string, std::vector<std::uint64_t>> per_topic;
        for (const auto& g : recs[i]->got) per_topic[g.topic].push_back(g.id);
        for (const auto& [t, n] : last_id) {
            if (!pattern_matches(p, t)) {
                EXPECT_EQ(per_topic.count(t), 0u);
                continue;
            }
            std::vector<std::uint64_t> want(n);
            for (std::uint64_t k = 0; k < n; ++k) want[k] = k + 1;
            EXPECT_EQ(per_topic[t], want) << p << " on " << t;
        }
    }
}

TEST(Hub, FanOutShards1) {
    for (std::uint32_t seed = 1; seed <= 5; ++seed) fan_out(1, seed);
}
TEST(Hub, FanOutShards2) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) fan_out(2, seed);
}
TEST(Hub, FanOutShards4) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) fan_out(4, seed);
}

TEST(Hub, SkipsShardsWithoutInterest) {
    fixture f(4);
    recorder r;
    auto sub = f.h->shard(2).subscribe("x", &r);
    const unsigned owner = f.h->owner_of("x");
    f.h->shard(owner).publish("x", "", bytes("1"));
    // Only shard 2 gets a delivery task (if it is not the owner itself).
    std::size_t queued = f.ex.pending();
    EXPECT_EQ(queued, owner == 2 ? 0u : 1u);
    f.ex.run_all(1);
    EXPECT_EQ(r.got.size(), 1u);
}

// Posts per publish with a subscriber on each of 4 shards, published from a shard that is not
// the owner: the publish to the owner plus one delivery per other shard (N+1). Only a publish
// with a callback (the ack carries `reached`) adds a reply from each shard and one to the origin.
TEST(Hub, RepliesOnlyWhenTheAckIsAwaited) {
    fixture f(4);
    const unsigned owner = f.h->owner_of("p");
    const unsigned origin = (owner + 1) % 4;
    std::vector<std::unique_ptr<recorder>> recs;
    std::vector<subscription_handle> subs;
    for (unsigned s = 0; s < 4; ++s) {
        recs.push_back(std::make_unique<recorder>());
        subs.push_back(std::move(f.h->shard(s).subscribe("p", recs.back().get()).value()));
    }
    f.h->shard(origin).publish("p", "", bytes("a"));
    f.ex.run_all(1);
    EXPECT_EQ(f.ex.ran(), 1u + 3u);
    std::optional<result<publish_ack, publish_error>> ack;
    f.h->shard(origin).publish("p", "", bytes("b"), [&](auto r) { ack = r; });
    f.ex.run_all(2);
    EXPECT_EQ(f.ex.ran(), 4u + (1u + 3u + 3u + 1u));
    ASSERT_TRUE(ack && ack->has_value());
    EXPECT_EQ((*ack)->reached, 4u);
    for (const auto& r : recs) EXPECT_EQ(r->got.size(), 2u);
    std::optional<result<topic_stats, topic_error>> st;
    f.h->shard(owner).stats("p", [&](auto r) { st = std::move(r); });
    f.ex.run_all(3);
    ASSERT_TRUE(st && st->has_value());
    EXPECT_EQ((*st)->deliveries, 8u);  // both publishes, counted where they were delivered
}

// UTF-8 validity is decided once at publish and carried on the message for every framer.
TEST(Hub, MessageCarriesUtf8Validity) {
    fixture f(2);
    recorder r;
    std::vector<bool> utf8;
    r.on_msg = [&](const delivery& d) { utf8.push_back(d.msg().utf8); };
    auto sub = f.h->shard(0).subscribe("u", &r);
    f.h->shard(1).publish("u", "text/plain", bytes("caf\xc3\xa9"));
    f.h->shard(1).publish("u", "text/plain", bytes("caf\xc3"));
    f.h->shard(0).publish("u", "", bytes(""));
    f.ex.run_all(1);
    EXPECT_EQ(utf8, (std::vector<bool>{true, false, true}));
}

// Framing once per protocol per shard: the second subscriber of a protocol reuses the bytes.
TEST(Hub, FramedOncePerProtocolPerShard) {
    fixture f(2);
    int encodes = 0;
    std::vector<const std::uint8_t*> seen;
    auto make = [&](unsigned slot) {
        auto r = std::make_unique<recorder>();
        r->on_msg = [&, slot](const delivery& d) {
            const sy::shared_bytes& b = d.framed(slot, [&](const message& m) {
                ++encodes;
                return bytes("frame:" + std::string(m.payload.view()));
            });
            EXPECT_EQ(b.view(), "frame:p");
            seen.push_back(b.data());
        };
        return r;
    };
    std::vector<std::unique_ptr<recorder>> recs;
    std::vector<subscription_handle> hs;
    for (unsigned s = 0; s < 2; ++s) {
        for (unsigned slot : {0u, 0u, 0u, 3u, 3u}) {
            recs.push_back(make(slot));
            hs.push_back(f.h->shard(s).subscribe("t.*", recs.back().get()).value());
        }
    }
    f.h->shard(0).publish("t.x", "", bytes("p"));
    f.ex.run_all(3);
    EXPECT_EQ(seen.size(), 10u);
    EXPECT_EQ(encodes, 4);  // 2 shards x 2 protocols
}

TEST(Hub, UnsubscribeInsideOnMessage) {
    fixture f(1);
    recorder a, b, c;
    auto ha = f.h->shard(0).subscribe("t", &a);
    auto hb = f.h->shard(0).subscribe("t", &b);
    auto hc = f.h->shard(0).subscribe("t", &c);
    // a drops b and itself on the first message; c stays.
    a.on_msg = [&](const delivery&) {
        hb->reset();
        ha->reset();
    };
    b.on_msg = [&](const delivery&) { hb->reset(); };
    f.h->shard(0).publish("t", "", bytes("1"));
    f.h->shard(0).publish("t", "", bytes("2"));
    EXPECT_EQ(a.got.size(), 1u);
    EXPECT_LE(b.got.size(), 1u);  // depends on match order; never after removal
    EXPECT_EQ(c.got.size(), 2u);
    EXPECT_EQ(f.h->shard(0).subscription_count(), 1u);
}

TEST(Hub, PublishInsideOnMessage) {
    fixture f(1);
    recorder a, b;
    auto ha = f.h->shard(0).subscribe("ping", &a);
    auto hb = f.h->shard(0).subscribe("pong", &b);
    a.on_msg = [&](const delivery& d) { f.h->shard(0).publish("pong", "", d.msg().payload); };
    f.h->shard(0).publish("ping", "", bytes("x"));
    ASSERT_EQ(b.got.size(), 1u);
    EXPECT_EQ(b.got[0].payload, "x");
}

TEST(Hub, PolicyTable) {
    hub_settings s;
    s.defaults.output_cap_bytes = 100;
    s.rules.push_back({"jobs.>", slow_policy::block_publisher, std::nullopt, 5, std::nullopt});
    s.rules.push_back({"*.ticker", slow_policy::disconnect, 10, std::nullopt, 50});
    s.rules.push_back({"jobs.never", slow_policy::drop_oldest, 1, 1, 1});  // shadowed
    fixture f(2, s);
    const topic_policy& j = f.h->policy_for("jobs.never");
    EXPECT_EQ(j.slow, slow_policy::block_publisher);
    EXPECT_EQ(j.output_cap_bytes, 100u);
    EXPECT_EQ(j.history_count, 5u);
    const topic_policy& t = f.h->policy_for("fx.ticker");
    EXPECT_EQ(t.slow, slow_policy::disconnect);
    EXPECT_EQ(t.output_cap_bytes, 10u);
    EXPECT_EQ(t.history_age_ms, 50);
    EXPECT_EQ(&f.h->policy_for("other"), &f.h->settings().defaults);
    // The message carries its topic's policy for the session.
    recorder r;
    auto h = f.h->shard(1).subscribe("fx.ticker", &r);
    std::optional<const topic_policy*> seen;
    r.on_msg = [&](const delivery& d) { seen = d.msg().policy; };
    f.h->shard(0).publish("fx.ticker", "", bytes("1"));
    f.ex.run_all(1);
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(*seen, &t);

    hub_settings bad;
    bad.rules.push_back({"a.>.b"});
    EXPECT_THROW(hub(bad, 1, {}), std::invalid_argument);
    EXPECT_EQ(parse_slow_policy("block-publisher"), slow_policy::block_publisher);
    EXPECT_EQ(parse_slow_policy("drop_oldest"), slow_policy::drop_oldest);
    EXPECT_EQ(parse_slow_policy("nope"), std::nullopt);
}

TEST(Hub, BlockPublisherRejectsWhileOverCap) {
    hub_settings s;
    s.rules.push_back({"jobs.>", slow_policy::block_publisher});
    fixture f(3, s);
    recorder r;
    auto sub = f.h->shard(1).subscribe("jobs.*", &r);
    auto publish = [&](unsigned from) {
        std::optional<result<publish_ack, publish_error>> ack;
        f.h->shard(from).publish("jobs.a", "", bytes("x"), [&](auto res) { ack = res; });
        f.ex.run_all(7);
        return *ack;
    };
    EXPECT_TRUE(publish(0));
    f.h->shard(1).set_over_cap(sub->id(), "jobs.a", true);
    f.h->shard(1).set_over_cap(sub->id(), "jobs.a", true);  // idempotent
    f.ex.run_all(1);
    auto rej = publish(2);
    ASSERT_FALSE(rej);
    EXPECT_EQ(rej.error(), publish_error::rejected_over_cap);
    EXPECT_FALSE(publish(0));
    EXPECT_EQ(f.h->counters().publisher_rejections, 2u);
    // Other topics are not blocked.
    std::optional<result<publish_ack, publish_error>> other;
    f.h->shard(0).publish("jobs.b", "", bytes("x"), [&](auto res) { other = res; });
    f.ex.run_all(2);
    EXPECT_TRUE(other->has_value());
    f.h->shard(1).set_over_cap(sub->id(), "jobs.a", false);
    f.ex.run_all(1);
    EXPECT_TRUE(publish(2));
    // Unsubscribing clears the mark.
    f.h->shard(1).set_over_cap(sub->id(), "jobs.a", true);
    f.ex.run_all(1);
    EXPECT_FALSE(publish(1));
    sub->reset();
    f.ex.run_all(1);
    EXPECT_TRUE(publish(1));
    EXPECT_EQ(f.h->counters().publisher_rejections, 3u);
}

TEST(Hub, DropAndDisconnectCounters) {
    fixture f(2);
    f.h->shard(0).count_drop(3);
    f.h->shard(1).count_drop();
    f.h->shard(1).count_disconnect();
    policy_counters c = f.h->counters();
    EXPECT_EQ(c.drops, 4u);
    EXPECT_EQ(c.disconnects, 1u);
    EXPECT_EQ(c.publisher_rejections, 0u);
}

TEST(Hub, Stats) {
    fixture f(4);
    recorder a, b, c;
    auto h1 = f.h->shard(0).subscribe("s.x", &a);
    auto h2 = f.h->shard(1).subscribe("s.*", &b);
    auto h3 = f.h->shard(3).subscribe("z", &c);
    for (int i = 0; i < 3; ++i) f.h->shard(2).publish("s.x", "", bytes("m"));
    f.ex.run_all(5);
    std::optional<result<topic_stats, topic_error>> st;
    f.h->shard(3).stats("s.x", [&](auto r) { st = std::move(r); });
    f.ex.run_all(6);
    ASSERT_TRUE(st && st->has_value());
    EXPECT_EQ((*st)->last_id, 3u);
    EXPECT_EQ((*st)->history_count, 3u);
    EXPECT_EQ((*st)->subscribers, 2u);
    EXPECT_EQ((*st)->publishes, 3u);
    EXPECT_EQ((*st)->deliveries, 6u);
    st.reset();
    f.h->shard(0).stats("nothing.here", [&](auto r) { st = std::move(r); });
    f.ex.run_all(6);
    ASSERT_TRUE(st && st->has_value());
    EXPECT_EQ((*st)->last_id, 0u);
    EXPECT_EQ((*st)->subscribers, 0u);
    st.reset();
    f.h->shard(0).stats("bad topic", [&](auto r) { st = std::move(r); });
    ASSERT_TRUE(st && !st->has_value());
    EXPECT_EQ(st->error(), topic_error::bad_char);
}

// list_topics: every owner's topics merged and sorted, subscribers counted on every shard and
// split by the subscriber's transport (a long-poll waiter counts as long_poll).
TEST(Hub, ListTopics) {
    struct ws_recorder : recorder {
        subscriber_transport transport() const override { return subscriber_transport::websocket; }
    };
    fixture f(4);
    recorder plain;
    ws_recorder ws1, ws2;
    auto h1 = f.h->shard(0).subscribe("t.a", &ws1);
    auto h2 = f.h->shard(3).subscribe("t.*", &ws2);
    auto h3 = f.h->shard(1).subscribe("t.b", &plain);
    for (int i = 0; i < 3; ++i) f.h->shard(2).publish("t.a", "", bytes("m"));
    f.h->shard(1).publish("t.b", "", bytes("m"));
    f.h->shard(0).publish("u", "", bytes("m"));
    f.ex.run_all(7);
    auto waiter = f.h->shard(2).next_after("u", 1, 1, [](auto) {});
    ASSERT_TRUE(waiter);
    f.ex.run_all(8);
    std::optional<std::vector<topic_info>> got;
    f.h->shard(1).list_topics([&](std::vector<topic_info> v) { got = std::move(v); });
    f.ex.run_all(9);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 3u);
    const auto ws = static_cast<std::size_t>(subscriber_transport::websocket);
    const auto other = static_cast<std::size_t>(subscriber_transport::other);
    const auto lp = static_cast<std::size_t>(subscriber_transport::long_poll);
    EXPECT_EQ((*got)[0].name, "t.a");
    EXPECT_EQ((*got)[0].stats.publishes, 3u);
    EXPECT_EQ((*got)[0].stats.deliveries, 6u);
    EXPECT_EQ((*got)[0].stats.history_count, 3u);
    EXPECT_EQ((*got)[0].stats.subscribers, 2u);
    EXPECT_EQ((*got)[0].subscribers_by[ws], 2u);
    EXPECT_EQ((*got)[1].name, "t.b");
    EXPECT_EQ((*got)[1].stats.subscribers, 2u);
    EXPECT_EQ((*got)[1].subscribers_by[ws], 1u);
    EXPECT_EQ((*got)[1].subscribers_by[other], 1u);
    EXPECT_EQ((*got)[2].name, "u");
    EXPECT_EQ((*got)[2].stats.last_id, 1u);
    EXPECT_EQ((*got)[2].subscribers_by[lp], 1u);
    EXPECT_EQ(to_string(subscriber_transport::long_poll), "long_poll");
    // One shard: everything runs inline.
    fixture one(1);
    one.h->shard(0).publish("x", "", bytes("m"));
    got.reset();
    one.h->shard(0).list_topics([&](std::vector<topic_info> v) { got = std::move(v); });
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].stats.last_id, 1u);
}

}  // namespace
}  // namespace sy::hub
