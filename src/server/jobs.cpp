// The jobs API: a work queue (hub::work_queue) owned by loop 0, workers that take jobs with a
// long poll and report with PUT, clients that watch a job by short poll, long poll (version), SSE
// or WebSocket (every change is published on topic jobs.{id}).
//
// Threads: every job structure lives on the owner loop (loop 0 of the process). Handlers on
// other loops post a closure to the owner; the owner answers by posting back to the handler's
// loop (reply_to), where the http::response is touched. A response is never copied or
// destroyed on the owner's thread (its handle count is loop-local).
//
// Visibility: the queue's own lease timeout is not used (it cannot be extended); the owner keeps
// a deadline per running job, extended by every PUT, and requeues (nack + requeue) a job whose
// worker stays silent past hub.job_visibility_timeout_ms. A worker whose lease was lost gets 409.
#include <atomic>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "gateway_internal.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/hub/work_queue.hpp"
#include "switchyard/server/gateway.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::server {

namespace {

struct job_counters {
    std::atomic<std::uint64_t> submitted{0}, taken{0}, completed{0}, failed{0}, reassigned{0};
};
job_counters g_jobs;

/// An answer travelling back to the loop that owns the response.
struct reply {
    int status = 200;
    std::string body;
    std::string type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

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

struct job {
    std::uint64_t id = 0;
    std::string status = "queued";  // queued | running | done | failed
    std::uint64_t progress = 0;
    std::string result = "null";  // raw JSON value from the worker
    std::uint64_t version = 1;
    std::uint32_t attempts = 0;
    std::int64_t created = 0, updated = 0;
    std::uint64_t tag = 0;  // current lease (work_queue delivery tag); 0: none
    std::int64_t deadline = 0;
    std::string content_type;
    shared_bytes payload;
};

struct waiter {
    std::uint64_t key = 0;  // worker waiters: sequence; version waiters: the version seen
    reply_to to;
    core::timer_id timer{};
};

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- a minimal reader for the PUT body's top-level fields ------------------------------------

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}

/// End of the JSON value starting at i (strings, nesting); npos when malformed.
std::size_t value_end(std::string_view s, std::size_t i) {
    if (i >= s.size()) return std::string_view::npos;
    if (s[i] == '"') {
        for (++i; i < s.size(); ++i) {
            if (s[i] == '\\') {
                ++i;
            } else if (s[i] == '"') {
                return i + 1;
            }
        }
        return std::string_view::npos;
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < s.size(); ++i) {
            if (s[i] == '"') {
                i = value_end(s, i);
                if (i == std::string_view::npos) return i;
                --i;
            } else if (s[i] == '{' || s[i] == '[') {
                ++depth;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return std::string_view::npos;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n') ++i;
    return i;
}

/// The raw value of a top-level key of a JSON object; nullopt if absent or malformed.
std::optional<std::string_view> json_field(std::string_view obj, std::string_view key) {
    std::size_t i = skip_ws(obj, 0);
    if (i >= obj.size() || obj[i] != '{') return std::nullopt;
    i = skip_ws(obj, i + 1);
    while (i < obj.size() && obj[i] == '"') {
        const std::size_t kend = value_end(obj, i);
        if (kend == std::string_view::npos) return std::nullopt;
        const std::string_view k = obj.substr(i + 1, kend - i - 2);
        i = skip_ws(obj, kend);
        if (i >= obj.size() || obj[i] != ':') return std::nullopt;
        i = skip_ws(obj, i + 1);
        const std::size_t vend = value_end(obj, i);
        if (vend == std::string_view::npos) return std::nullopt;
        if (k == key) return obj.substr(i, vend - i);
        i = skip_ws(obj, vend);
        if (i < obj.size() && obj[i] == ',') i = skip_ws(obj, i + 1);
    }
    return std::nullopt;
}

std::string_view unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
    return v;
}

std::optional<std::uint64_t> to_u64(std::string_view v) {
    v = unquote(v);
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || v.empty()) {
        double d = 0;  // "progress": 42.5
        auto [p2, ec2] = std::from_chars(v.data(), v.data() + v.size(), d);
        if (ec2 != std::errc() || d < 0) return std::nullopt;
        return static_cast<std::uint64_t>(d);
    }
    return n;
}

std::optional<std::uint64_t> id_of(std::string_view s) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

// ---- the owner ----------------------------------------------------------------------------------

class jobs_owner {
  public:
    jobs_owner(loop_state& ls, std::int64_t visibility_ms)
        : ls_(ls), visibility_ms_(std::max<std::int64_t>(visibility_ms, 1)) {
        arm_tick();
    }
    ~jobs_owner() {
        if (ls_.loop->timer_pending(tick_)) ls_.loop->cancel_timer(tick_);
    }

