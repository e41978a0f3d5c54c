// The jobs API routes: HTTP parsing and answering, and posting to loop 0 where the jobs domain
// (hub::jobs_owner, include/switchyard/hub/jobs.hpp: the queue, leases, status, reports) lives.
// POST /jobs submits, GET /jobs/next is a worker's long poll, PUT /jobs/{id} its report, GET
// /jobs/{id} a short or long poll (version), GET /jobs/{id}/events an SSE stream of topic
// jobs.{id}.
//
// Threads: the owner lives on loop 0 (the broker loop, see docs/threading.md), in a typed slot
// of that loop (jobs_service), beside its counters (hub::jobs_counters, the loop's slot too, read
// by the sy_jobs_* families of the runtime's metrics registry). Handlers on other loops read the
// slot only to post a closure to it; the owner answers through a job_reply that posts back to the
// handler's loop (reply_to), where the http::response is touched. A response is never copied or
// destroyed on the owner's thread (its handle count is loop-local).
#include <atomic>

#include <fmt/format.h>

#include "gateway_internal.hpp"
#include "switchyard/backplane/backplane.hpp"
#include "switchyard/backplane/jobs.hpp"
#include "switchyard/base/metrics.hpp"
#include "switchyard/base/utf8.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/hub/broker.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/hub/jobs.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/server/gateway.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::server {

namespace {
/// The permission name of the jobs queue itself (submit: publish; work: subscribe).
constexpr std::string_view k_jobs_topic = "jobs";
}  // namespace

namespace {

using hub::job_answer;
using hub::job_outcome;
using jobs_owner = hub::job_store;  // the local store or backplane::redis_jobs
using hub::parse_job_id;

/// An answer travelling back to the loop that owns the response.
struct reply {
    int status = 200;
    std::string body;
    std::string type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

/// The one table: what the owner answered -> the HTTP answer.
reply http_reply(job_answer a) {
    const auto etag = [](std::uint64_t v) { return fmt::format("\"{}\"", v); };
    switch (a.outcome) {
        case job_outcome::created:
            return {201,
                    std::move(a.body),
                    "application/json",
                    {{"Location", fmt::format("/jobs/{}", a.id)}}};
        case job_outcome::unavailable:
            return {503, std::move(a.body)};
        case job_outcome::queue_full:
            return {503, std::move(a.body), "application/json", {{"Retry-After", "1"}}};
        case job_outcome::offer:
        case job_outcome::updated:
            return {200, std::move(a.body)};
        case job_outcome::no_job:
            return {204, {}};
        case job_outcome::no_such_job:
            return {404, std::move(a.body)};
        case job_outcome::not_running:
        case job_outcome::lease_lost:
        case job_outcome::held_by_amqp:
            return {409, std::move(a.body)};
        case job_outcome::bad_result:
            return {400, std::move(a.body)};
        case job_outcome::state:
            return {200, std::move(a.body), "application/json", {{"ETag", etag(a.version)}}};
        case job_outcome::not_modified:
            return {304, {}, "application/json", {{"ETag", etag(a.version)}}};
        case job_outcome::shutting_down:
            // gateway_internal.hpp, k_shutdown_status: answered now, not held through the grace.
            return {k_shutdown_status,
                    std::string(k_shutdown_body),
                    "application/json",
                    {{"Retry-After", std::string(k_shutdown_retry_after)}}};
    }
    return {500, {}};
}

/// Holds a response on its own loop; the owner only moves it around and posts it back.
class reply_to {
  public:
    reply_to(core::loop& origin, http::response res)
        : origin_(&origin), res_(std::make_shared<http::response>(std::move(res))) {}
    reply_to(reply_to&&) noexcept = default;
    reply_to& operator=(reply_to&&) noexcept = default;
    ~reply_to() {
        if (res_) origin_->post([r = std::move(res_)] {});  // the last handle dies at home
    }
    /// undelivered runs on the origin when the client has gone (e.g. give a job back).
    void send(reply r, std::function<void()> undelivered = {}) {
        if (!res_) return;
        origin_->post([res = std::move(res_), r = std::move(r), u = std::move(undelivered)] {
            if (res->closed()) {
                if (u) u();
                return;
            }
            for (auto& [n, v] : r.headers) res->set_header(n, v);
            res->send(r.status, r.body, r.type);
        });
        res_.reset();
    }

