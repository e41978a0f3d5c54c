// Queue behaviour: TTL (queue and per message), max-length overflow drop-head/reject-publish,
// dead-lettering (reject, expiry, max-length), consumer dispatch, requeue, auto-delete.
#include <gtest/gtest.h>

#include "broker_support.hpp"

namespace sy::hub::test {
namespace {

class queue : public broker_fixture {};

TEST_F(queue, message_ttl_expires_at_the_head_on_tick) {
    auto q = declare("q", queue_args{.message_ttl_ms = 100});
    publish(msg("", "q", "1"));
    now += 50;
    publish(msg("", "q", "2"));
    now += 49;  // 1 is 99 ms old
    b.tick(now);
    EXPECT_EQ(q->ready_count(), 2u);
    now += 1;  // 1 is 100 ms old: expired; 2 is 50 ms old
    b.tick(now);
    EXPECT_EQ(q->ready_count(), 1u);
    EXPECT_EQ(b.stats().expired, 1u);
    EXPECT_EQ(drain(*q), strings{"2"});
}

// The per-queue counters the management API samples for message_stats (RabbitMQ's names).
TEST_F(queue, counters_count_publish_deliver_get_ack_and_redeliver) {
    auto q = declare("q");
    for (const char* s : {"1", "2", "3", "4"}) publish(msg("", "q", s));
    fake_consumer c(2);
    q->add_consumer("c", &c);
    q->dispatch(now);  // takes 1 and 2
    ASSERT_EQ(c.held.size(), 2u);
    q->ack(c.held[0].e);
    q->requeue(std::move(c.held[1].e));  // 2 goes back, redelivered
    c.held.clear();
    q->remove_consumer(&c);
    auto g = q->get(false, now);  // 2 again: a redelivery
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->redelivered);
    auto g2 = q->get(true, now);
    ASSERT_TRUE(g2);
    const queue_counters& k = q->counters();
    EXPECT_EQ(k.publish, 4u);
    EXPECT_EQ(k.deliver, 2u);
    EXPECT_EQ(k.get, 1u);
    EXPECT_EQ(k.get_no_ack, 1u);
    EXPECT_EQ(k.deliver_get(), 4u);
    EXPECT_EQ(k.ack, 1u);
    EXPECT_EQ(k.redeliver, 1u);
    std::vector<std::string> tags;
    fake_consumer c2(0);
    q->add_consumer("tag-2", &c2);
    q->for_each_consumer([&](const std::string& t, const broker_consumer&) { tags.push_back(t); });
    EXPECT_EQ(tags, strings{"tag-2"});
}

TEST_F(queue, per_message_expiration_lower_than_queue_ttl_wins) {
    auto q = declare("q", queue_args{.message_ttl_ms = 1000});
    publish(msg("", "q", "short", {}, 10));
    now += 10;
    b.tick(now);
    EXPECT_EQ(q->ready_count(), 0u);
}

TEST_F(queue, ttl_zero_drops_unless_a_consumer_takes_it_at_once) {
    auto q = declare("q", queue_args{.message_ttl_ms = 0});
    publish(msg("", "q", "lost"));
    EXPECT_EQ(q->ready_count(), 0u);
    fake_consumer c(10);
    q->add_consumer("c", &c);
    publish(msg("", "q", "taken"));
    EXPECT_EQ(c.bodies, strings{"taken"});
}

TEST_F(queue, max_length_drop_head_keeps_the_newest) {
    auto q = declare("q", queue_args{.max_length = 2});
    for (const char* s : {"1", "2", "3", "4"}) EXPECT_EQ(publish(msg("", "q", s)).routed, 1u);
    EXPECT_EQ(b.stats().dropped, 2u);
    EXPECT_EQ(drain(*q), (strings{"3", "4"}));
}

TEST_F(queue, max_length_reject_publish_refuses_the_newest) {
    auto q = declare("q", queue_args{.max_length = 2, .overflow = overflow_policy::reject_publish});
    EXPECT_FALSE(publish(msg("", "q", "1")).rejected);
    EXPECT_FALSE(publish(msg("", "q", "2")).rejected);
    auto r = publish(msg("", "q", "3"));
    EXPECT_TRUE(r.rejected);  // the session nacks the confirm
    EXPECT_EQ(r.routed, 0u);
    EXPECT_EQ(drain(*q), (strings{"1", "2"}));
    EXPECT_FALSE(publish(msg("", "q", "4")).rejected);  // room again
}

TEST_F(queue, max_length_bytes_counts_bodies) {
    auto q = declare("q", queue_args{.max_length_bytes = 10});
    publish(msg("", "q", "aaaaa"));
    publish(msg("", "q", "bbbbb"));
    publish(msg("", "q", "cc"));
    EXPECT_EQ(drain(*q), (strings{"bbbbb", "cc"}));
}

class dlx : public broker_fixture {
  protected:
    broker_queue_ptr work, dead;
    void SetUp() override {
        exchange("dlx", exchange_type::direct);
        dead = declare("dead");
        bind("dlx", "dead", "failed");
    }
    queue_args args() {
        queue_args a;
        a.dead_letter_exchange = "dlx";
        a.dead_letter_routing_key = "failed";
        return a;
    }
};

TEST_F(dlx, rejected_without_requeue_goes_to_the_dead_letter_exchange) {
    work = declare("work", args());
    fake_consumer c(10);
    work->add_consumer("c", &c);
    publish(msg("", "work", "job"));
    ASSERT_EQ(c.held.size(), 1u);
    EXPECT_EQ(work->unacked_count(), 1u);
    work->reject(std::move(c.held[0].e), now);
    EXPECT_EQ(work->unacked_count(), 0u);
    EXPECT_EQ(b.stats().dead_lettered, 1u);
    auto e = dead->get(true, now);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->msg->body.view(), "job");
    EXPECT_EQ(e->msg->exchange, "dlx");
    EXPECT_EQ(e->msg->routing_key, "failed");  // x-dead-letter-routing-key replaces the key
}

