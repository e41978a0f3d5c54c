// jobs_owner (jobs.hpp): job records driven by the life of their messages in the broker queue.
#include "switchyard/hub/jobs.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "switchyard/base/json.hpp"
#include "switchyard/hub/broker.hpp"

namespace sy::hub {

namespace {

struct job {
    std::uint64_t id = 0;
    std::string status = "queued";  // queued | running | done | failed
    std::uint64_t progress = 0;
    std::string result = "null";  // raw JSON value from the worker
    std::string reason;           // why it failed
    std::uint64_t version = 0;    // 1 once queued; +1 per change
    std::uint32_t attempts = 0;   // deliveries, to any worker
    std::int64_t created = 0, updated = 0;
    std::int64_t deadline = 0;
};

struct waiter {
    std::uint64_t key = 0;   // worker waiters: the caller's key; version waiters: a sequence
    std::uint64_t seen = 0;  // version waiters: the version seen
    job_reply to;
    std::uint64_t timer = 0;
};

/// A job held by an HTTP worker: the broker delivery it settles with update().
struct http_lease {
    std::uint64_t tag = 0;
    broker_queue_ptr queue;
    queue_entry entry;
};

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A non-negative number filling s exactly; a fraction is cut (42.5 -> 42).
std::optional<std::uint64_t> to_u64(std::string_view s) {
    std::uint64_t n = 0;
    const char* end = s.data() + s.size();
    if (auto [p, ec] = std::from_chars(s.data(), end, n); ec == std::errc() && p == end) return n;
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), end, d);
    if (ec != std::errc() || p != end || !(d >= 0) || d >= 18446744073709551616.0) {
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(d);
}

/// A report's member as a non-negative number, quoted or not ("42", 42, 42.5 -> 42).
std::optional<std::uint64_t> number_of(const json::document& d, std::string_view key) {
    if (auto n = d.get_uint(key)) return n;
    if (auto s = d.get_string(key)) return to_u64(*s);   // unescaped first
    if (auto raw = d.get_raw(key)) return to_u64(*raw);  // 42.5, 4e1; objects etc. fail here
    return std::nullopt;
}

/// A worker's report (a JSON object); an empty body is a report without members (a heartbeat).
/// nullopt when the body is not a JSON object.
std::optional<json::document> report_of(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return json::document::parse("{}");
    }
    auto d = json::document::parse(body);
    if (!d || !d->is_object()) return std::nullopt;
    return d;
}

}  // namespace

std::optional<job_report> parse_job_report(std::string_view body) {
    const std::optional<json::document> d = report_of(body);
    if (!d) return std::nullopt;
    job_report r;
    r.status = d->get_string("status").value_or("running");
    r.done = r.status == "done" || r.status == "completed" || r.status == "succeeded";
    r.failed = r.status == "failed" || r.status == "error";
    if (auto n = number_of(*d, "progress")) r.progress = std::min<std::uint64_t>(*n, 100);
    if (auto raw = d->get_raw("result")) r.result = std::move(*raw);
    r.has_lease = d->has("lease");
    if (r.has_lease) r.lease = number_of(*d, "lease");
    return r;
}

std::optional<std::uint64_t> parse_job_id(std::string_view s) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

struct jobs_owner::impl final : queue_watcher {
    impl(jobs_settings s, jobs_env e)
        : visibility_ms(std::max<std::int64_t>(s.visibility_ms, 1)),
          max_finished(s.kept),
          queue_name(std::move(s.queue)),
          reports_name(queue_name + ".reports"),
          env(std::move(e)),
          clock(*env.clock),
          counters(*env.counters),
          http(*this),
          reports(*this) {}

    ~impl() override;

    // ---- the HTTP workers and the report reader, as broker consumers ----

