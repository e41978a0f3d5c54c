// Routing: default, direct, fanout, topic (* and #), headers (x-match all/any),
// exchange-to-exchange, and the declare errors the session maps to 404/405/406/403.
#include <gtest/gtest.h>

#include "broker_support.hpp"

namespace sy::hub::test {
namespace {

class routing : public broker_fixture {};

TEST_F(routing, default_exchange_routes_by_queue_name) {
    auto q = declare("jobs");
    EXPECT_EQ(publish(msg("", "jobs", "1")).routed, 1u);
    EXPECT_EQ(publish(msg("", "other", "2")).routed, 0u);
    EXPECT_EQ(drain(*q), strings{"1"});
}

TEST_F(routing, direct_matches_the_exact_key_only) {
    auto a = declare("a");
    auto b2 = declare("b");
    bind("amq.direct", "a", "red");
    bind("amq.direct", "b", "green");
    bind("amq.direct", "b", "red");
    EXPECT_EQ(publish(msg("amq.direct", "red", "r")).routed, 2u);
    EXPECT_EQ(publish(msg("amq.direct", "green", "g")).routed, 1u);
    EXPECT_EQ(publish(msg("amq.direct", "Red", "x")).routed, 0u);
    EXPECT_EQ(drain(*a), strings{"r"});
    EXPECT_EQ(drain(*b2), (strings{"r", "g"}));
}

TEST_F(routing, fanout_ignores_the_key_and_a_queue_bound_twice_gets_one_copy) {
    auto a = declare("a");
    auto b2 = declare("b");
    bind("amq.fanout", "a", "x");
    bind("amq.fanout", "a", "y");
    bind("amq.fanout", "b", "");
    EXPECT_EQ(publish(msg("amq.fanout", "anything", "m")).routed, 2u);
    EXPECT_EQ(drain(*a), strings{"m"});
    EXPECT_EQ(drain(*b2), strings{"m"});
}

TEST(topic_matches, star_is_exactly_one_word) {
    EXPECT_TRUE(topic_matches("a.*", "a.b"));
    EXPECT_FALSE(topic_matches("a.*", "a"));
    EXPECT_FALSE(topic_matches("a.*", "a.b.c"));
    EXPECT_TRUE(topic_matches("*.b.*", "x.b.y"));
    EXPECT_FALSE(topic_matches("*.b.*", "b.y"));
    EXPECT_TRUE(topic_matches("a.*", "a."));  // an empty word is a word
    // RabbitMQ splits "" into zero words, so "*" does not match "", and "" matches only "".
    EXPECT_FALSE(topic_matches("*", ""));
    EXPECT_TRUE(topic_matches("", ""));
    EXPECT_FALSE(topic_matches("", "a"));
}

TEST(topic_matches, hash_is_zero_or_more_words) {
    EXPECT_TRUE(topic_matches("#", ""));
    EXPECT_TRUE(topic_matches("#", "a.b.c"));
    EXPECT_TRUE(topic_matches("a.#", "a"));
    EXPECT_TRUE(topic_matches("a.#", "a.b.c"));
    EXPECT_FALSE(topic_matches("a.#", "b.a"));
    EXPECT_TRUE(topic_matches("a.#.z", "a.z"));
    EXPECT_TRUE(topic_matches("a.#.z", "a.b.c.z"));
    EXPECT_FALSE(topic_matches("a.#.z", "a.b.c"));
    EXPECT_TRUE(topic_matches("#.*.z", "q.z"));
    EXPECT_FALSE(topic_matches("#.*.z", "z"));
    EXPECT_TRUE(topic_matches("a.b", "a.b"));
    EXPECT_FALSE(topic_matches("a.b", "a.bb"));
}

TEST_F(routing, topic_exchange_routes_with_wildcards) {
    auto stars = declare("stars");
    auto hashes = declare("hashes");
    auto exact = declare("exact");
    bind("amq.topic", "stars", "stock.*.nyse");
    bind("amq.topic", "hashes", "stock.#");
    bind("amq.topic", "exact", "stock.ibm.nyse");
    EXPECT_EQ(publish(msg("amq.topic", "stock.ibm.nyse", "1")).routed, 3u);
    EXPECT_EQ(publish(msg("amq.topic", "stock.ibm.lse", "2")).routed, 1u);
    EXPECT_EQ(publish(msg("amq.topic", "stock", "3")).routed, 1u);
    EXPECT_EQ(publish(msg("amq.topic", "bond.x.nyse", "4")).routed, 0u);
    EXPECT_EQ(drain(*stars), strings{"1"});
    EXPECT_EQ(drain(*hashes), (strings{"1", "2", "3"}));
    EXPECT_EQ(drain(*exact), strings{"1"});
}

TEST_F(routing, headers_all_needs_every_pair_any_needs_one) {
    auto all = declare("all");
    auto any = declare("any");
    bind("amq.headers", "all", "", {{"x-match", "all"}, {"format", "pdf"}, {"type", "report"}},
         true);
    bind("amq.headers", "any", "", {{"x-match", "any"}, {"format", "pdf"}, {"type", "report"}},
         false);
    EXPECT_EQ(
        publish(msg("amq.headers", "", "both", {{"format", "pdf"}, {"type", "report"}})).routed,
        2u);
    EXPECT_EQ(publish(msg("amq.headers", "", "one", {{"format", "pdf"}, {"type", "log"}})).routed,
              1u);
    EXPECT_EQ(publish(msg("amq.headers", "", "none", {{"format", "zip"}})).routed, 0u);
    // x- keys in the message take no part either.
    EXPECT_EQ(publish(msg("amq.headers", "", "x", {{"x-match", "any"}})).routed, 0u);
    EXPECT_EQ(drain(*all), strings{"both"});
    EXPECT_EQ(drain(*any), (strings{"both", "one"}));
}

TEST_F(routing, headers_void_binding_value_matches_on_presence) {
    auto q = declare("q");
    bind("amq.match", "q", "", {{"flag", ""}}, true);
    EXPECT_EQ(publish(msg("amq.match", "", "a", {{"flag", "anything"}})).routed, 1u);
    EXPECT_EQ(publish(msg("amq.match", "", "b", {{"other", "1"}})).routed, 0u);
}

TEST_F(routing, exchange_to_exchange_binding_forwards) {
    exchange("edge", exchange_type::fanout);
    auto q = declare("q");
    bind("amq.topic", "q", "logs.#");
    broker_binding e2e;
    e2e.queue = "amq.topic";
    e2e.to_exchange = true;
    ASSERT_TRUE(b.bind(vh, "edge", e2e, 1).ok());
    EXPECT_EQ(publish(msg("edge", "logs.error", "1")).routed, 1u);
    EXPECT_EQ(publish(msg("edge", "metrics", "2")).routed, 0u);
    EXPECT_EQ(drain(*q), strings{"1"});
}

TEST_F(routing, unbind_stops_routing) {
    auto q = declare("q");
    bind("amq.direct", "q", "k");
    broker_binding bd;
    bd.queue = "q";
    bd.key = "k";
    ASSERT_TRUE(b.unbind(vh, "amq.direct", bd, 1).ok());
    EXPECT_EQ(publish(msg("amq.direct", "k", "1")).routed, 0u);
}

TEST_F(routing, publish_to_missing_exchange_is_not_found) {
    publish_result r;
    auto st = b.publish(vh, msg("nope", "k", "1"), r, now);
    EXPECT_EQ(st.code, broker_error::not_found);
    EXPECT_EQ(st.text, "no exchange 'nope' in vhost '/'");
}

TEST_F(routing, declare_errors_match_rabbitmq) {
    declare("q", queue_args{.max_length = 5});
    queue_declare_request r;
    r.name = "q";
    r.connection = 1;
    queue_declare_result out;
    EXPECT_EQ(b.queue_declare(vh, r, out).code, broker_error::precondition_failed);  // 406
    r.name = "missing";
    r.passive = true;
    auto st = b.queue_declare(vh, r, out);
    EXPECT_EQ(st.code, broker_error::not_found);  // 404
    EXPECT_EQ(st.text, "no queue 'missing' in vhost '/'");

    queue_declare_request ex;
    ex.name = "mine";
    ex.exclusive = true;
    ex.connection = 7;
    ASSERT_TRUE(b.queue_declare(vh, ex, out).ok());
    broker_queue_ptr q;
    EXPECT_EQ(b.find_queue(vh, "mine", 8, q).code, broker_error::resource_locked);  // 405
    b.connection_closed(7);
    EXPECT_EQ(b.find_queue(vh, "mine", 8, q).code, broker_error::not_found);

    broker_exchange e;
    e.name = "amq.custom";
    EXPECT_EQ(b.exchange_declare(vh, e, false).code, broker_error::access_refused);  // 403
    e.name = "amq.topic";
    e.type = exchange_type::direct;
    e.durable = true;
    EXPECT_EQ(b.exchange_declare(vh, e, false).code, broker_error::precondition_failed);
}

}  // namespace
}  // namespace sy::hub::test