TEST_F(dlx, original_key_is_kept_without_dead_letter_routing_key) {
    queue_args a = args();
    a.dead_letter_routing_key.reset();
    work = declare("work", a);
    bind("dlx", "dead", "work");  // the original routing key (default exchange: queue name)
    auto e = work->get(false, now);
    EXPECT_FALSE(e);
    publish(msg("", "work", "x"));
    e = work->get(false, now);
    ASSERT_TRUE(e);
    work->reject(std::move(*e), now);
    EXPECT_EQ(drain(*dead), strings{"x"});
}

TEST_F(dlx, expired_and_dropped_messages_are_dead_lettered) {
    queue_args a = args();
    a.message_ttl_ms = 5;
    a.max_length = 1;
    work = declare("work", a);
    publish(msg("", "work", "dropped"));
    publish(msg("", "work", "expires"));  // drop-head pushes "dropped" out
    EXPECT_EQ(drain(*dead), strings{"dropped"});
    now += 5;
    b.tick(now);
    EXPECT_EQ(drain(*dead), strings{"expires"});
    EXPECT_EQ(b.stats().dead_lettered, 2u);
}

struct fake_rewriter : dead_letter_rewriter {
    std::vector<std::string> calls;  // "queue/reason/exchange/key"
    sy::shared_bytes rewrite(const broker_message& m, const broker_queue& from,
                             dead_reason why) override {
        calls.push_back(from.name() + "/" + std::to_string(static_cast<int>(why)) + "/" +
                        m.exchange + "/" + m.routing_key);
        return sy::shared_bytes::copy_of(std::string_view("ct=rewritten;cid="));
    }
    const property_codec& codec() const override { return text; }
    text_codec text;
};