    /// HTTP long-pollers, as one consumer of the jobs queue: credit while one waits. Registered
    /// only while someone waits, so consumer counts stay honest.
    struct http_workers final : broker_consumer {
        explicit http_workers(impl& o) : owner(o) {}
        bool has_credit() const override { return !owner.workers.empty(); }
        void deliver(const broker_queue_ptr& q, queue_entry&& e) override {
            owner.hand_to_http(q, std::move(e));
        }
        void cancelled_by_server() override { owner.http_registered = false; }
        bool no_ack() const override { return false; }
        impl& owner;
    };
    /// Reports from workers of any protocol: messages to the reply-to queue whose
    /// correlation-id (or message-id) is a job id (AMQP's RPC pattern).
    struct report_reader final : broker_consumer {
        explicit report_reader(impl& o) : owner(o) {}
        bool has_credit() const override { return true; }
        void deliver(const broker_queue_ptr&, queue_entry&& e) override { owner.on_report(e); }
        void cancelled_by_server() override {}
        bool no_ack() const override { return true; }
        impl& owner;
    };

    // ---- operations (jobs.hpp) ----

    void submit(std::string type, shared_bytes payload, job_reply to);
    void take(std::uint64_t key, std::int64_t timeout_ms, job_reply to);
    void drop_worker(std::uint64_t key);
    void release_worker(std::uint64_t key);
    void release_watchers(std::uint64_t id);
    void update(std::uint64_t id, std::string_view report, job_reply to);
    void watch(std::uint64_t id, std::optional<std::uint64_t> seen, std::int64_t wait_ms,
               job_reply to);
    void give_back(std::uint64_t id, std::uint64_t tag);

    // queue_watcher: the job's status follows its message, whoever holds it.
    void on_queue_event(queue_event ev, const queue_entry& e) override;
    void on_watched(const broker_queue_ptr& q) override {
        // A deleted predecessor stays watched: messages AMQP channels still hold from it settle
        // their jobs (acks after a queue.delete).
        std::erase_if(watched, [](const auto& w) { return w.expired(); });
        watched.push_back(q);
    }

    // ---- internals ----

    std::string to_json(const job& j) const;
    broker& the_broker() {
        if (shared_broker) return *shared_broker;
        if (!own_broker) own_broker = std::make_unique<broker>();
        return *own_broker;
    }
    void start(broker* b);
    broker_queue_ptr existing(const std::string& name);
    broker_queue_ptr ensure(const std::string& name, bool durable);
    broker_queue_ptr jobs_queue(bool use);
    void reports_queue(bool use);
    void serve();
    void unregister_http();
    job* job_of(const queue_entry& e, bool create);
    std::uint64_t lease_of(std::uint64_t id) const {
        auto it = leases.find(id);
        return it == leases.end() ? 0 : it->second.tag;
    }
    void hand_to_http(const broker_queue_ptr& q, queue_entry&& e);
    void requeue_lease(std::uint64_t id);
    void on_report(const queue_entry& e);
    void apply_report(job& j, const json::document& report) const;
    void set_deadline(job& j, std::int64_t at) {
        if (j.deadline) deadlines.erase({j.deadline, j.id});
        j.deadline = at;
        if (at) deadlines.insert({at, j.id});
    }
    void finish(job& j, std::string_view status, const queue_entry& e);
    void changed(job& j);
    void expire_watch(std::uint64_t id, std::uint64_t key);
    void arm_tick();
    job_answer state_of(const job& j) const {
        return {job_outcome::state, to_json(j), j.id, j.version, 0};
    }

    std::int64_t visibility_ms;
    std::size_t max_finished;
    std::string queue_name, reports_name;
    jobs_env env;
    jobs_clock& clock;
    jobs_counters& counters;
    broker* shared_broker = nullptr;
    std::unique_ptr<broker> own_broker;  // without an AMQP listener
    broker_queue_ptr jobs_q, reports_q;
    std::vector<std::weak_ptr<broker_queue>> watched;  // queues whose watcher is this
    http_workers http;
    report_reader reports;
    bool http_registered = false;
    std::unordered_map<std::uint64_t, job> jobs;
    std::unordered_map<const broker_message*, std::uint64_t> by_msg;  // queued or held
    std::unordered_map<std::uint64_t, http_lease> leases;             // job id -> lease
    std::deque<std::uint64_t> finished;
    std::set<std::pair<std::int64_t, std::uint64_t>> deadlines;
    std::deque<waiter> workers;
    std::multimap<std::uint64_t, waiter> version_waiters;  // job id -> waiter
    std::uint64_t lease_seq = 0, next_id = 0, watch_seq = 0;
    std::uint64_t tick = 0;
};