  private:
    core::loop* origin_;
    std::shared_ptr<http::response> res_;
};

/// loop 0's timers for the owner. A timer id packs core::timer_id, slot + 1 so it is never 0.
class loop_clock final : public hub::jobs_clock {
  public:
    explicit loop_clock(core::loop& l) : loop_(l) {}
    std::int64_t now_ms() override { return loop_.now_ms(); }
    std::uint64_t start_timer(std::int64_t after_ms, sy::unique_function<void()> fn) override {
        const core::timer_id t =
            loop_.add_timer(millis(after_ms), [f = std::move(fn)]() mutable { f(); });
        return (std::uint64_t{t.slot} + 1) << 32 | t.gen;
    }
    void cancel_timer(std::uint64_t id) override {
        if (id == 0) return;
        const core::timer_id t{static_cast<std::uint32_t>((id >> 32) - 1),
                               static_cast<std::uint32_t>(id)};
        if (loop_.timer_pending(t)) loop_.cancel_timer(t);
    }

  private:
    core::loop& loop_;
};

/// The payload rule of the push framers (session/push_format), which the hub cannot include.
hub::jobs_json jobs_json_hooks() {
    hub::jobs_json j;
    j.append_data = [](std::string& out, std::string_view type, const shared_bytes& payload,
                       bool& b64) {
        hub::message m;
        m.content_type = std::string(type);
        m.payload = payload;
        m.utf8 =
            is_valid_utf8(m.payload.bytes());  // framers read the flag (hub.cpp sets it on publish)
        session::append_json_data(out, m, b64);
    };
    return j;
}

/// The owner on loop 0 with its clock.
struct jobs_service {
    jobs_service(loop_state& ls, const server_config& c, hub::jobs_counters& counters,
                 backplane::backplane* bp)
        : loop(*ls.loop), clock(loop), owner(make_store(ls, c, clock, counters, bp)) {}
    /// With a backplane the jobs live in Redis, shared by every node (docs/patterns/jobs.md).
    static std::unique_ptr<hub::job_store> make_store(loop_state& ls, const server_config& c,
                                                      loop_clock& clock,
                                                      hub::jobs_counters& counters,
                                                      backplane::backplane* bp) {
        if (bp) {
            return std::make_unique<backplane::redis_jobs>(settings_of(c),
                                                           env_of(ls, clock, counters), *bp);
        }
        return std::make_unique<hub::jobs_owner>(settings_of(c), env_of(ls, clock, counters));
    }
    static hub::jobs_settings settings_of(const server_config& c) {
        return {static_cast<std::int64_t>(c.hub.job_visibility_timeout_ms), c.hub.jobs_queue,
                static_cast<std::size_t>(c.hub.jobs_kept),
                static_cast<std::uint32_t>(c.hub.jobs_max_attempts)};
    }
    static hub::jobs_env env_of(loop_state& ls, loop_clock& clock, hub::jobs_counters& counters) {
        hub::jobs_env e;
        e.clock = &clock;
        e.counters = &counters;
        e.json = jobs_json_hooks();
        e.on_change = [&ls](const std::string& topic, shared_bytes json) {
            // jobs.* is reserved to the server (hub_settings::reserved_prefixes): clients cannot
            // forge a job's events.
            if (ls.shard)
                ls.shard->publish(topic, "application/json", std::move(json), {},
                                  hub::publish_origin::server);
        };
        // Read at each use: install_amqp sets ls.when_durable in its own loop-start hook.
        e.when_durable = [&ls](std::function<void()> fn) {
            if (ls.when_durable) return ls.when_durable(std::move(fn));
            fn();
        };
        return e;
    }
    core::loop& loop;
    loop_clock clock;
    std::unique_ptr<hub::job_store> owner;
};

/// Loop 0's slot of type T (jobs_service, hub::jobs_counters), or nullptr before loop 0 started
/// (or, for the owner, after it stopped). Any thread: the slot pointer is atomic.
template <typename T>
T* on_loop0(runtime* rt) {
    if (!rt || rt->loop_count() == 0 || !rt->loop_at(0).loop) return nullptr;
    return rt->loop_at(0).loop->slot<T>();
}

jobs_service* owner_of_jobs(app& a) {
    return on_loop0<jobs_service>(a.runtime());
}

/// Runs fn(owner, reply) on the owner loop; the reply answers this request on its loop.
/// undelivered(answer) runs on the owner loop when the client had gone when the answer came.
template <typename Fn>
void on_owner(app& a, http::response& res, Fn fn,
              std::function<void(jobs_owner&, const job_answer&)> undelivered = {}) {
    loop_state* ls = current_loop_state();
    jobs_service* o = owner_of_jobs(a);
    if (!ls || !o) {
        res.send(503, "jobs are not running\n");
        return;
    }
    auto to = std::make_shared<reply_to>(*ls->loop, res);
    hub::job_reply answer = [o, to, undelivered](job_answer ans) {
        std::function<void()> gone;
        if (undelivered) {
            gone = [o, undelivered, ans] {
                o->loop.post([o, undelivered, ans] { undelivered(*o->owner, ans); });
            };
        }
        to->send(http_reply(ans), std::move(gone));
    };
    o->loop.post([o, fn = std::move(fn), answer = std::move(answer)]() mutable {
        fn(*o->owner, std::move(answer));
    });
}

/// The sy_jobs_* families: loop 0's counters, read when scraped (0 before loop 0 started).
void register_jobs_metrics(runtime& rt) {
    struct family {
        const char* name;
        const char* help;
        std::atomic<std::uint64_t> hub::jobs_counters::*field;
    };
    static constexpr family families[] = {
        {"sy_jobs_submitted_total", "Jobs submitted.", &hub::jobs_counters::submitted},
        {"sy_jobs_taken_total", "Jobs handed to workers (redeliveries included).",
         &hub::jobs_counters::taken},
        {"sy_jobs_completed_total", "Jobs reported done.", &hub::jobs_counters::completed},
        {"sy_jobs_failed_total", "Jobs reported failed.", &hub::jobs_counters::failed},
        {"sy_jobs_reassigned_total", "Jobs requeued after their worker went silent or left.",
         &hub::jobs_counters::reassigned},
    };
    for (const family& f : families) {
        rt.metrics().add_value({f.name, metrics::kind::counter, f.help, {}, false},
                               [&rt, field = f.field]() -> std::uint64_t {
                                   const auto* c = on_loop0<hub::jobs_counters>(&rt);
                                   return c ? (c->*field).load(std::memory_order_relaxed) : 0;
                               });
    }
}

}  // namespace

void install_jobs(app& a) {
    a.on_runtime([&a](runtime& rt) {
        // A queue name an AMQP client could declare: not empty (that would be server-named),
        // not amq.* (reserved, 403), a shortstr with ".reports" appended.
        const std::string& q = a.config().hub.jobs_queue;
        if (q.empty() || q.starts_with("amq.") || q.size() > 247) {
            throw config_error("hub.jobs_queue: '" + q +
                               "' is not a usable queue name (non-empty, not amq.*, at most 247 "
                               "bytes)");
        }
        rt.on_loop_start([&a, &rt](loop_state& ls) {
            if (ls.index != 0) return;
            // The counters outlive the owner (loop-owned, freed by ~loop): a scrape after the
            // stop still reads them.
            auto& counters = ls.loop->emplace_slot<hub::jobs_counters>();
            auto& o = ls.loop->emplace_slot<jobs_service>(ls, a.config(), counters, rt.backplane());
            // After every loop-start hook ran (install_amqp sets ls.broker in its own hook); the
            // first task of loop 0, so before any handler's post reaches the owner.
            ls.loop->post([o = &o, &ls] { o->owner->start(ls.broker); });
        });
        rt.on_loop_stop([](loop_state& ls) {
            if (ls.index != 0) return;
            ls.loop->set_slot<jobs_service>(nullptr);  // frees the owner (on loop 0's thread)
        });
        register_jobs_metrics(rt);
    });
    auto& r = a.routes().handlers();
    // [auth] (docs/auth.md): submitting is publishing to "jobs", working (next, reports) is
    // subscribing to "jobs", reading a job is subscribing to "jobs.{id}".
    r.post("/jobs", [&a](http::request& req, http::response& res) {
        if (!authorize(req, res, auth::action::publish, k_jobs_topic)) return;
        std::string type(req.header("content-type").value_or("application/octet-stream"));
        // Served to workers as an AMQP shortstr and inside JSON: the hub's rule for what every
        // transport can carry.
        if (!hub::valid_content_type(type)) {
            return res.send_json(400, "{\"error\":\"invalid content type\"}");
        }
        auto payload = shared_bytes::copy_of(req.body());
        on_owner(a, res,
                 [type = std::move(type), payload](jobs_owner& o, hub::job_reply to) mutable {
                     o.submit(std::move(type), std::move(payload), std::move(to));
                 });
    });
    r.get("/jobs/next", [&a](http::request& req, http::response& res) {
        if (!authorize(req, res, auth::action::subscribe, k_jobs_topic)) return;
        std::int64_t timeout = static_cast<std::int64_t>(a.config().hub.longpoll_timeout_ms);
        if (auto t = req.query("timeout")) {
            if (auto n = parse_job_id(*t)) timeout = static_cast<std::int64_t>(*n) * 1000;
        }
        static std::atomic<std::uint64_t> next_key{0};
        const std::uint64_t key = next_key.fetch_add(1, std::memory_order_relaxed) + 1;
        if (jobs_service* o = owner_of_jobs(a)) {
            // The client leaves while waiting: take it off the owner's list at once.
            res.on_abort([o, key] { o->loop.post([o, key] { o->owner->drop_worker(key); }); });
        }
        on_owner(
            a, res,
            [timeout, key](jobs_owner& o, hub::job_reply to) {
                o.take(key, timeout, std::move(to));
            },
            // The offer reached a client that had gone: the job goes back to the queue.
            [](jobs_owner& o, const job_answer& ans) {
                if (ans.outcome == job_outcome::offer) o.give_back(ans.id, ans.lease);
            });
        // After on_owner: posted behind take() even when the shutdown already began.
        if (jobs_service* o = owner_of_jobs(a); o && !res.finished()) {
            res.on_shutdown(
                [o, key] { o->loop.post([o, key] { o->owner->release_worker(key); }); });
        }
    });
    r.put("/jobs/:id", [&a](http::request& req, http::response& res) {
        auto id = parse_job_id(req.param("id"));
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        if (!authorize(req, res, auth::action::subscribe, k_jobs_topic)) return;
        std::string body(req.body());
        on_owner(a, res, [id = *id, body = std::move(body)](jobs_owner& o, hub::job_reply to) {
            o.update(id, body, std::move(to));
        });
    });
    r.get("/jobs/:id", [&a](http::request& req, http::response& res) {
        auto id = parse_job_id(req.param("id"));
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        if (!authorize(req, res, auth::action::subscribe, fmt::format("jobs.{}", *id))) return;
        std::optional<std::uint64_t> version;
        if (auto v = req.query("version")) version = parse_job_id(*v);
        std::int64_t wait = 0;
        if (auto w = req.query("wait"))
            wait = static_cast<std::int64_t>(parse_job_id(*w).value_or(0));
        if (version && !req.query("wait")) wait = 30;
        on_owner(a, res, [id = *id, version, wait](jobs_owner& o, hub::job_reply to) {
            o.watch(id, version, wait * 1000, std::move(to));
        });
        // After on_owner, as for /jobs/next: a long poll that waits is answered at shutdown.
        jobs_service* o = owner_of_jobs(a);
        if (o && version && wait > 0 && !res.finished()) {
            res.on_shutdown(
                [o, id = *id] { o->loop.post([o, id] { o->owner->release_watchers(id); }); });
        }
    });
    r.get("/jobs/:id/events", [&a](http::request& req, http::response& res) {
        auto id = parse_job_id(req.param("id"));
        loop_state* ls = current_loop_state();
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
        session::sse_subscription sub;
        sub.pattern = fmt::format("jobs.{}", *id);
        if (!authorize(req, res, auth::action::subscribe, sub.pattern)) return;
        sub.start = hub::subscribe_options::from_newest();  // the current state, then changes
        sub.heartbeat = millis(a.config().hub.sse_heartbeat_ms);
        sub.counters = push_counters_of(*ls);
        start_push(req, res, std::move(sub));
    });
}

}  // namespace sy::server
