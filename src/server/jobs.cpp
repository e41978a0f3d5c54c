// The jobs API, backed by a broker queue (hub.jobs_queue, "jobs" in vhost "/"): POST /jobs
// publishes a persistent message into it, and every consumer of that queue is a worker, whatever
// its protocol. HTTP workers take jobs with a long poll (GET /jobs/next: together they are one
// consumer of the queue) and report with PUT; AMQP consumers of the queue get the job as a
// message (message-id and correlation-id = the job id, reply-to = "<queue>.reports") and settle
// it with basic.ack (done), basic.reject/nack (failed, or requeued). Progress and results from
// AMQP workers are messages to the reply-to queue (the RPC pattern). Clients watch a job by short
// poll, long poll (version), SSE or WebSocket (every change is published on topic jobs.{id}).
//
// Status: a queue_watcher on the jobs queue drives each job's status from its message's life in
// the queue (queued, running, done, failed, requeued), so it is right whoever holds the job.
//
// The queue, as on RabbitMQ, does not exist until someone declares it: the jobs API declares it
// (durable, no arguments, like the course demo's assertQueue('jobs', {durable: true})) when it is
// used (a POST /jobs, a waiting GET /jobs/next) and it is missing; a queue an AMQP client declared
// first, with its own arguments (durable or not, exclusive, auto-delete, x-max-length...), or one
// recovered from the store, is adopted as it is. The broker hands the watcher every queue declared
// under the name (broker::watch_queue), so a queue that went away and came back is followed too.
//
// Threads: the broker, the queue and every job structure live on loop 0 (the broker loop, see
// docs/threading.md). Handlers on other loops post a closure to the owner; the owner answers by
// posting back to the handler's loop (reply_to), where the http::response is touched. A response
// is never copied or destroyed on the owner's thread (its handle count is loop-local).
//
// Visibility: an HTTP worker's lease expires after hub.job_visibility_timeout_ms without a PUT
// (every PUT extends it); its message then goes back to the queue (requeued, redelivered) and the
// worker gets 409 on its next PUT. AMQP workers hold a job until they settle it or their channel
// closes, as AMQP defines.
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "gateway_internal.hpp"
#include "job_fields.hpp"
#include "switchyard/base/utf8.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/hub/broker.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/proto/amqp/content.hpp"
#include "switchyard/server/gateway.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::server {

namespace {

using job_fields::id_of;
using job_fields::json_field;
using job_fields::to_u64;
using job_fields::unquote;

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
    std::string reason;           // why it failed
    std::uint64_t version = 0;    // 1 once queued; +1 per change
    std::uint32_t attempts = 0;   // deliveries, to any worker
    std::int64_t created = 0, updated = 0;
    std::int64_t deadline = 0;
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

// ---- the owner ----------------------------------------------------------------------------------

/// A job held by an HTTP worker: the broker delivery it settles with PUT.
struct http_lease {
    std::uint64_t tag = 0;
    hub::broker_queue_ptr queue;
    hub::queue_entry entry;
};

class jobs_owner final : public hub::queue_watcher {
  public:
    jobs_owner(loop_state& ls, std::int64_t visibility_ms, std::string queue, std::size_t kept)
        : ls_(ls),
          visibility_ms_(std::max<std::int64_t>(visibility_ms, 1)),
          max_finished_(kept),
          queue_name_(std::move(queue)),
          reports_name_(queue_name_ + ".reports"),
          http_(*this),
          reports_(*this) {
        arm_tick();
        // After every loop-start hook ran (install_amqp sets ls.broker in its own hook).
        ls_.loop->post([this] { start(); });
    }
    ~jobs_owner() override {
        if (ls_.loop->timer_pending(tick_)) ls_.loop->cancel_timer(tick_);
        // Detach first (no job updates while stopping). A deleted jobs queue may live on in an AMQP
        // channel's unacked records.
        if (hub::broker_vhost* vh = broker().vhost("/")) broker().watch_queue(*vh, queue_name_, {});
        for (auto& w : watched_) {
            if (auto q = w.lock()) q->watcher = nullptr;
        }
        for (auto& [id, l] : leases_) {
            if (!l.queue->deleted()) l.queue->requeue(std::move(l.entry));
        }
        if (jobs_q_ && !jobs_q_->deleted() && http_registered_) jobs_q_->remove_consumer(&http_);
        if (reports_q_ && !reports_q_->deleted()) reports_q_->remove_consumer(&reports_);
    }

    core::loop& loop() { return *ls_.loop; }