jobs_owner::impl::~impl() {
    clock.cancel_timer(tick);
    for (auto& w : workers) clock.cancel_timer(w.timer);
    for (auto& [id, w] : version_waiters) clock.cancel_timer(w.timer);
    // Detach first (no job updates while stopping). A deleted jobs queue may live on in an AMQP
    // channel's unacked records.
    if (broker_vhost* vh = the_broker().vhost("/")) the_broker().watch_queue(*vh, queue_name, {});
    for (auto& w : watched) {
        if (auto q = w.lock()) q->watcher = nullptr;
    }
    for (auto& [id, l] : leases) {
        if (!l.queue->deleted()) l.queue->requeue(std::move(l.entry));
    }
    if (jobs_q && !jobs_q->deleted() && http_registered) jobs_q->remove_consumer(&http);
    if (reports_q && !reports_q->deleted()) reports_q->remove_consumer(&reports);
}

void jobs_owner::impl::start(broker* b) {
    shared_broker = b;
    arm_tick();
    // Watches the jobs queue name from now on (a queue recovered from the store included), then
    // adopts what exists. Declares nothing: a fresh server has no jobs queue, as RabbitMQ.
    if (broker_vhost* vh = the_broker().vhost("/")) the_broker().watch_queue(*vh, queue_name, this);
    serve();
}

void jobs_owner::impl::submit(std::string type, shared_bytes payload, job_reply to) {
    broker_queue_ptr q = jobs_queue(true);
    broker_vhost* vh = the_broker().vhost("/");
    if (!q || !vh) {
        return to({job_outcome::unavailable, "{\"error\":\"the jobs queue is not available\"}"});
    }
    reports_queue(true);
    const std::uint64_t id = ++next_id;
    const std::string id_text = std::to_string(id);
    message_properties props;  // encoded for AMQP workers by the session, when one takes it
    props.set_content_type(std::move(type))
        .set_delivery_mode(2)
        .set_message_id(id_text)
        .set_correlation_id(id_text)
        .set_reply_to(reports_name)
        .set_timestamp(static_cast<std::uint64_t>(wall_ms() / 1000));
    auto msg = std::make_shared<broker_message>();
    msg->routing_key = queue_name;
    msg->persistent = true;
    msg->set_properties(std::move(props));
    msg->body = std::move(payload);
    job& j = jobs[id];
    j.id = id;
    j.created = wall_ms();
    const broker_message* key = msg.get();
    by_msg[key] = id;
    publish_result res;
    (void)the_broker().publish(*vh, std::move(msg), res, clock.now_ms());
    if (res.routed == 0) {  // x-overflow reject-publish at x-max-length (or no queue)
        by_msg.erase(key);
        jobs.erase(id);
        return to({job_outcome::queue_full, "{\"error\":\"queue full\"}"});
    }
    jobs_counters::bump(counters.submitted);
    // std::function (when_durable) needs a copyable target: share the one-shot reply.
    auto created = [this, id, to = std::make_shared<job_reply>(std::move(to))] {
        auto it = jobs.find(id);
        const std::uint64_t version = it == jobs.end() ? 1 : it->second.version;
        (*to)({job_outcome::created,
               "{\"id\":" + std::to_string(id) + ",\"version\":" + std::to_string(version) + "}",
               id, version, 0});
    };
    // A persistent job in a durable queue with a store: created once it is on disk.
    if (res.stored && env.when_durable) {
        env.when_durable(std::move(created));
    } else {
        created();
    }
    serve();
}