TEST_F(dlx, rewriter_gives_the_copy_its_header_only_when_routed) {
    fake_rewriter rw;
    b.set_dead_letter_rewriter(&rw);
    work = declare("work", args());
    publish(msg("", "work", "x"));
    auto e = work->get(false, now);
    ASSERT_TRUE(e);
    work->reject(std::move(*e), now);
    auto d = dead->get(true, now);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->msg->encoded(rw.text).view(), "ct=rewritten;cid=");
    EXPECT_EQ(d->msg->properties().content_type, "rewritten");
    EXPECT_EQ(rw.calls, strings{"work/0//work"});  // as it died: exchange "", key "work"
    queue_args a;
    a.dead_letter_exchange = "dlx";
    a.dead_letter_routing_key = "unbound";
    auto lost = declare("lost", a);
    publish(msg("", "lost", "y"));
    e = lost->get(false, now);
    ASSERT_TRUE(e);
    lost->reject(std::move(*e), now);
    EXPECT_EQ(rw.calls.size(), 1u);  // routed nowhere: not rewritten
}

TEST_F(dlx, missing_dead_letter_exchange_drops_silently) {
    queue_args a;
    a.dead_letter_exchange = "nowhere";
    work = declare("work", a);
    publish(msg("", "work", "x"));
    auto e = work->get(false, now);
    ASSERT_TRUE(e);
    work->reject(std::move(*e), now);
    EXPECT_EQ(work->ready_count(), 0u);
    EXPECT_EQ(b.stats().dead_lettered, 0u);
}

TEST_F(queue, dispatch_is_round_robin_among_consumers_with_credit) {
    auto q = declare("q");
    fake_consumer a(10), c(1);
    q->add_consumer("a", &a);
    q->add_consumer("c", &c);
    for (const char* s : {"1", "2", "3", "4"}) publish(msg("", "q", s));
    EXPECT_EQ(a.bodies, (strings{"1", "3", "4"}));  // c is full after "2"
    EXPECT_EQ(c.bodies, strings{"2"});
    EXPECT_EQ(q->unacked_count(), 4u);
}

TEST_F(queue, prefetch_holds_messages_until_ack) {
    auto q = declare("q");
    fake_consumer c(2);
    q->add_consumer("c", &c);
    for (const char* s : {"1", "2", "3"}) publish(msg("", "q", s));
    EXPECT_EQ(c.bodies.size(), 2u);
    EXPECT_EQ(q->ready_count(), 1u);
    q->ack(c.held[0].e);
    c.held.erase(c.held.begin());
    q->dispatch(now);
    EXPECT_EQ(c.bodies, (strings{"1", "2", "3"}));
    EXPECT_EQ(b.stats().acked, 1u);
}

TEST_F(queue, requeue_puts_the_message_back_at_the_head_redelivered) {
    auto q = declare("q");
    publish(msg("", "q", "1"));
    publish(msg("", "q", "2"));
    auto e = q->get(false, now);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->redelivered);
    q->requeue(std::move(*e));
    e = q->get(true, now);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->msg->body.view(), "1");
    EXPECT_TRUE(e->redelivered);
}

TEST_F(queue, requeues_in_any_order_restore_the_publish_order) {
    auto q = declare("q");
    for (const char* b : {"1", "2", "3", "4"}) publish(msg("", "q", b));
    auto e1 = q->get(false, now);
    auto e2 = q->get(false, now);
    auto e3 = q->get(false, now);
    ASSERT_TRUE(e1 && e2 && e3);
    q->requeue(std::move(*e2));  // "2" before "4"
    q->requeue(std::move(*e3));  // "3" between "2" and "4", not at the head
    q->requeue(std::move(*e1));  // "1" at the head
    EXPECT_EQ(drain(*q), (strings{"1", "2", "3", "4"}));
}

TEST_F(queue, auto_delete_goes_with_its_last_consumer_and_cancels_on_delete) {
    queue_declare_request r;
    r.name = "tmp";
    r.auto_delete = true;
    queue_declare_result out;
    ASSERT_TRUE(b.queue_declare(vh, r, out).ok());
    auto q = vh.queues.at("tmp");
    fake_consumer c(1, true);
    q->add_consumer("c", &c);
    EXPECT_TRUE(q->remove_consumer(&c));
    b.consumer_removed(*q);
    EXPECT_EQ(vh.queues.count("tmp"), 0u);
    EXPECT_TRUE(q->deleted());

    auto q2 = declare("other");
    fake_consumer d(1);
    q2->add_consumer("d", &d);
    std::uint32_t n = 0;
    ASSERT_TRUE(b.queue_delete(vh, "other", 1, false, false, n).ok());
    EXPECT_TRUE(d.cancelled);  // consumer cancel notify
}

