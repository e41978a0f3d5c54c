// Priority queues (x-max-priority): higher priority first, FIFO within a level, capped at the
// maximum, requeue to the head of its own level, redeclare equality, plain queues untouched.
#include <gtest/gtest.h>

#include "broker_support.hpp"

namespace sy::hub::test {
namespace {

class priority : public broker_fixture {
  protected:
    broker_message_ptr pmsg(std::string body, std::uint8_t prio) {
        auto m = std::make_shared<broker_message>(*msg("", "q", std::move(body)));
        m->priority = prio;
        return m;
    }
    broker_queue_ptr declare_prio(std::uint8_t max, queue_args a = {}) {
        a.max_priority = max;
        return declare("q", a);
    }
};

TEST_F(priority, higher_first_fifo_within_a_level) {
    auto q = declare_prio(10);
    publish(pmsg("l1", 1));
    publish(pmsg("n1", 0));
    publish(pmsg("h1", 5));
    publish(pmsg("l2", 1));
    publish(pmsg("h2", 5));
    publish(pmsg("n2", 0));
    EXPECT_EQ(q->ready_count(), 6u);
    EXPECT_EQ(drain(*q), (strings{"h1", "h2", "l1", "l2", "n1", "n2"}));
    EXPECT_EQ(q->ready_count(), 0u);
    EXPECT_EQ(q->ready_bytes(), 0u);
}

TEST_F(priority, above_the_maximum_counts_as_the_maximum) {
    auto q = declare_prio(3);
    publish(pmsg("max1", 3));
    publish(pmsg("over", 200));  // same level as 3: after max1
    publish(pmsg("two", 2));
    publish(pmsg("max2", 3));
    EXPECT_EQ(drain(*q), (strings{"max1", "over", "max2", "two"}));
}

TEST_F(priority, plain_queue_ignores_message_priority) {
    auto q = declare("q");
    publish(pmsg("a", 0));
    publish(pmsg("b", 9));
    publish(pmsg("c", 4));
    EXPECT_EQ(drain(*q), (strings{"a", "b", "c"}));
}

TEST_F(priority, consumer_takes_highest_ready_first) {
    auto q = declare_prio(5);
    fake_consumer c(1);
    q->add_consumer("c", &c);
    publish(pmsg("first", 0));  // taken at once: the consumer had credit
    publish(pmsg("low", 1));
    publish(pmsg("high", 4));
    publish(pmsg("mid", 2));
    EXPECT_EQ(c.bodies, strings{"first"});
    q->ack(c.held[0].e);
    c.held.clear();
    q->dispatch(now);
    EXPECT_EQ(c.bodies, (strings{"first", "high"}));
    q->ack(c.held[0].e);
    c.held.clear();
    q->dispatch(now);
    EXPECT_EQ(c.bodies, (strings{"first", "high", "mid"}));
}

TEST_F(priority, requeue_goes_to_the_head_of_its_own_level) {
    auto q = declare_prio(9);
    publish(pmsg("h1", 9));
    publish(pmsg("h2", 9));
    publish(pmsg("m1", 5));
    publish(pmsg("m2", 5));
    auto a = q->get(false, now);  // h1
    auto b = q->get(false, now);  // h2
    auto c = q->get(false, now);  // m1
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(c->msg->body.view(), "m1");
    q->requeue(std::move(*c));  // head of level 5, below the 9s
    q->requeue(std::move(*b));
    q->requeue(std::move(*a));  // before h2: publish order within the level
    EXPECT_EQ(q->unacked_count(), 0u);
    auto e = q->get(true, now);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->redelivered);
    EXPECT_EQ(e->msg->body.view(), "h1");
    EXPECT_EQ(drain(*q), (strings{"h2", "m1", "m2"}));
}

TEST_F(priority, max_length_drops_from_the_head_and_purge_clears_every_level) {
    auto q = declare_prio(2, queue_args{.max_length = 2});
    publish(pmsg("lo", 0));
    publish(pmsg("hi", 2));
    publish(pmsg("mid", 1));  // over the cap: the head (hi) goes
    EXPECT_EQ(b.stats().dropped, 1u);
    EXPECT_EQ(q->ready_count(), 2u);
    EXPECT_EQ(q->purge(), 2u);
    EXPECT_EQ(q->ready_count(), 0u);
    publish(pmsg("again", 1));
    EXPECT_EQ(drain(*q), strings{"again"});
}

TEST_F(priority, ttl_expires_the_head_of_each_level) {
    auto q = declare_prio(3, queue_args{.message_ttl_ms = 100});
    publish(pmsg("lo", 0));
    publish(pmsg("hi", 3));
    now += 100;
    b.tick(now);
    EXPECT_EQ(q->ready_count(), 0u);
    EXPECT_EQ(b.stats().expired, 2u);
}

TEST_F(priority, redeclare_with_another_max_is_inequivalent) {
    declare_prio(5);
    queue_declare_request r;
    r.name = "q";
    r.connection = 1;
    queue_declare_result out;
    r.args.max_priority = 6;
    auto st = b.queue_declare(vh, r, out);
    EXPECT_EQ(st.code, broker_error::precondition_failed);
    EXPECT_EQ(st.text,
              "inequivalent arg 'x-max-priority' for queue 'q' in vhost '/': received '6' but "
              "current is '5'");
    r.args.max_priority.reset();
    st = b.queue_declare(vh, r, out);
    EXPECT_EQ(st.code, broker_error::precondition_failed);
    EXPECT_EQ(st.text,
              "inequivalent arg 'x-max-priority' for queue 'q' in vhost '/': received none but "
              "current is the value '5' of type 'signedint'");
    r.args.max_priority = 5;
    EXPECT_TRUE(b.queue_declare(vh, r, out).ok());
}

TEST_F(priority, dead_lettered_copy_keeps_its_priority) {
    auto src = declare("src", queue_args{.dead_letter_exchange = std::string("")});
    (void)src;
    queue_declare_request r;
    r.name = "dst";
    r.args.max_priority = 5;
    r.connection = 1;
    queue_declare_result out;
    ASSERT_TRUE(b.queue_declare(vh, r, out).ok());
    auto dst = vh.queues.at("dst");
    auto lo = std::make_shared<broker_message>(*msg("", "src", "lo"));
    auto hi = std::make_shared<broker_message>(*msg("", "src", "hi"));
    hi->priority = 4;
    publish(lo);
    publish(hi);
    // Dead-letter both into dst (default exchange, routing key dst).
    src->args.dead_letter_routing_key = "dst";
    auto a = src->get(false, now);
    auto c = src->get(false, now);
    src->reject(std::move(*a), now);
    src->reject(std::move(*c), now);
    EXPECT_EQ(drain(*dst), (strings{"hi", "lo"}));
}

}  // namespace
}  // namespace sy::hub::test