void jobs_owner::impl::take(std::uint64_t key, std::int64_t timeout_ms, job_reply to) {
    workers.push_back({key, 0, std::move(to), 0});
    workers.back().timer = clock.start_timer(timeout_ms, [this, key] {
        for (auto it = workers.begin(); it != workers.end(); ++it) {
            if (it->key != key) continue;
            it->timer = 0;
            it->to({job_outcome::no_job, {}});
            workers.erase(it);
            break;
        }
        if (workers.empty()) unregister_http();
    });
    serve();
}

void jobs_owner::impl::release_worker(std::uint64_t key) {
    for (auto& w : workers) {
        if (w.key != key) continue;
        w.to({job_outcome::shutting_down, {}});
        break;
    }
    drop_worker(key);
}

void jobs_owner::impl::release_watchers(std::uint64_t id) {
    auto [b, e] = version_waiters.equal_range(id);
    for (auto it = b; it != e; ++it) {
        clock.cancel_timer(it->second.timer);
        it->second.to({job_outcome::shutting_down, {}});
    }
    version_waiters.erase(b, e);
}

void jobs_owner::impl::drop_worker(std::uint64_t key) {
    for (auto it = workers.begin(); it != workers.end(); ++it) {
        if (it->key != key) continue;
        clock.cancel_timer(it->timer);
        workers.erase(it);
        break;
    }
    if (workers.empty()) unregister_http();
}

void jobs_owner::impl::update(std::uint64_t id, std::string_view body, job_reply to) {
    auto it = jobs.find(id);
    if (it == jobs.end()) return to({job_outcome::no_such_job, "{\"error\":\"no such job\"}"});
    job& j = it->second;
    if (j.status != "running") {
        return to({job_outcome::not_running,
                   "{\"error\":\"job is " + j.status + "\",\"job\":" + to_json(j) + "}"});
    }
    // The result is served to every watcher as it is: the report must be JSON they can parse.
    const std::optional<json::document> report = report_of(body);
    if (!report) {
        return to({job_outcome::bad_result, "{\"error\":\"the report is not a JSON object\"}"});
    }
    if (report->has("lease") && number_of(*report, "lease") != lease_of(id)) {
        return to({job_outcome::lease_lost, "{\"error\":\"lease lost\"}"});
    }
    const std::string st = report->get_string("status").value_or("running");
    const bool done = st == "done" || st == "completed" || st == "succeeded";
    const bool failed = st == "failed" || st == "error";
    auto lease = leases.find(id);
    if ((done || failed) && lease == leases.end()) {
        return to({job_outcome::held_by_amqp,
                   "{\"error\":\"the job is held by an AMQP consumer: it settles it with "
                   "basic.ack or basic.reject\"}"});
    }
    apply_report(j, *report);
    const std::int64_t now = clock.now_ms();
    if (done || failed) {
        http_lease l = std::move(lease->second);
        leases.erase(lease);
        if (done) {
            l.queue->ack(l.entry);  // the watcher finishes the job
        } else {
            j.reason = "worker reported failure";
            l.queue->reject(std::move(l.entry), now);  // dead-lettered when configured
        }
    } else {
        set_deadline(j, now + visibility_ms);  // a report is a heartbeat
        changed(j);
    }
    to({job_outcome::updated, to_json(j), id, j.version, 0});
    serve();
}

void jobs_owner::impl::watch(std::uint64_t id, std::optional<std::uint64_t> seen,
                             std::int64_t wait_ms, job_reply to) {
    auto it = jobs.find(id);
    if (it == jobs.end()) return to({job_outcome::no_such_job, "{\"error\":\"no such job\"}"});
    job& j = it->second;
    if (!seen || j.version > *seen || wait_ms <= 0) return to(state_of(j));
    const std::uint64_t key = ++watch_seq;
    auto w = version_waiters.emplace(id, waiter{key, *seen, std::move(to), 0});
    w->second.timer = clock.start_timer(wait_ms, [this, id, key] { expire_watch(id, key); });
}