    void submit(std::string type, shared_bytes payload, reply_to to) {
        hub::broker_queue_ptr q = jobs_queue(true);
        hub::broker_vhost* vh = broker().vhost("/");
        if (!q || !vh) return to.send({503, "{\"error\":\"the jobs queue is not available\"}"});
        reports_queue(true);
        const std::uint64_t id = ++next_id_;
        const std::string id_text = std::to_string(id);
        amqp::basic_properties props;
        props.set_content_type(type)
            .set_delivery_mode(2)
            .set_message_id(id_text)
            .set_correlation_id(id_text)
            .set_reply_to(reports_name_)
            .set_timestamp(static_cast<std::uint64_t>(wall_ms() / 1000));
        byte_buffer hb;
        amqp::encode_content_header(hb, amqp::content_header{60, 0, payload.size(), props});
        auto msg = std::make_shared<hub::broker_message>();
        msg->routing_key = queue_name_;
        msg->persistent = true;
        msg->header = shared_bytes::copy_of(hb.view());
        msg->body = std::move(payload);
        job& j = jobs_[id];
        j.id = id;
        j.created = wall_ms();
        const hub::broker_message* key = msg.get();
        by_msg_[key] = id;
        hub::publish_result res;
        (void)broker().publish(*vh, std::move(msg), res, ls_.loop->now_ms());
        if (res.routed == 0) {  // x-overflow reject-publish at x-max-length (or no queue)
            by_msg_.erase(key);
            jobs_.erase(id);
            return to.send(
                {503, "{\"error\":\"queue full\"}", "application/json", {{"Retry-After", "1"}}});
        }
        g_jobs.submitted.fetch_add(1, std::memory_order_relaxed);
        // std::function (when_durable) needs a copyable target: share the one-shot reply.
        auto created = [this, id, to = std::make_shared<reply_to>(std::move(to))] {
            auto it = jobs_.find(id);
            const std::uint64_t version = it == jobs_.end() ? 1 : it->second.version;
            to->send({201,
                      fmt::format("{{\"id\":{},\"version\":{}}}", id, version),
                      "application/json",
                      {{"Location", fmt::format("/jobs/{}", id)}}});
        };
        // A persistent job in a durable queue with a store: 201 once it is on disk.
        if (res.stored && ls_.when_durable) {
            ls_.when_durable(std::move(created));
        } else {
            created();
        }
        serve();
    }

    /// key: unique per waiting request (drop_worker names it when its client leaves).
    void take(std::uint64_t key, std::int64_t timeout_ms, reply_to to) {
        workers_.push_back({key, std::move(to)});
        workers_.back().timer = ls_.loop->add_timer(millis(timeout_ms), [this, key] {
            for (auto it = workers_.begin(); it != workers_.end(); ++it) {
                if (it->key != key) continue;
                it->timer = {};
                it->to.send({204, {}});
                workers_.erase(it);
                break;
            }
            if (workers_.empty()) unregister_http();
        });
        serve();
    }

    /// The server is shutting down: a waiting worker is answered now (503, Retry-After), not
    /// held through the grace period (gateway_internal.hpp, k_shutdown_status).
    void release_worker(std::uint64_t key) {
        for (auto it = workers_.begin(); it != workers_.end(); ++it) {
            if (it->key != key) continue;
            it->to.send(shutdown_reply());
            break;
        }
        drop_worker(key);
    }

    /// The same for the long polls watching job id (all of them: the server is going away).
    void release_watchers(std::uint64_t id) {
        auto [b, e] = version_waiters_.equal_range(id);
        for (auto it = b; it != e; ++it) {
            if (ls_.loop->timer_pending(it->second.timer)) ls_.loop->cancel_timer(it->second.timer);
            it->second.to.send(shutdown_reply());
        }
        version_waiters_.erase(b, e);
    }

    static reply shutdown_reply() {
        return {k_shutdown_status,
                std::string(k_shutdown_body),
                "application/json",
                {{"Retry-After", std::string(k_shutdown_retry_after)}}};
    }

    /// A waiting worker's client went away: it must not be handed a job.
    void drop_worker(std::uint64_t key) {
        for (auto it = workers_.begin(); it != workers_.end(); ++it) {
            if (it->key != key) continue;
            if (ls_.loop->timer_pending(it->timer)) ls_.loop->cancel_timer(it->timer);
            workers_.erase(it);
            break;
        }
        if (workers_.empty()) unregister_http();
    }