    core::loop& loop() { return *ls_.loop; }

    void submit(std::string type, shared_bytes payload, reply_to to) {
        const std::int64_t now = ls_.loop->now_ms();
        auto id = q_.enqueue(type, payload, now);
        if (!id) {
            to.send({503, "{\"error\":\"queue full\"}"});
            return;
        }
        job& j = jobs_[id.value()];
        j.id = id.value();
        j.created = j.updated = wall_ms();
        j.content_type = std::move(type);
        j.payload = std::move(payload);
        g_jobs.submitted.fetch_add(1, std::memory_order_relaxed);
        publish(j);
        to.send({201,
                 fmt::format("{{\"id\":{},\"version\":{}}}", j.id, j.version),
                 "application/json",
                 {{"Location", fmt::format("/jobs/{}", j.id)}}});
        serve();
    }

    void take(std::int64_t timeout_ms, reply_to to) {
        const std::uint64_t key = ++worker_seq_;
        workers_.push_back({key, std::move(to)});
        workers_.back().timer = ls_.loop->add_timer(millis(timeout_ms), [this, key] {
            for (auto it = workers_.begin(); it != workers_.end(); ++it) {
                if (it->key != key) continue;
                it->timer = {};
                it->to.send({204, {}});
                workers_.erase(it);
                return;
            }
        });
        serve();
    }

    void update(std::uint64_t id, std::string body, reply_to to) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return to.send({404, "{\"error\":\"no such job\"}"});
        job& j = it->second;
        if (j.status != "running") {
            return to.send(
                {409, fmt::format("{{\"error\":\"job is {}\",\"job\":{}}}", j.status, to_json(j))});
        }
        if (auto lease = json_field(body, "lease"); lease && to_u64(*lease) != j.tag) {
            return to.send({409, "{\"error\":\"lease lost\"}"});
        }
        if (auto p = json_field(body, "progress")) {
            if (auto n = to_u64(*p)) j.progress = std::min<std::uint64_t>(*n, 100);
        }
        if (auto r = json_field(body, "result")) j.result = std::string(*r);
        const std::int64_t now = ls_.loop->now_ms();
        std::string_view st = unquote(json_field(body, "status").value_or("\"running\""));
        if (st == "done" || st == "completed" || st == "succeeded") {
            (void)q_.ack(j.tag, now);
            finish(j, "done");
            j.progress = 100;
            g_jobs.completed.fetch_add(1, std::memory_order_relaxed);
        } else if (st == "failed" || st == "error") {
            (void)q_.nack(j.tag, false, now);
            finish(j, "failed");
            g_jobs.failed.fetch_add(1, std::memory_order_relaxed);
        } else {
            set_deadline(j, now + visibility_ms_);  // a report is a heartbeat
        }
        changed(j);
        to.send({200, to_json(j)});
    }