void jobs_owner::impl::give_back(std::uint64_t id, std::uint64_t tag) {
    auto it = jobs.find(id);
    if (it == jobs.end() || lease_of(id) != tag) return;
    requeue_lease(id);
    serve();
}

void jobs_owner::impl::on_queue_event(queue_event ev, const queue_entry& e) {
    job* j = job_of(e, ev == queue_event::enqueued || ev == queue_event::delivered);
    if (!j) return;
    switch (ev) {
        case queue_event::enqueued:
            j->status = "queued";
            break;
        case queue_event::delivered:
            j->status = "running";
            j->attempts++;
            jobs_counters::bump(counters.taken);
            break;
        case queue_event::requeued:
            j->status = "queued";
            set_deadline(*j, 0);  // the lease (if any) is gone already
            jobs_counters::bump(counters.reassigned);
            break;
        case queue_event::acked:
            j->progress = 100;
            finish(*j, "done", e);
            jobs_counters::bump(counters.completed);
            break;
        case queue_event::rejected:
            if (j->reason.empty()) j->reason = "rejected";
            finish(*j, "failed", e);
            jobs_counters::bump(counters.failed);
            break;
        case queue_event::dropped:
            j->reason = "dropped from the queue (expired, overflow, purge or delete)";
            finish(*j, "failed", e);
            jobs_counters::bump(counters.failed);
            break;
    }
    changed(*j);
}

std::string jobs_owner::impl::to_json(const job& j) const {
    std::string out = "{\"id\":" + std::to_string(j.id) + ",\"status\":\"" + j.status +
                      "\",\"progress\":" + std::to_string(j.progress) + ",\"result\":" + j.result +
                      ",\"version\":" + std::to_string(j.version) +
                      ",\"attempts\":" + std::to_string(j.attempts) +
                      ",\"created\":" + std::to_string(j.created) +
                      ",\"updated\":" + std::to_string(j.updated);
    if (!j.reason.empty()) {
        out += ",\"reason\":\"";
        json::escape(j.reason, out);
        out += '"';
    }
    out += '}';
    return out;
}

/// The queue by name in vhost "/" as it exists, whoever declared it (an exclusive queue of an
/// AMQP connection included: publishing to it is allowed, as on RabbitMQ); nullptr: none.
broker_queue_ptr jobs_owner::impl::existing(const std::string& name) {
    broker_vhost* vh = the_broker().vhost("/");
    if (!vh) return nullptr;
    auto it = vh->queues.find(name);
    return it == vh->queues.end() ? nullptr : it->second;
}

/// existing(name), declared (no arguments) first when missing.
broker_queue_ptr jobs_owner::impl::ensure(const std::string& name, bool durable) {
    if (auto q = existing(name)) return q;
    broker_vhost* vh = the_broker().vhost("/");
    if (!vh) return nullptr;
    queue_declare_request r;
    r.name = name;
    r.durable = durable;
    queue_declare_result out;
    if (!the_broker().queue_declare(*vh, r, out).ok()) return nullptr;
    return existing(name);
}

/// The jobs queue; `use`: the API is being used, so a missing queue is declared (durable, like
/// the course demo's assertQueue). Otherwise only adopted (the broker already set its watcher).
broker_queue_ptr jobs_owner::impl::jobs_queue(bool use) {
    if (jobs_q && !jobs_q->deleted()) return jobs_q;
    jobs_q = use ? ensure(queue_name, true) : existing(queue_name);
    http_registered = false;
    return jobs_q;
}

/// The reply-to queue of jobs submitted here: declared (not durable) with the first one.
void jobs_owner::impl::reports_queue(bool use) {
    if (reports_q && !reports_q->deleted()) return;
    reports_q = use ? ensure(reports_name, false) : existing(reports_name);
    // Another connection's exclusive queue is not ours to consume (RabbitMQ: 405).
    if (reports_q && reports_q->exclusive_owner == 0)
        reports_q->add_consumer("switchyard.job-reports", &reports);
}