    void update(std::uint64_t id, std::string body, reply_to to) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return to.send({404, "{\"error\":\"no such job\"}"});
        job& j = it->second;
        if (j.status != "running") {
            return to.send(
                {409, fmt::format("{{\"error\":\"job is {}\",\"job\":{}}}", j.status, to_json(j))});
        }
        if (auto lease = json_field(body, "lease"); lease && to_u64(*lease) != lease_of(id)) {
            return to.send({409, "{\"error\":\"lease lost\"}"});
        }
        // The result is served to every watcher as it is: it must be JSON they can parse.
        if (auto r = json_field(body, "result"); r && !http::is_json_value(*r)) {
            return to.send({400, "{\"error\":\"result is not a JSON value\"}"});
        }
        std::string_view st = unquote(json_field(body, "status").value_or("\"running\""));
        const bool done = st == "done" || st == "completed" || st == "succeeded";
        const bool failed = st == "failed" || st == "error";
        auto lease = leases_.find(id);
        if ((done || failed) && lease == leases_.end()) {
            return to.send({409,
                            "{\"error\":\"the job is held by an AMQP consumer: it settles it with "
                            "basic.ack or basic.reject\"}"});
        }
        apply_report(j, body);
        const std::int64_t now = ls_.loop->now_ms();
        if (done || failed) {
            http_lease l = std::move(lease->second);
            leases_.erase(lease);
            if (done) {
                l.queue->ack(l.entry);  // the watcher finishes the job
            } else {
                j.reason = "worker reported failure";
                l.queue->reject(std::move(l.entry), now);  // dead-lettered when configured
            }
        } else {
            set_deadline(j, now + visibility_ms_);  // a report is a heartbeat
            changed(j);
        }
        to.send({200, to_json(j)});
        serve();
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
        w->second.timer = ls_.loop->add_timer(millis(wait_ms), [this, id] { expire_watch(id); });
    }

    /// The worker's HTTP client left before the job reached it: give the job back now.
    void give_back(std::uint64_t id, std::uint64_t tag) {
        auto it = jobs_.find(id);
        if (it == jobs_.end() || lease_of(id) != tag) return;
        requeue_lease(id);
        serve();
    }

    // queue_watcher: the job's status follows its message, whoever holds it.
    void on_queue_event(hub::queue_event ev, const hub::queue_entry& e) override {
        job* j = job_of(e, ev == hub::queue_event::enqueued || ev == hub::queue_event::delivered);
        if (!j) return;
        switch (ev) {
            case hub::queue_event::enqueued:
                j->status = "queued";
                break;
            case hub::queue_event::delivered:
                j->status = "running";
                j->attempts++;
                g_jobs.taken.fetch_add(1, std::memory_order_relaxed);
                break;
            case hub::queue_event::requeued:
                j->status = "queued";
                set_deadline(*j, 0);  // the lease (if any) is gone already
                g_jobs.reassigned.fetch_add(1, std::memory_order_relaxed);
                break;
            case hub::queue_event::acked:
                j->progress = 100;
                finish(*j, "done", e);
                g_jobs.completed.fetch_add(1, std::memory_order_relaxed);
                break;
            case hub::queue_event::rejected:
                if (j->reason.empty()) j->reason = "rejected";
                finish(*j, "failed", e);
                g_jobs.failed.fetch_add(1, std::memory_order_relaxed);
                break;
            case hub::queue_event::dropped:
                j->reason = "dropped from the queue (expired, overflow, purge or delete)";
                finish(*j, "failed", e);
                g_jobs.failed.fetch_add(1, std::memory_order_relaxed);
                break;
        }
        changed(*j);
    }

    // queue_watcher: the broker made this the watcher of q (a queue declared under the name).
    void on_watched(const hub::broker_queue_ptr& q) override {
        // A deleted predecessor stays watched: messages AMQP channels still hold from it settle
        // their jobs (acks after a queue.delete).
        std::erase_if(watched_, [](const auto& w) { return w.expired(); });
        watched_.push_back(q);
    }

    static std::string to_json(const job& j) {
        std::string out = fmt::format(
            "{{\"id\":{},\"status\":\"{}\",\"progress\":{},\"result\":{},\"version\":{},"
            "\"attempts\":{},\"created\":{},\"updated\":{}",
            j.id, j.status, j.progress, j.result, j.version, j.attempts, j.created, j.updated);
        if (!j.reason.empty()) {
            out += ",\"reason\":\"";
            http::json_escape(j.reason, out);
            out += '"';
        }
        out += '}';
        return out;
    }

