// History bounds, resume (with and without gap), short and long polls.
#include <gtest/gtest.h>

#include <optional>

#include "hub_test_support.hpp"

namespace sy::hub {
namespace {

using test::bytes;
using test::fake_executor;
using test::recorder;

struct fixture {
    explicit fixture(unsigned n, std::uint64_t count = 1000, std::int64_t age = 0) : ex(n) {
        hub_settings s;
        s.defaults.history_count = count;
        s.defaults.history_age_ms = age;
        s.clock = [this] { return now; };
        h = std::make_unique<hub>(std::move(s), n, ex.poster());
    }
    void publish_n(unsigned from, const std::string& t, int n) {
        for (int i = 0; i < n; ++i) h->shard(from).publish(t, "", bytes("m"));
        ex.run_all(99);
    }
    history_result history(unsigned from, const std::string& t, std::uint64_t since,
                           std::size_t limit = 0) {
        std::optional<result<history_result, topic_error>> r;
        h->shard(from).history(t, since, limit, [&](auto res) { r = std::move(res); });
        ex.run_all(5);
        EXPECT_TRUE(r && r->has_value());
        return std::move(**r);
    }
    std::int64_t now = 1000;
    fake_executor ex;
    std::unique_ptr<hub> h;
};

std::vector<std::uint64_t> ids(const history_result& r) {
    std::vector<std::uint64_t> v;
    for (const auto& m : r.messages) v.push_back(m->id);
    return v;
}
std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v;
    for (auto i = from; i <= to; ++i) v.push_back(i);
    return v;
}

TEST(History, CountBound) {
    fixture f(2, 5);
    f.publish_n(1, "h", 8);
    history_result r = f.history(0, "h", 0);
    EXPECT_EQ(ids(r), range(4, 8));
    EXPECT_EQ(r.last_id, 8u);
    EXPECT_EQ(r.lost, 3u);
    EXPECT_EQ(r.lost_from, 1u);
    r = f.history(0, "h", 5);
    EXPECT_EQ(ids(r), range(6, 8));
    EXPECT_EQ(r.lost, 0u);
    r = f.history(0, "h", 8);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.lost, 0u);
    r = f.history(0, "h", 3, 2);
    EXPECT_EQ(ids(r), range(4, 5));
    EXPECT_TRUE(r.more);
}

TEST(History, AgeBound) {
    fixture f(2, 1000, 100);
    f.publish_n(0, "h", 2);  // t=1000
    f.now = 1060;
    f.publish_n(0, "h", 2);  // t=1060
    EXPECT_EQ(ids(f.history(1, "h", 0)), range(1, 4));
    f.now = 1101;  // the first two are older than 100 ms
    history_result r = f.history(1, "h", 0);
    EXPECT_EQ(ids(r), range(3, 4));
    EXPECT_EQ(r.lost, 2u);
    f.now = 1500;  // everything expired: the last id is still known
    r = f.history(1, "h", 1);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.last_id, 4u);
    EXPECT_EQ(r.lost, 3u);
    EXPECT_EQ(r.lost_from, 2u);
}

TEST(History, ZeroCountKeepsNothingButIds) {
    fixture f(1, 0);
    f.publish_n(0, "h", 3);
    history_result r = f.history(0, "h", 0);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.last_id, 3u);
    EXPECT_EQ(r.lost, 3u);
}

TEST(History, UnknownTopicIsEmpty) {
    fixture f(2);
    history_result r = f.history(0, "never", 7);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.last_id, 0u);
    EXPECT_EQ(r.lost, 0u);
}

TEST(Resume, NoGap) {
    for (unsigned n : {1u, 2u, 4u}) {
        fixture f(n);
        f.publish_n(0, "r", 5);
        recorder rec;
        auto sub = f.h->shard(n - 1).subscribe("r", &rec, subscribe_options::after(2));
        f.ex.run_all(1);
        f.publish_n(0, "r", 2);
        EXPECT_EQ(rec.ids(), range(3, 7));
        EXPECT_EQ(rec.got.size(), 5u);  // no gap event
    }
}