void jobs_owner::impl::serve() {
    reports_queue(false);
    // A waiting HTTP worker uses the queue: it is declared again if it went away meanwhile.
    broker_queue_ptr q = jobs_queue(!workers.empty());
    if (!q || workers.empty()) return unregister_http();
    if (!http_registered) {
        // An AMQP consumer holds it exclusively, or it is another connection's exclusive
        // queue (RabbitMQ answers basic.consume from elsewhere with 405 RESOURCE_LOCKED).
        if (q->exclusive_consumer || q->exclusive_owner != 0) return;
        q->add_consumer("switchyard.http-workers", &http);
        http_registered = true;
    }
    q->dispatch(clock.now_ms());
    if (workers.empty()) unregister_http();
}

void jobs_owner::impl::unregister_http() {
    if (!http_registered) return;
    http_registered = false;
    if (!jobs_q || jobs_q->deleted()) return;
    jobs_q->remove_consumer(&http);
    the_broker().consumer_removed(*jobs_q);  // auto-delete, if a client declared it so
}

job* jobs_owner::impl::job_of(const queue_entry& e, bool create) {
    if (auto it = by_msg.find(e.msg.get()); it != by_msg.end()) {
        auto j = jobs.find(it->second);
        if (j != jobs.end()) return &j->second;
    }
    if (!create) return nullptr;
    // A message an AMQP publisher put in the queue (or recovered from the store).
    const std::uint64_t id = ++next_id;
    job& j = jobs[id];
    j.id = id;
    j.created = wall_ms();
    by_msg[e.msg.get()] = id;
    jobs_counters::bump(counters.submitted);
    return &j;
}

void jobs_owner::impl::hand_to_http(const broker_queue_ptr& q, queue_entry&& e) {
    waiter w = std::move(workers.front());
    workers.pop_front();
    clock.cancel_timer(w.timer);
    job* j = job_of(e, true);
    const std::uint64_t id = j->id, tag = ++lease_seq;
    set_deadline(*j, clock.now_ms() + visibility_ms);
    const std::string& type = e.msg->properties().content_type;
    std::string body = "{\"id\":" + std::to_string(id) + ",\"lease\":" + std::to_string(tag) +
                       ",\"attempt\":" + std::to_string(j->attempts) + ",\"content_type\":\"";
    json::escape(type, body);
    body += "\",\"payload\":";
    bool b64 = false;
    env.json.append_data(body, type, e.msg->body, b64);
    if (b64) body += ",\"encoding\":\"base64\"";
    body += '}';
    leases[id] = http_lease{tag, q, std::move(e)};
    w.to({job_outcome::offer, std::move(body), id, 0, tag});
}

/// The HTTP worker holding job id went silent or away: its message goes back to the queue.
void jobs_owner::impl::requeue_lease(std::uint64_t id) {
    auto it = leases.find(id);
    if (it == leases.end()) return;
    http_lease l = std::move(it->second);
    leases.erase(it);
    l.queue->requeue(std::move(l.entry));  // the watcher marks the job queued
    if (!l.queue->deleted()) l.queue->dispatch(clock.now_ms());
}

void jobs_owner::impl::on_report(const queue_entry& e) {
    const message_properties& p = e.msg->properties();
    std::optional<std::uint64_t> id =
        parse_job_id(p.has(prop::correlation_id) ? p.correlation_id : p.message_id);
    auto it = id ? jobs.find(*id) : jobs.end();
    if (it == jobs.end() || it->second.status != "running") return;
    const auto report = json::document::parse(e.msg->body.view());
    if (report && report->is_object() && (report->has("progress") || report->has("result"))) {
        apply_report(it->second, *report);
    } else {
        // The body itself is the result: as it is when it is JSON, else a JSON string
        // (base64 when it is not UTF-8), never bytes a watcher's JSON parser rejects.
        std::string result;
        bool b64 = false;
        env.json.append_data(result, p.content_type, e.msg->body, b64);
        it->second.result = std::move(result);
    }
    changed(it->second);
}