  private:
    /// HTTP long-pollers of /jobs/next, as one consumer of the jobs queue: credit while one
    /// waits. Registered only while someone waits, so consumer counts stay honest.
    struct http_workers final : hub::broker_consumer {
        explicit http_workers(jobs_owner& o) : owner(o) {}
        bool has_credit() const override { return !owner.workers_.empty(); }
        void deliver(const hub::broker_queue_ptr& q, hub::queue_entry&& e) override {
            owner.hand_to_http(q, std::move(e));
        }
        void cancelled_by_server() override { owner.http_registered_ = false; }
        bool no_ack() const override { return false; }
        jobs_owner& owner;
    };
    /// Reports from workers of any protocol: messages to the reply-to queue whose
    /// correlation-id (or message-id) is a job id (AMQP's RPC pattern).
    struct report_reader final : hub::broker_consumer {
        explicit report_reader(jobs_owner& o) : owner(o) {}
        bool has_credit() const override { return true; }
        void deliver(const hub::broker_queue_ptr&, hub::queue_entry&& e) override {
            owner.on_report(e);
        }
        void cancelled_by_server() override {}
        bool no_ack() const override { return true; }
        jobs_owner& owner;
    };

    static std::string etag(const job& j) { return fmt::format("\"{}\"", j.version); }

    hub::broker& broker() {
        if (ls_.broker) return *ls_.broker;
        if (!own_broker_) own_broker_ = std::make_unique<hub::broker>();
        return *own_broker_;
    }

    /// Watches the jobs queue name from now on (a queue recovered from the store included), then
    /// adopts what exists. Declares nothing: a fresh server has no jobs queue, as RabbitMQ.
    void start() {
        if (hub::broker_vhost* vh = broker().vhost("/"))
            broker().watch_queue(*vh, queue_name_, this);
        serve();
    }

    /// The queue by name in vhost "/" as it exists, whoever declared it (an exclusive queue of an
    /// AMQP connection included: publishing to it is allowed, as on RabbitMQ); nullptr: none.
    hub::broker_queue_ptr existing(const std::string& name) {
        hub::broker_vhost* vh = broker().vhost("/");
        if (!vh) return nullptr;
        auto it = vh->queues.find(name);
        return it == vh->queues.end() ? nullptr : it->second;
    }

    /// existing(name), declared (no arguments) first when missing.
    hub::broker_queue_ptr ensure(const std::string& name, bool durable) {
        if (auto q = existing(name)) return q;
        hub::broker_vhost* vh = broker().vhost("/");
        if (!vh) return nullptr;
        hub::queue_declare_request r;
        r.name = name;
        r.durable = durable;
        hub::queue_declare_result out;
        if (!broker().queue_declare(*vh, r, out).ok()) return nullptr;
        return existing(name);
    }

    /// The jobs queue; `use`: the API is being used, so a missing queue is declared (durable, like
    /// the course demo's assertQueue). Otherwise only adopted (the broker already set its watcher).
    hub::broker_queue_ptr jobs_queue(bool use) {
        if (jobs_q_ && !jobs_q_->deleted()) return jobs_q_;
        jobs_q_ = use ? ensure(queue_name_, true) : existing(queue_name_);
        http_registered_ = false;
        return jobs_q_;
    }

    /// The reply-to queue of jobs submitted over HTTP: declared (not durable) with the first one.
    void reports_queue(bool use) {
        if (reports_q_ && !reports_q_->deleted()) return;
        reports_q_ = use ? ensure(reports_name_, false) : existing(reports_name_);
        // Another connection's exclusive queue is not ours to consume (RabbitMQ: 405).
        if (reports_q_ && reports_q_->exclusive_owner == 0)
            reports_q_->add_consumer("switchyard.job-reports", &reports_);
    }

    void serve() {
        reports_queue(false);
        // A waiting HTTP worker uses the queue: it is declared again if it went away meanwhile.
        hub::broker_queue_ptr q = jobs_queue(!workers_.empty());
        if (!q || workers_.empty()) return unregister_http();
        if (!http_registered_) {
            // An AMQP consumer holds it exclusively, or it is another connection's exclusive
            // queue (RabbitMQ answers basic.consume from elsewhere with 405 RESOURCE_LOCKED).
            if (q->exclusive_consumer || q->exclusive_owner != 0) return;
            q->add_consumer("switchyard.http-workers", &http_);
            http_registered_ = true;
        }
        q->dispatch(ls_.loop->now_ms());
        if (workers_.empty()) unregister_http();
    }