    /// Short poll (version_seen unset) or long poll until version > version_seen.
    void watch(std::uint64_t id, std::optional<std::uint64_t> version_seen, std::int64_t wait_ms,
               reply_to to) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return to.send({404, "{\"error\":\"no such job\"}"});
        job& j = it->second;
        if (!version_seen || j.version > *version_seen || wait_ms <= 0) {
            return to.send({200, to_json(j), "application/json", {{"ETag", etag(j)}}});
        }
        auto w = version_waiters_.emplace(id, waiter{*version_seen, std::move(to)});
        const std::uint64_t seq = ++worker_seq_;
        w->second.key = *version_seen;
        w->second.timer = ls_.loop->add_timer(millis(wait_ms), [this, id, seq] {
            (void)seq;
            expire_watch(id);
        });
    }

    /// The worker's HTTP client left before the job reached it: give the job back now.
    void give_back(std::uint64_t id, std::uint64_t tag) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || it->second.tag != tag || it->second.status != "running") return;
        requeue(it->second, ls_.loop->now_ms());
        serve();
    }

    static std::string to_json(const job& j) {
        return fmt::format(
            "{{\"id\":{},\"status\":\"{}\",\"progress\":{},\"result\":{},\"version\":{},"
            "\"attempts\":{},\"created\":{},\"updated\":{}}}",
            j.id, j.status, j.progress, j.result, j.version, j.attempts, j.created, j.updated);
    }

  private:
    static std::string etag(const job& j) { return fmt::format("\"{}\"", j.version); }

    void serve() {
        const std::int64_t now = ls_.loop->now_ms();
        while (!workers_.empty()) {
            auto d = q_.get(now);
            if (!d) return;
            auto it = jobs_.find(d->msg->id);
            if (it == jobs_.end()) {
                (void)q_.ack(d->tag, now);
                continue;
            }
            job& j = it->second;
            j.status = "running";
            j.tag = d->tag;
            j.attempts = d->msg->delivery_count;
            set_deadline(j, now + visibility_ms_);
            waiter w = std::move(workers_.front());
            workers_.pop_front();
            if (ls_.loop->timer_pending(w.timer)) ls_.loop->cancel_timer(w.timer);
            hub::message m;
            m.content_type = j.content_type;
            m.payload = j.payload;
            std::string body =
                fmt::format("{{\"id\":{},\"lease\":{},\"attempt\":{},\"content_type\":\"", j.id,
                            j.tag, j.attempts);
            http::json_escape(j.content_type, body);
            body += "\",\"payload\":";
            bool b64 = false;
            session::append_json_data(body, m, b64);
            if (b64) body += ",\"encoding\":\"base64\"";
            body += '}';
            g_jobs.taken.fetch_add(1, std::memory_order_relaxed);
            changed(j);
            const std::uint64_t id = j.id, tag = j.tag;
            w.to.send({200, std::move(body)},
                      [this, id, tag] { ls_.loop->post([this, id, tag] { give_back(id, tag); }); });
        }
    }

    void set_deadline(job& j, std::int64_t at) {
        if (j.deadline) deadlines_.erase({j.deadline, j.id});
        j.deadline = at;
        if (at) deadlines_.insert({at, j.id});
    }

    void finish(job& j, std::string_view status) {
        set_deadline(j, 0);
        j.status = std::string(status);
        j.tag = 0;
        finished_.push_back(j.id);
        while (finished_.size() > max_finished) {
            jobs_.erase(finished_.front());  // bounded memory: the oldest finished jobs go
            finished_.pop_front();
        }
    }

    void requeue(job& j, std::int64_t now) {
        (void)q_.nack(j.tag, true, now);
        set_deadline(j, 0);
        j.status = "queued";
        j.tag = 0;
        g_jobs.reassigned.fetch_add(1, std::memory_order_relaxed);
        changed(j);
    }

    void changed(job& j) {
        ++j.version;
        j.updated = wall_ms();
        publish(j);
        auto [b, e] = version_waiters_.equal_range(j.id);
        for (auto it = b; it != e;) {
            if (ls_.loop->timer_pending(it->second.timer)) ls_.loop->cancel_timer(it->second.timer);
            it->second.to.send({200, to_json(j), "application/json", {{"ETag", etag(j)}}});
            it = version_waiters_.erase(it);
        }
    }

    void expire_watch(std::uint64_t id) {
        const std::int64_t now_ns = ls_.loop->now_ns();
        auto [b, e] = version_waiters_.equal_range(id);
        for (auto it = b; it != e;) {
            if (!ls_.loop->timer_pending(it->second.timer)) {
                it->second.to.send({304,
                                    {},
                                    "application/json",
                                    {{"ETag", fmt::format("\"{}\"", it->second.key)}}});
                it = version_waiters_.erase(it);
            } else {
                ++it;
            }
        }
        (void)now_ns;
    }

    void publish(const job& j) {
        if (!ls_.shard) return;
        ls_.shard->publish(fmt::format("jobs.{}", j.id), "application/json",
                           shared_bytes::copy_of(to_json(j)));
    }

    void arm_tick() {
        const auto every = millis(std::clamp<std::int64_t>(visibility_ms_ / 10, 10, 1000));
        tick_ = ls_.loop->add_timer(every, [this] {
            const std::int64_t now = ls_.loop->now_ms();
            while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
                const std::uint64_t id = deadlines_.begin()->second;
                deadlines_.erase(deadlines_.begin());
                auto it = jobs_.find(id);
                if (it == jobs_.end()) continue;
                it->second.deadline = 0;
                requeue(it->second, now);
            }
            q_.tick(now);
            serve();
            arm_tick();
        });
    }

    static constexpr std::size_t max_finished = 10000;
    loop_state& ls_;
    std::int64_t visibility_ms_;
    hub::work_queue q_;
    std::unordered_map<std::uint64_t, job> jobs_;
    std::deque<std::uint64_t> finished_;
    std::set<std::pair<std::int64_t, std::uint64_t>> deadlines_;
    std::deque<waiter> workers_;
    std::multimap<std::uint64_t, waiter> version_waiters_;
    std::uint64_t worker_seq_ = 0;
    core::timer_id tick_{};
};