void jobs_owner::impl::apply_report(job& j, const json::document& report) const {
    if (auto n = number_of(report, "progress")) j.progress = std::min<std::uint64_t>(*n, 100);
    if (auto r = report.get_raw("result")) j.result = std::move(*r);
}

void jobs_owner::impl::finish(job& j, std::string_view status, const queue_entry& e) {
    set_deadline(j, 0);
    leases.erase(j.id);
    by_msg.erase(e.msg.get());
    j.status = std::string(status);
    finished.push_back(j.id);
    while (finished.size() > max_finished) {
        jobs.erase(finished.front());  // bounded memory: the oldest finished jobs go
        finished.pop_front();
    }
}

void jobs_owner::impl::changed(job& j) {
    ++j.version;
    j.updated = wall_ms();
    if (env.on_change) {
        env.on_change("jobs." + std::to_string(j.id), shared_bytes::copy_of(to_json(j)));
    }
    auto [b, e] = version_waiters.equal_range(j.id);
    for (auto it = b; it != e;) {
        clock.cancel_timer(it->second.timer);
        it->second.to(state_of(j));
        it = version_waiters.erase(it);
    }
}

void jobs_owner::impl::expire_watch(std::uint64_t id, std::uint64_t key) {
    auto [b, e] = version_waiters.equal_range(id);
    for (auto it = b; it != e; ++it) {
        if (it->second.key != key) continue;
        it->second.to({job_outcome::not_modified, {}, id, it->second.seen, 0});
        version_waiters.erase(it);
        return;
    }
}

void jobs_owner::impl::arm_tick() {
    const auto every = std::clamp<std::int64_t>(visibility_ms / 10, 10, 1000);
    tick = clock.start_timer(every, [this] {
        const std::int64_t now = clock.now_ms();
        while (!deadlines.empty() && deadlines.begin()->first <= now) {
            const std::uint64_t id = deadlines.begin()->second;
            deadlines.erase(deadlines.begin());
            auto it = jobs.find(id);
            if (it == jobs.end()) continue;
            it->second.deadline = 0;
            requeue_lease(id);
        }
        if (own_broker) own_broker->tick(now);  // the AMQP server ticks its own
        serve();
        arm_tick();
    });
}

// ---- the facade ----

jobs_owner::jobs_owner(jobs_settings s, jobs_env env)
    : impl_(std::make_unique<impl>(std::move(s), std::move(env))) {}
jobs_owner::~jobs_owner() = default;
void jobs_owner::start(broker* b) {
    impl_->start(b);
}
void jobs_owner::submit(std::string content_type, shared_bytes payload, job_reply to) {
    impl_->submit(std::move(content_type), std::move(payload), std::move(to));
}
void jobs_owner::take(std::uint64_t key, std::int64_t timeout_ms, job_reply to) {
    impl_->take(key, timeout_ms, std::move(to));
}
void jobs_owner::drop_worker(std::uint64_t key) {
    impl_->drop_worker(key);
}
void jobs_owner::release_worker(std::uint64_t key) {
    impl_->release_worker(key);
}
void jobs_owner::release_watchers(std::uint64_t id) {
    impl_->release_watchers(id);
}
void jobs_owner::update(std::uint64_t id, std::string_view report, job_reply to) {
    impl_->update(id, report, std::move(to));
}
void jobs_owner::watch(std::uint64_t id, std::optional<std::uint64_t> version_seen,
                       std::int64_t wait_ms, job_reply to) {
    impl_->watch(id, version_seen, wait_ms, std::move(to));
}
void jobs_owner::give_back(std::uint64_t id, std::uint64_t lease) {
    impl_->give_back(id, lease);
}

}  // namespace sy::hub