TEST(Resume, GapFirstThenMessages) {
    fixture f(2, 3);
    f.publish_n(0, "r", 10);
    recorder rec;
    auto sub = f.h->shard(1).subscribe("r", &rec, subscribe_options::after(2));
    f.ex.run_all(1);
    ASSERT_EQ(rec.got.size(), 4u);
    EXPECT_EQ(rec.got[0].kind, message_kind::gap);
    EXPECT_EQ(rec.got[0].gap_from, 3u);
    EXPECT_EQ(rec.got[0].gap_to, 7u);  // first available is 8
    EXPECT_EQ(rec.ids(), range(8, 10));
}

TEST(Resume, GapWhenEverythingAgedOut) {
    fixture f(2, 100, 50);
    f.publish_n(0, "r", 4);
    f.now += 100;
    recorder rec;
    auto sub = f.h->shard(1).subscribe("r", &rec, subscribe_options::after(1));
    f.ex.run_all(1);
    ASSERT_EQ(rec.got.size(), 1u);
    EXPECT_EQ(rec.got[0].kind, message_kind::gap);
    EXPECT_EQ(rec.got[0].gap_from, 2u);
    EXPECT_EQ(rec.got[0].gap_to, 4u);
    f.publish_n(1, "r", 1);
    EXPECT_EQ(rec.ids(), range(5, 5));
}

TEST(Resume, SinceBeyondLastIdIsTreatedAsLast) {
    fixture f(2);
    f.publish_n(0, "r", 3);
    recorder rec;
    auto sub = f.h->shard(1).subscribe("r", &rec, subscribe_options::after(500));
    f.ex.run_all(1);
    f.publish_n(0, "r", 1);
    EXPECT_EQ(rec.ids(), range(4, 4));
}

TEST(Resume, FromNewest) {
    fixture f(2);
    f.publish_n(0, "r", 3);
    recorder rec;
    auto sub = f.h->shard(1).subscribe("r", &rec, subscribe_options::from_newest());
    f.ex.run_all(1);
    f.publish_n(0, "r", 1);
    EXPECT_EQ(rec.ids(), range(3, 4));
    recorder empty;
    auto sub2 = f.h->shard(1).subscribe("none", &empty, subscribe_options::from_newest());
    f.ex.run_all(1);
    EXPECT_TRUE(empty.got.empty());
}

TEST(Resume, WildcardIsLiveOnly) {
    fixture f(2);
    f.publish_n(0, "w.a", 3);
    recorder rec;
    auto sub = f.h->shard(1).subscribe("w.*", &rec, subscribe_options::after(0));
    f.ex.run_all(1);
    EXPECT_TRUE(rec.got.empty());
    f.publish_n(0, "w.a", 1);
    EXPECT_EQ(rec.ids(), range(4, 4));
}

// Resumes race with publishes from every shard, in random interleavings: the subscriber sees
// exactly since+1..last once each, in order (history large enough), or a gap then the rest.
void race(unsigned shards, std::uint32_t seed, std::uint64_t history) {
    SCOPED_TRACE("shards=" + std::to_string(shards) + " seed=" + std::to_string(seed));
    fixture f(shards, history);
    std::mt19937 rng(seed);
    const std::string topic = "race";
    f.publish_n(0, topic, 10);
    std::vector<std::unique_ptr<recorder>> recs;
    std::vector<subscription_handle> hs;
    std::vector<std::uint64_t> since;
    for (int round = 0; round < 40; ++round) {
        const unsigned from = static_cast<unsigned>(rng() % shards);
        f.h->shard(from).publish(topic, "", bytes("m"));
        if (round % 5 == 0) {
            const unsigned s = static_cast<unsigned>(rng() % shards);
            recs.push_back(std::make_unique<recorder>());
            since.push_back(rng() % 12);
            hs.push_back(
                f.h->shard(s)
                    .subscribe(topic, recs.back().get(), subscribe_options::after(since.back()))
                    .value());
        }
        f.ex.run_some(rng, static_cast<unsigned>(rng() % 6));
    }
    f.ex.run_all(seed);
    const std::uint64_t last = 50;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const recorder& r = *recs[i];
        ASSERT_FALSE(r.got.empty());
        std::uint64_t expect_next = since[i] + 1;
        std::size_t k = 0;
        if (r.got[0].kind == message_kind::gap) {
            EXPECT_EQ(r.got[0].gap_from, expect_next);
            expect_next = r.got[0].gap_to + 1;
            k = 1;
        }
        std::vector<std::uint64_t> got;
        for (; k < r.got.size(); ++k) {
            ASSERT_EQ(r.got[k].kind, message_kind::data);
            got.push_back(r.got[k].id);
        }
        EXPECT_EQ(got, range(expect_next, last)) << "since " << since[i];
        if (history >= last) {
            EXPECT_EQ(r.got[0].kind, message_kind::data);
        }
    }
}