// Set on loop 0's thread at start; read by handlers on other loops only to post to its loop.
std::atomic<jobs_owner*> g_owner{nullptr};

/// Runs fn(owner) on the owner loop with a reply_to for this request.
template <typename Fn>
void on_owner(http::response& res, Fn fn) {
    loop_state* ls = current_loop_state();
    jobs_owner* o = g_owner.load(std::memory_order_acquire);
    if (!ls || !o) {
        res.send(503, "jobs are not running\n");
        return;
    }
    reply_to to(*ls->loop, res);
    o->loop().post(
        [o, fn = std::move(fn), to = std::move(to)]() mutable { fn(*o, std::move(to)); });
}

}  // namespace

void install_jobs(sy::app& a) {
    a.on_runtime([&a](runtime& rt) {
        rt.on_loop_start([&a](loop_state& ls) {
            if (ls.index != 0) return;
            const auto vis = static_cast<std::int64_t>(a.config().hub.job_visibility_timeout_ms);
            g_owner.store(new jobs_owner(ls, vis), std::memory_order_release);
        });
        rt.on_loop_stop([](loop_state& ls) {
            if (ls.index != 0) return;
            delete g_owner.exchange(nullptr);
        });
    });
    auto& r = a.router();
    r.post("/jobs", [](http::request& req, http::response& res) {
        std::string type(req.header("content-type").value_or("application/octet-stream"));
        auto payload = shared_bytes::copy_of(req.body());
        on_owner(res, [type = std::move(type), payload](jobs_owner& o, reply_to to) mutable {
            o.submit(std::move(type), std::move(payload), std::move(to));
        });
    });
    r.get("/jobs/next", [&a](http::request& req, http::response& res) {
        std::int64_t timeout = static_cast<std::int64_t>(a.config().hub.longpoll_timeout_ms);
        if (auto t = req.query("timeout")) {
            if (auto n = id_of(*t)) timeout = static_cast<std::int64_t>(*n) * 1000;
        }
        on_owner(res, [timeout](jobs_owner& o, reply_to to) { o.take(timeout, std::move(to)); });
    });
    r.put("/jobs/:id", [](http::request& req, http::response& res) {
        auto id = id_of(req.param("id"));
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        std::string body(req.body());
        on_owner(res, [id = *id, body = std::move(body)](jobs_owner& o, reply_to to) mutable {
            o.update(id, std::move(body), std::move(to));
        });
    });
    r.get("/jobs/:id", [](http::request& req, http::response& res) {
        auto id = id_of(req.param("id"));
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        std::optional<std::uint64_t> version;
        if (auto v = req.query("version")) version = id_of(*v);
        std::int64_t wait = 0;
        if (auto w = req.query("wait")) wait = static_cast<std::int64_t>(id_of(*w).value_or(0));
        if (version && !req.query("wait")) wait = 30;
        on_owner(res, [id = *id, version, wait](jobs_owner& o, reply_to to) {
            o.watch(id, version, wait * 1000, std::move(to));
        });
    });
    r.get("/jobs/:id/events", [&a](http::request& req, http::response& res) {
        auto id = id_of(req.param("id"));
        loop_state* ls = current_loop_state();
        if (!id) return res.send_json(400, "{\"error\":\"bad job id\"}");
        if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
        session::sse_subscription sub;
        sub.pattern = fmt::format("jobs.{}", *id);
        sub.start = hub::subscribe_options::from_newest();  // the current state, then changes
        sub.heartbeat = millis(a.config().hub.sse_heartbeat_ms);
        sub.counters = push_counters_of(*ls);
        start_sse(res, *ls->shard, std::move(sub));
    });
}

void render_jobs_metrics(std::string& out) {
    auto line = [&out](std::string_view name, std::string_view help, std::uint64_t v) {
        fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n{} {}\n", name,
                       help, name, name, v);
    };
    line("sy_jobs_submitted_total", "Jobs submitted.", g_jobs.submitted.load());
    line("sy_jobs_taken_total", "Jobs handed to workers (redeliveries included).",
         g_jobs.taken.load());
    line("sy_jobs_completed_total", "Jobs reported done.", g_jobs.completed.load());
    line("sy_jobs_failed_total", "Jobs reported failed.", g_jobs.failed.load());
    line("sy_jobs_reassigned_total", "Jobs requeued after their worker went silent or left.",
         g_jobs.reassigned.load());
}

}  // namespace sy::server
