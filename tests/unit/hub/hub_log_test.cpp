// The hub's topic_log seam: a log numbered elsewhere (shared by two "nodes", as the Redis
// backplane is), deliver_remote, epochs in resume, hole filling, per-shard interest, tokens.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "hub_test_support.hpp"

namespace sy::hub {
namespace {

using test::bytes;
using test::fake_executor;
using test::recorder;

/// The shared numbering and history of every topic (Redis' role), and the nodes to deliver to.
struct store {
    std::uint64_t epoch = 7;
    std::map<std::string, std::vector<message_ptr>> topics;
    std::vector<hub*> nodes;
    bool drop_next_delivery = false;  // the channel loses one message (a link down)
    void deliver(const message_ptr& m) {
        if (std::exchange(drop_next_delivery, false)) return;
        for (hub* h : nodes) h->shard(0).deliver_remote(m);
    }
};

class shared_log final : public topic_log {
  public:
    explicit shared_log(store& s) : s_(s) {}
    bool delivers() const override { return true; }
    void append(const std::shared_ptr<message>& m, append_callback done) override {
        auto& v = s_.topics[m->topic];
        m->epoch = s_.epoch;
        m->id = v.size() + 1;
        v.push_back(m);
        done(log_position{m->epoch, m->id});
        s_.deliver(m);
    }
    void read(const std::string& topic, std::uint64_t since, std::size_t limit, bool newest,
              read_callback done) override {
        log_slice sl;
        const auto& v = s_.topics[topic];
        sl.top = {s_.epoch, v.size(), 1, v.size()};
        for (const auto& m : v) {
            if (newest) continue;
            if (m->id > since && (limit == 0 || sl.messages.size() < limit))
                sl.messages.push_back(m);
        }
        if (newest && !v.empty()) sl.messages.push_back(v.back());
        done(std::move(sl));
    }
    log_top top(std::string_view topic) override {
        const auto& v = s_.topics[std::string(topic)];
        return {s_.epoch, v.size(), 1, v.size()};
    }

  private:
    store& s_;
};

struct node {
    node(store& s, unsigned shards) : ex(shards) {
        hub_settings hs;
        hs.make_log = [&s](hub&, unsigned) { return std::make_unique<shared_log>(s); };
        hs.on_interest = [this](unsigned shard, const std::string& p, bool gained) {
            interest.push_back(std::to_string(shard) + (gained ? "+" : "-") + p);
        };
        h = std::make_unique<hub>(std::move(hs), shards, ex.poster());
        s.nodes.push_back(h.get());
    }
    fake_executor ex;
    std::unique_ptr<hub> h;
    std::vector<std::string> interest;
};

struct two_nodes {
    store s;
    node a{s, 2};
    node b{s, 3};
    void run() {
        for (int i = 0; i < 4; ++i) {
            a.ex.run_all(1);
            b.ex.run_all(2);
        }
    }
};

TEST(TopicLog, NodesShareOneIdSpace) {
    two_nodes n;
    recorder r;
    auto sub = n.b.h->shard(1).subscribe("t", &r);
    ASSERT_TRUE(sub);
    std::vector<publish_ack> acks;
    for (int i = 0; i < 3; ++i) {
        n.a.h->shard(1).publish("t", "", bytes("x"), [&](auto res) { acks.push_back(*res); });
        n.run();
    }
    ASSERT_EQ(acks.size(), 3u);
    EXPECT_EQ(acks[2].id, 3u);
    EXPECT_EQ(acks[2].epoch, 7u);
    EXPECT_EQ(r.ids(), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(TopicLog, RepeatedRemoteMessageIsDeliveredOnce) {
    two_nodes n;
    recorder r;
    auto sub = n.b.h->shard(0).subscribe("t.>", &r);  // wildcard: no per-subscription dedupe
    n.a.h->shard(0).publish("t.x", "", bytes("x"));
    n.run();
    n.b.h->shard(2).deliver_remote(n.s.topics["t.x"][0]);  // the same message again
    n.run();
    EXPECT_EQ(r.ids(), (std::vector<std::uint64_t>{1}));
}

TEST(TopicLog, ResumeOnAnotherNodeReadsTheLog) {
    two_nodes n;
    for (int i = 0; i < 5; ++i) n.a.h->shard(0).publish("t", "", bytes("x"));
    n.run();
    recorder r;
    auto sub = n.b.h->shard(2).subscribe("t", &r, subscribe_options::after(2, 7));
    n.run();
    EXPECT_EQ(r.ids(), (std::vector<std::uint64_t>{3, 4, 5}));
    recorder other;  // a token of another epoch: from the start
    auto sub2 = n.b.h->shard(1).subscribe("t", &other, subscribe_options::after(4, 99));
    n.run();
    EXPECT_EQ(other.ids(), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST(TopicLog, HoleIsFilledFromTheLog) {
    two_nodes n;
    recorder r;
    auto sub = n.b.h->shard(1).subscribe("t", &r);
    n.a.h->shard(0).publish("t", "", bytes("1"));
    n.run();
    n.s.drop_next_delivery = true;  // id 2 never arrives on the channel
    n.a.h->shard(0).publish("t", "", bytes("2"));
    n.run();
    EXPECT_EQ(r.ids(), (std::vector<std::uint64_t>{1}));
    n.a.h->shard(0).publish("t", "", bytes("3"));
    n.run();
    EXPECT_EQ(r.ids(), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(TopicLog, InterestReportsFirstAndLastPerShard) {
    two_nodes n;
    recorder r1, r2;
    auto s1 = n.b.h->shard(1).subscribe("t", &r1);
    auto s2 = n.b.h->shard(1).subscribe("t", &r2);
    auto s3 = n.b.h->shard(2).subscribe("u.*", &r2);
    EXPECT_EQ(n.b.interest, (std::vector<std::string>{"1+t", "2+u.*"}));
    s1->reset();
    EXPECT_EQ(n.b.interest.size(), 2u);
    s2->reset();
    s3->reset();
    EXPECT_EQ(n.b.interest, (std::vector<std::string>{"1+t", "2+u.*", "1-t", "2-u.*"}));
}

TEST(TopicLog, LocalLogKeepsEpochZeroAndTokens) {
    fake_executor ex(2);
    hub h({}, 2, ex.poster());
    std::optional<publish_ack> ack;
    h.shard(0).publish("t", "", bytes("x"), [&](auto r) { ack = *r; });
    ex.run_all(3);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->epoch, 0u);
    EXPECT_EQ(ack->id, 1u);
    EXPECT_EQ(resume_token(0, 12), "12");
    EXPECT_EQ(resume_token(5, 12), "5:12");
    auto p = parse_resume_token("5:12");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->epoch, 5u);
    EXPECT_EQ(p->offset, 12u);
    EXPECT_EQ(parse_resume_token("12")->epoch, 0u);
    EXPECT_FALSE(parse_resume_token("x:1"));
    EXPECT_FALSE(parse_resume_token("1:"));
    EXPECT_FALSE(parse_resume_token(""));
}

}  // namespace
}  // namespace sy::hub