TEST(Resume, ConcurrentPublishNoDupNoHole) {
    for (unsigned n : {1u, 2u, 4u}) {
        for (std::uint32_t seed = 1; seed <= 15; ++seed) race(n, seed, 1000);
    }
}

TEST(Resume, ConcurrentPublishWithEviction) {
    for (unsigned n : {2u, 4u}) {
        for (std::uint32_t seed = 1; seed <= 15; ++seed) race(n, seed, 8);
    }
}

TEST(Resume, UnsubscribeBeforeReply) {
    fixture f(2);
    f.publish_n(0, "r", 3);
    recorder rec;
    const unsigned s = 1 - f.h->owner_of("r");  // remote from the owner
    auto sub = f.h->shard(s).subscribe("r", &rec, subscribe_options::after(0));
    sub->reset();
    f.ex.run_all(1);
    EXPECT_TRUE(rec.got.empty());
    EXPECT_EQ(f.h->shard(s).subscription_count(), 0u);
}

TEST(LongPoll, AnswersFromHistory) {
    fixture f(2, 4);
    f.publish_n(0, "lp", 6);
    std::optional<result<history_result, topic_error>> got;
    auto h = f.h->shard(1).next_after("lp", 4, 0, [&](auto r) { got = std::move(r); });
    ASSERT_TRUE(h);
    f.ex.run_all(1);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ(ids(**got), range(5, 6));
    EXPECT_EQ(f.h->shard(1).subscription_count(), 0u);
    // Too far behind: the gap is reported with what is left.
    got.reset();
    auto h2 = f.h->shard(1).next_after("lp", 0, 1, [&](auto r) { got = std::move(r); });
    f.ex.run_all(1);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->lost, 2u);
    EXPECT_EQ(ids(**got), range(3, 3));
    EXPECT_TRUE((*got)->more);
}

TEST(LongPoll, WaitsForNextThenFiresOnce) {
    fixture f(4);
    f.publish_n(0, "lp", 2);
    int calls = 0;
    std::optional<result<history_result, topic_error>> got;
    auto h = f.h->shard(3).next_after("lp", 2, 0, [&](auto r) {
        ++calls;
        got = std::move(r);
    });
    f.ex.run_all(1);
    EXPECT_EQ(calls, 0);
    f.publish_n(1, "lp", 2);
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ(ids(**got), range(3, 3));
    EXPECT_EQ(f.h->shard(3).subscription_count(), 0u);
}

TEST(LongPoll, CancelledByHandle) {
    fixture f(2);
    int calls = 0;
    auto h = f.h->shard(0).next_after("lp", 0, 0, [&](auto) { ++calls; });
    f.ex.run_all(1);
    h->reset();  // timeout
    f.publish_n(1, "lp", 1);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(f.h->shard(0).subscription_count(), 0u);
    std::optional<result<history_result, topic_error>> bad;
    EXPECT_FALSE(f.h->shard(0).next_after("a.*", 0, 0, [](auto) {}));
    f.h->shard(0).history("", 0, 0, [&](auto r) { bad = std::move(r); });
    ASSERT_TRUE(bad && !bad->has_value());
    EXPECT_EQ(bad->error(), topic_error::empty);
}

}  // namespace
}  // namespace sy::hub