    void unregister_http() {
        if (!http_registered_) return;
        http_registered_ = false;
        if (!jobs_q_ || jobs_q_->deleted()) return;
        jobs_q_->remove_consumer(&http_);
        broker().consumer_removed(*jobs_q_);  // auto-delete, if a client declared it so
    }

    job* job_of(const hub::queue_entry& e, bool create) {
        if (auto it = by_msg_.find(e.msg.get()); it != by_msg_.end()) {
            auto j = jobs_.find(it->second);
            if (j != jobs_.end()) return &j->second;
        }
        if (!create) return nullptr;
        // A message an AMQP publisher put in the queue (or recovered from the store).
        const std::uint64_t id = ++next_id_;
        job& j = jobs_[id];
        j.id = id;
        j.created = wall_ms();
        by_msg_[e.msg.get()] = id;
        g_jobs.submitted.fetch_add(1, std::memory_order_relaxed);
        return &j;
    }

    /// The lease tag of the HTTP worker holding job id; 0: queued, done, or held over AMQP.
    std::uint64_t lease_of(std::uint64_t id) const {
        auto it = leases_.find(id);
        return it == leases_.end() ? 0 : it->second.tag;
    }

    void hand_to_http(const hub::broker_queue_ptr& q, hub::queue_entry&& e) {
        waiter w = std::move(workers_.front());
        workers_.pop_front();
        if (ls_.loop->timer_pending(w.timer)) ls_.loop->cancel_timer(w.timer);
        job* j = job_of(e, true);
        const std::int64_t now = ls_.loop->now_ms();
        const std::uint64_t id = j->id, tag = ++lease_seq_;
        set_deadline(*j, now + visibility_ms_);
        hub::message m;
        if (auto h = amqp::decode_content_header(e.msg->header.bytes())) {
            m.content_type = std::string(h.value().properties.content_type);
        }
        m.payload = e.msg->body;
        m.utf8 = is_valid_utf8(m.payload.bytes());
        std::string body = fmt::format(
            "{{\"id\":{},\"lease\":{},\"attempt\":{},\"content_type\":\"", j->id, tag, j->attempts);
        http::json_escape(m.content_type, body);
        body += "\",\"payload\":";
        bool b64 = false;
        session::append_json_data(body, m, b64);
        if (b64) body += ",\"encoding\":\"base64\"";
        body += '}';
        leases_[id] = http_lease{tag, q, std::move(e)};
        w.to.send({200, std::move(body)},
                  [this, id, tag] { ls_.loop->post([this, id, tag] { give_back(id, tag); }); });
    }

    /// The HTTP worker holding job id went silent or away: its message goes back to the queue.
    void requeue_lease(std::uint64_t id) {
        auto it = leases_.find(id);
        if (it == leases_.end()) return;
        http_lease l = std::move(it->second);
        leases_.erase(it);
        l.queue->requeue(std::move(l.entry));  // the watcher marks the job queued
        if (!l.queue->deleted()) l.queue->dispatch(ls_.loop->now_ms());
    }

    void on_report(const hub::queue_entry& e) {
        auto h = amqp::decode_content_header(e.msg->header.bytes());
        if (!h) return;
        const auto& p = h.value().properties;
        std::optional<std::uint64_t> id =
            id_of(p.has_correlation_id() ? p.correlation_id : p.message_id);
        auto it = id ? jobs_.find(*id) : jobs_.end();
        if (it == jobs_.end() || it->second.status != "running") return;
        std::string_view body = e.msg->body.view();
        if (json_field(body, "progress") || json_field(body, "result")) {
            apply_report(it->second, body);
        } else {
            // The body itself is the result: as it is when it is JSON, else a JSON string
            // (base64 when it is not UTF-8), never bytes a watcher's JSON parser rejects.
            hub::message m;
            m.content_type = std::string(p.content_type);
            m.payload = e.msg->body;
            m.utf8 = is_valid_utf8(m.payload.bytes());
            std::string result;
            bool b64 = false;
            session::append_json_data(result, m, b64);
            it->second.result = std::move(result);
        }
        changed(it->second);
    }

    static void apply_report(job& j, std::string_view body) {
        if (auto p = json_field(body, "progress")) {
            if (auto n = to_u64(*p)) j.progress = std::min<std::uint64_t>(*n, 100);
        }
        if (auto r = json_field(body, "result"); r && http::is_json_value(*r)) {
            j.result = std::string(*r);
        }
    }

