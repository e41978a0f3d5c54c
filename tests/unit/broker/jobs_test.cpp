// hub::jobs_owner against a real broker on a fake clock: submit, HTTP-style workers (take,
// update, leases), AMQP-style consumers of the queue, reports by correlation id, long polls.
#include <map>
#include <optional>

#include "broker_support.hpp"
#include "switchyard/hub/jobs.hpp"

namespace sy::hub::test {
namespace {

class fake_clock final : public jobs_clock {
  public:
    std::int64_t now = 1000;
    std::int64_t now_ms() override { return now; }
    std::uint64_t start_timer(std::int64_t after_ms, unique_function<void()> fn) override {
        timers_.emplace(++seq_, timer{now + after_ms, std::move(fn)});
        return seq_;
    }
    void cancel_timer(std::uint64_t id) override { timers_.erase(id); }
    /// Moves time on, firing due timers in deadline order.
    void advance(std::int64_t ms) {
        const std::int64_t until = now + ms;
        for (;;) {
            auto due = timers_.end();
            for (auto it = timers_.begin(); it != timers_.end(); ++it) {
                if (it->second.at <= until &&
                    (due == timers_.end() || it->second.at < due->second.at))
                    due = it;
            }
            if (due == timers_.end()) break;
            now = std::max(now, due->second.at);
            auto fn = std::move(due->second.fn);
            timers_.erase(due);
            fn();
        }
        now = until;
    }

  private:
    struct timer {
        std::int64_t at;
        unique_function<void()> fn;
    };
    std::map<std::uint64_t, timer> timers_;
    std::uint64_t seq_ = 0;
};

jobs_json test_json() {
    jobs_json j;
    j.append_data = [](std::string& out, std::string_view, const sy::shared_bytes& p, bool&) {
        out +=
            p.view().starts_with('{') ? std::string(p.view()) : "\"" + std::string(p.view()) + "\"";
    };
    return j;
}

class jobs : public broker_fixture {
  protected:
    fake_clock clock;
    jobs_counters counters;
    std::vector<std::string> changes;  // topics of published changes
    std::unique_ptr<jobs_owner> owner;