TEST_F(queue, x_expires_deletes_an_unused_queue) {
    auto q = declare("q", queue_args{.expires_ms = 100});
    q->last_used_ms = now;
    b.tick(now + 99);
    EXPECT_EQ(vh.queues.count("q"), 1u);
    b.tick(now + 100);
    EXPECT_EQ(vh.queues.count("q"), 0u);
}

struct event_log : queue_watcher {
    std::vector<std::string> seen;  // "event:body"
    void on_queue_event(queue_event ev, const queue_entry& e) override {
        static constexpr const char* names[] = {"enqueued", "delivered", "acked",
                                                "rejected", "requeued",  "dropped"};
        seen.push_back(std::string(names[static_cast<int>(ev)]) + ":" +
                       std::string(e.msg->body.view()));
    }
};

TEST_F(queue, watcher_sees_every_step_of_a_message_life) {
    auto q = declare("q", queue_args{.max_length = 2});
    event_log w;
    q->watcher = &w;
    publish(msg("", "q", "a"));
    fake_consumer c(1);
    q->add_consumer("c", &c);
    q->dispatch(now);  // a -> c
    ASSERT_EQ(c.held.size(), 1u);
    q->requeue(std::move(c.held[0].e));  // consumer gone: back, redelivered
    c.held.clear();
    q->dispatch(now);
    ASSERT_EQ(c.held.size(), 1u);
    q->ack(c.held[0].e);
    c.held.clear();
    ASSERT_TRUE(q->remove_consumer(&c));
    publish(msg("", "q", "b"));
    auto got = q->get(false, now);
    ASSERT_TRUE(got);
    q->reject(std::move(*got), now);
    publish(msg("", "q", "c"));
    publish(msg("", "q", "d"));
    publish(msg("", "q", "e"));  // max-length 2 drops c
    EXPECT_EQ(q->purge(), 2u);
    EXPECT_EQ(w.seen, (strings{"enqueued:a", "delivered:a", "requeued:a", "delivered:a", "acked:a",
                               "enqueued:b", "delivered:b", "rejected:b", "enqueued:c",
                               "enqueued:d", "dropped:c", "enqueued:e", "dropped:d", "dropped:e"}));
}

TEST_F(queue, watcher_sees_auto_ack_deliveries_settled_at_once) {
    auto q = declare("q");
    event_log w;
    q->watcher = &w;
    fake_consumer c(5, true);
    q->add_consumer("c", &c);
    publish(msg("", "q", "x"));
    EXPECT_EQ(w.seen, (strings{"enqueued:x", "delivered:x", "acked:x"}));
}

TEST_F(queue, a_watched_name_follows_whichever_queue_holds_it) {
    struct name_log : event_log {
        std::vector<broker_queue_ptr> watched;
        void on_watched(const broker_queue_ptr& q) override { watched.push_back(q); }
    } w;
    auto before = declare("jobs");
    publish(msg("", "jobs", "old"));
    b.watch_queue(vh, "jobs", &w);  // the queue that exists now, from here on
    ASSERT_EQ(w.watched, std::vector<broker_queue_ptr>{before});
    EXPECT_EQ(before->watcher, &w);
    b.delete_queue(vh, *before);                                // "old" dropped
    auto again = declare("jobs", queue_args{.max_length = 3});  // declared by someone else
    ASSERT_EQ(w.watched.size(), 2u);
    EXPECT_EQ(w.watched[1], again);
    publish(msg("", "jobs", "new"));  // seen from its first message
    EXPECT_EQ(declare("other")->watcher, nullptr);
    b.watch_queue(vh, "jobs", nullptr);
    EXPECT_EQ(again->watcher, nullptr);
    b.delete_queue(vh, *again);
    EXPECT_EQ(declare("jobs")->watcher, nullptr);  // a later queue of the name: not watched
    EXPECT_EQ(w.seen, (strings{"dropped:old", "enqueued:new"}));
}

}  // namespace
}  // namespace sy::hub::test