    void set_deadline(job& j, std::int64_t at) {
        if (j.deadline) deadlines_.erase({j.deadline, j.id});
        j.deadline = at;
        if (at) deadlines_.insert({at, j.id});
    }

    void finish(job& j, std::string_view status, const hub::queue_entry& e) {
        set_deadline(j, 0);
        leases_.erase(j.id);
        by_msg_.erase(e.msg.get());
        j.status = std::string(status);
        finished_.push_back(j.id);
        while (finished_.size() > max_finished_) {
            jobs_.erase(finished_.front());  // bounded memory: the oldest finished jobs go
            finished_.pop_front();
        }
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
                requeue_lease(id);
            }
            if (own_broker_) own_broker_->tick(now);  // the AMQP server ticks its own
            serve();
            arm_tick();
        });
    }

    loop_state& ls_;
    std::int64_t visibility_ms_;
    std::size_t max_finished_;  // hub.jobs_kept: finished job records kept for watchers
    std::string queue_name_, reports_name_;
    std::unique_ptr<hub::broker> own_broker_;  // without an AMQP listener
    hub::broker_queue_ptr jobs_q_, reports_q_;
    std::vector<std::weak_ptr<hub::broker_queue>> watched_;  // queues whose watcher is this
    http_workers http_;
    report_reader reports_;
    bool http_registered_ = false;
    std::unordered_map<std::uint64_t, job> jobs_;
    std::unordered_map<const hub::broker_message*, std::uint64_t> by_msg_;  // queued or held
    std::unordered_map<std::uint64_t, http_lease> leases_;                  // job id -> lease
    std::deque<std::uint64_t> finished_;
    std::set<std::pair<std::int64_t, std::uint64_t>> deadlines_;
    std::deque<waiter> workers_;
    std::multimap<std::uint64_t, waiter> version_waiters_;
    std::uint64_t lease_seq_ = 0, next_id_ = 0;
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
        // A queue name an AMQP client could declare: not empty (that would be server-named),
        // not amq.* (reserved, 403), a shortstr with ".reports" appended.
        const std::string& q = a.config().hub.jobs_queue;
        if (q.empty() || q.starts_with("amq.") || q.size() > 247) {
            throw config_error("hub.jobs_queue: '" + q +
                               "' is not a usable queue name (non-empty, not amq.*, at most 247 "
                               "bytes)");
        }
        rt.on_loop_start([&a](loop_state& ls) {
            if (ls.index != 0) return;
            const auto vis = static_cast<std::int64_t>(a.config().hub.job_visibility_timeout_ms);
            g_owner.store(new jobs_owner(ls, vis, a.config().hub.jobs_queue,
                                         static_cast<std::size_t>(a.config().hub.jobs_kept)),
                          std::memory_order_release);
        });
        rt.on_loop_stop([](loop_state& ls) {
            if (ls.index != 0) return;
            delete g_owner.exchange(nullptr);
        });
    });
    auto& r = a.router();
    r.post("/jobs", [](http::request& req, http::response& res) {
        std::string type(req.header("content-type").value_or("application/octet-stream"));
        // Served to workers as an AMQP shortstr and inside JSON: the hub's rule for what every
        // transport can carry.
        if (!hub::valid_content_type(type)) {
            return res.send_json(400, "{\"error\":\"invalid content type\"}");
        }
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
        static std::atomic<std::uint64_t> next_key{0};
        const std::uint64_t key = next_key.fetch_add(1, std::memory_order_relaxed) + 1;
        if (jobs_owner* o = g_owner.load(std::memory_order_acquire)) {
            // The client leaves while waiting: take it off the owner's list at once.
            res.on_abort([o, key] { o->loop().post([o, key] { o->drop_worker(key); }); });
        }
        on_owner(res, [timeout, key](jobs_owner& o, reply_to to) {
            o.take(key, timeout, std::move(to));
        });
        // After on_owner: posted behind take() even when the shutdown already began.
        if (jobs_owner* o = g_owner.load(std::memory_order_acquire); o && !res.finished()) {
            res.on_shutdown([o, key] { o->loop().post([o, key] { o->release_worker(key); }); });
        }
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
        // After on_owner, as for /jobs/next: a long poll that waits is answered at shutdown.
        jobs_owner* o = g_owner.load(std::memory_order_acquire);
        if (o && version && wait > 0 && !res.finished()) {
            res.on_shutdown(
                [o, id = *id] { o->loop().post([o, id] { o->release_watchers(id); }); });
        }
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