    void SetUp() override {
        jobs_env env;
        env.clock = &clock;
        env.counters = &counters;
        env.json = test_json();
        env.on_change = [this](const std::string& topic, sy::shared_bytes) {
            changes.push_back(topic);
        };
        owner = std::make_unique<jobs_owner>(jobs_settings{100, "jobs", 10}, std::move(env));
        owner->start(&b);
    }
    /// The answer the owner gave (synchronously, or once time moved on).
    struct slot {
        std::optional<job_answer> a;
        job_reply reply() {
            return [this](job_answer x) { a = std::move(x); };
        }
    };
    std::uint64_t submit(std::string body) {
        slot s;
        owner->submit("text/plain", sy::shared_bytes::copy_of(body), s.reply());
        EXPECT_TRUE(s.a && s.a->outcome == job_outcome::created);
        return s.a ? s.a->id : 0;
    }
    job_answer watch(std::uint64_t id) {
        slot s;
        owner->watch(id, std::nullopt, 0, s.reply());
        return s.a.value();
    }
    static bool has(const job_answer& a, std::string_view text) {
        return a.body.find(text) != std::string::npos;
    }
};

TEST_F(jobs, a_submitted_job_is_a_persistent_message_with_typed_properties) {
    const std::uint64_t id = submit("work");
    auto q = vh.queues.at("jobs");
    EXPECT_TRUE(q->durable);
    EXPECT_TRUE(vh.queues.count("jobs.reports"));
    auto e = q->get(false, now);
    ASSERT_TRUE(e);
    const message_properties& p = e->msg->properties();
    EXPECT_EQ(p.content_type, "text/plain");
    EXPECT_EQ(p.correlation_id, std::to_string(id));
    EXPECT_EQ(p.message_id, std::to_string(id));
    EXPECT_EQ(p.reply_to, "jobs.reports");
    EXPECT_EQ(p.delivery_mode, 2);
    EXPECT_TRUE(e->msg->persistent);
    EXPECT_EQ(e->msg->encoded_if_any().size(), 0u);         // nothing encoded AMQP for the hub
    EXPECT_TRUE(has(watch(id), "\"status\":\"running\""));  // basic.get counts as a delivery
    q->ack(*e);
    EXPECT_TRUE(has(watch(id), "\"status\":\"done\""));
    EXPECT_EQ(counters.completed.load(), 1u);
    EXPECT_EQ(changes.back(), "jobs." + std::to_string(id));
}

TEST_F(jobs, an_http_worker_takes_reports_and_finishes) {
    const std::uint64_t id = submit("{\"n\":1}");
    slot offer;
    owner->take(7, 1000, offer.reply());
    ASSERT_TRUE(offer.a);
    ASSERT_EQ(offer.a->outcome, job_outcome::offer);
    EXPECT_EQ(offer.a->id, id);
    EXPECT_TRUE(has(*offer.a, "\"payload\":{\"n\":1}"));
    EXPECT_EQ(vh.queues.at("jobs")->unacked_count(), 1u);
    slot progress;
    owner->update(id, "{\"progress\":40}", progress.reply());
    ASSERT_EQ(progress.a->outcome, job_outcome::updated);
    EXPECT_TRUE(has(*progress.a, "\"progress\":40"));
    slot done;
    const std::string report =
        "{\"status\":\"done\",\"lease\":" + std::to_string(offer.a->lease) + ",\"result\":7}";
    owner->update(id, report, done.reply());
    ASSERT_EQ(done.a->outcome, job_outcome::updated);
    EXPECT_TRUE(has(watch(id), "\"status\":\"done\""));
    EXPECT_TRUE(has(watch(id), "\"result\":7"));
    EXPECT_EQ(vh.queues.at("jobs")->unacked_count(), 0u);
}

TEST_F(jobs, a_silent_worker_loses_its_lease_and_the_job_is_redelivered) {
    const std::uint64_t id = submit("x");
    slot first;
    owner->take(1, 1000, first.reply());
    ASSERT_EQ(first.a->outcome, job_outcome::offer);
    clock.advance(150);  // past visibility (100 ms)
    EXPECT_TRUE(has(watch(id), "\"status\":\"queued\""));
    EXPECT_EQ(counters.reassigned.load(), 1u);
    slot second;
    owner->take(2, 1000, second.reply());
    ASSERT_EQ(second.a->outcome, job_outcome::offer);
    EXPECT_TRUE(has(*second.a, "\"attempt\":2"));
    slot stale;
    owner->update(id, "{\"lease\":" + std::to_string(first.a->lease) + "}", stale.reply());
    EXPECT_EQ(stale.a->outcome, job_outcome::lease_lost);
}

TEST_F(jobs, an_amqp_style_consumer_holds_the_job_and_reports_by_correlation_id) {
    const std::uint64_t id = submit("x");
    fake_consumer worker(1);
    vh.queues.at("jobs")->add_consumer("amqp", &worker);
    vh.queues.at("jobs")->dispatch(now);
    ASSERT_EQ(worker.held.size(), 1u);
    slot finish;
    owner->update(id, "{\"status\":\"done\"}", finish.reply());
    EXPECT_EQ(finish.a->outcome, job_outcome::held_by_amqp);
    // A reply encoded by a protocol codec: the owner reads its typed properties.
    text_codec codec;
    auto r = std::make_shared<broker_message>(*msg("", "jobs.reports", "{\"progress\":55}"));
    r->set_encoded(sy::shared_bytes::copy_of("ct=application/json;cid=" + std::to_string(id)),
                   codec);
    publish(r);
    EXPECT_EQ(codec.decodes, 1);
    EXPECT_TRUE(has(watch(id), "\"progress\":55"));
    auto& h = worker.held.front();
    h.q->reject(std::move(h.e), now);
    EXPECT_TRUE(has(watch(id), "\"status\":\"failed\""));
}

TEST_F(jobs, waits_end_on_their_timers) {
    slot idle;
    owner->take(3, 500, idle.reply());
    EXPECT_FALSE(idle.a);
    EXPECT_EQ(vh.queues.count("jobs"), 1u);  // a waiting worker uses (declares) the queue
    clock.advance(500);
    ASSERT_TRUE(idle.a);
    EXPECT_EQ(idle.a->outcome, job_outcome::no_job);
    EXPECT_EQ(vh.queues.at("jobs")->consumer_count(), 0u);  // unregistered when nobody waits

    const std::uint64_t id = submit("x");
    const std::uint64_t v = watch(id).version;
    slot quiet, changed;
    owner->watch(id, v, 300, quiet.reply());
    clock.advance(300);
    ASSERT_TRUE(quiet.a);
    EXPECT_EQ(quiet.a->outcome, job_outcome::not_modified);
    EXPECT_EQ(quiet.a->version, v);
    owner->watch(id, v, 300, changed.reply());
    slot offer;
    owner->take(4, 1000, offer.reply());  // delivered: a change
    ASSERT_TRUE(changed.a);
    EXPECT_EQ(changed.a->outcome, job_outcome::state);
    EXPECT_GT(changed.a->version, v);
}

TEST_F(jobs, release_answers_waiters_at_shutdown) {
    slot w;
    owner->take(9, 10000, w.reply());
    owner->release_worker(9);
    ASSERT_TRUE(w.a);
    EXPECT_EQ(w.a->outcome, job_outcome::shutting_down);
    const std::uint64_t id = submit("x");
    slot lp;
    owner->watch(id, watch(id).version, 10000, lp.reply());
    owner->release_watchers(id);
    ASSERT_TRUE(lp.a);
    EXPECT_EQ(lp.a->outcome, job_outcome::shutting_down);
}

// The report is read by base/json's document reader: string members are unescaped before use
// (a raw field scanner would compare the escaped status text with "done" and keep the escapes).
TEST_F(jobs, escaped_string_fields_of_a_report_are_unescaped) {
    const std::uint64_t id = submit("x");
    slot offer;
    owner->take(1, 1000, offer.reply());
    ASSERT_EQ(offer.a->outcome, job_outcome::offer);
    slot progress;
    owner->update(id,
                  "{\"progress\":\"\\u0034\\u0032\",\"lease\":\"" + std::to_string(offer.a->lease) +
                      "\",\"result\":\"a\\\"b\\u00e9\"}",
                  progress.reply());
    ASSERT_EQ(progress.a->outcome, job_outcome::updated);
    EXPECT_TRUE(has(*progress.a, "\"progress\":42"));
    EXPECT_TRUE(has(*progress.a, "\"result\":\"a\\\"b\xc3\xa9\"")) << progress.a->body;
    slot done;
    owner->update(id, "{\"status\":\"d\\u006fne\",\"progress\":42.5}", done.reply());
    ASSERT_EQ(done.a->outcome, job_outcome::updated);
    EXPECT_TRUE(has(watch(id), "\"status\":\"done\""));
    EXPECT_EQ(counters.completed.load(), 1u);
}

TEST_F(jobs, unknown_jobs_and_bad_results_are_refused) {
    slot none;
    owner->update(42, "{}", none.reply());
    EXPECT_EQ(none.a->outcome, job_outcome::no_such_job);
    const std::uint64_t id = submit("x");
    slot offer, bad;
    owner->take(1, 1000, offer.reply());
    owner->update(id, "{\"result\":}", bad.reply());
    EXPECT_EQ(bad.a->outcome, job_outcome::bad_result);
    slot not_json;
    owner->update(id, "progress=5", not_json.reply());
    EXPECT_EQ(not_json.a->outcome, job_outcome::bad_result);
    slot heartbeat;  // an empty report only extends the lease
    owner->update(id, "", heartbeat.reply());
    EXPECT_EQ(heartbeat.a->outcome, job_outcome::updated);
    EXPECT_EQ(parse_job_id("12"), 12u);
    EXPECT_FALSE(parse_job_id("12x"));
}

}  // namespace
}  // namespace sy::hub::test
