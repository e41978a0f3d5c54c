// jobs_owner: the jobs domain, a user of the broker. Jobs are persistent messages in a broker
// queue (hub.jobs_queue, "jobs" in vhost "/"), and every consumer of that queue is a worker,
// whatever its protocol. HTTP workers take jobs with a long poll (together they are one consumer
// of the queue) and report with update(); AMQP consumers of the queue get the job as a message
// (message-id and correlation-id = the job id, reply-to = "<queue>.reports") and settle it with
// basic.ack (done), basic.reject/nack (failed, or requeued). Progress and results from AMQP
// workers are messages to the reply-to queue (the RPC pattern). Every change of a job is handed
// to jobs_env::on_change (the server publishes it on topic jobs.{id}).
//
// Status: a queue_watcher on the jobs queue drives each job's status from its message's life in
// the queue (queued, running, done, failed, requeued), so it is right whoever holds the job.
//
// The queue, as on RabbitMQ, does not exist until someone declares it: the owner declares it
// (durable, no arguments, like the course demo's assertQueue('jobs', {durable: true})) when it is
// used (a submit, a waiting worker) and it is missing; a queue an AMQP client declared first,
// with its own arguments, or one recovered from the store, is adopted as it is. The broker hands
// the watcher every queue declared under the name (broker::watch_queue), so a queue that went
// away and came back is followed too.
//
// Visibility: an HTTP worker's lease expires after visibility_ms without an update (every update
// extends it); its message then goes back to the queue (requeued, redelivered) and the worker
// gets lease_lost on its next update. AMQP workers hold a job until they settle it or their
// channel closes, as AMQP defines.
//
// Threads: the owner, its broker and every job live on the broker thread (loop 0, see
// docs/threading.md); every call and every callback (answers, timers, on_change) happens there.
// No sockets, no HTTP types: answers are job_answer values the caller maps to its protocol
// (server/jobs.cpp maps them to HTTP statuses).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/unique_function.hpp"

namespace sy::hub {

class broker;

/// The owner's counters. Single writer: only the owner's thread adds (relaxed load + store, no
/// locked instruction); any thread may read them (the server keeps them in loop 0's slot and
/// its metrics registry reads them when scraped).
struct jobs_counters {
    std::atomic<std::uint64_t> submitted{0}, taken{0}, completed{0}, failed{0}, reassigned{0};
    /// Owner thread only.
    static void bump(std::atomic<std::uint64_t>& c) {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
};

/// What an operation came to. body is the JSON answer for every outcome that has one.
enum class job_outcome : std::uint8_t {
    created,        // submit: {"id","version"}; id set
    unavailable,    // submit: the jobs queue cannot be declared
    queue_full,     // submit: refused (x-overflow reject-publish at x-max-length)
    offer,          // take: a job for the worker; id and lease set
    no_job,         // take: the wait ended without a job (no body)
    updated,        // update: the job as it is now
    no_such_job,    // update, watch
    not_running,    // update: the job is queued or finished (body includes it)
    lease_lost,     // update: the lease in the report is not the current one
    bad_result,     // update: the report is not a JSON object
    held_by_amqp,   // update: done/failed for a job an AMQP consumer holds
    state,          // watch: the job; version set
    not_modified,   // watch: the wait ended without a change; version = the one seen
    shutting_down,  // take, watch: released because the server stops (no body)
};

struct job_answer {
    job_outcome outcome = job_outcome::no_job;
    std::string body;
    std::uint64_t id = 0, version = 0, lease = 0;
};

/// Receives one answer, on the broker thread.
using job_reply = unique_function<void(job_answer)>;

/// Time and timers of the broker thread (the server implements it on its loop; tests on a fake
/// clock). Ids are never 0; cancel_timer ignores 0 and ids that fired or were cancelled.
class jobs_clock {
  public:
    virtual ~jobs_clock() = default;
    virtual std::int64_t now_ms() = 0;
    virtual std::uint64_t start_timer(std::int64_t after_ms, unique_function<void()> fn) = 0;
    virtual void cancel_timer(std::uint64_t id) = 0;
};

/// The JSON the owner needs from a layer above the hub (the push framers' payload rule,
/// session/push_format; injected by the server). Validating and escaping come from base/json.
struct jobs_json {
    /// Appends a payload as a JSON value: itself when it is JSON, else a string (base64, then
    /// base64 = true, when it is not UTF-8).
    void (*append_data)(std::string& out, std::string_view content_type,
                        const sy::shared_bytes& payload, bool& base64) = nullptr;
};

struct jobs_settings {
    std::int64_t visibility_ms = 30000;  // hub.job_visibility_timeout_ms
    std::string queue = "jobs";          // hub.jobs_queue
    std::size_t kept = 1000;             // hub.jobs_kept: finished job records kept for watchers
    /// hub.jobs_max_attempts (the Redis store): a job delivered this many times without being
    /// settled fails and goes to the dead-letter stream. 0: no limit.
    std::uint32_t max_attempts = 5;
};

struct jobs_env {
    jobs_clock* clock = nullptr;        // required
    jobs_counters* counters = nullptr;  // required
    jobs_json json;
    /// A job changed: its JSON, for topic "jobs.{id}" (may be empty: nobody listens).
    std::function<void(const std::string& topic, sy::shared_bytes json)> on_change;
    /// Runs fn once everything stored so far is on disk (empty: no store, run at once).
    std::function<void(std::function<void()>)> when_durable;
};

/// Storage and claiming of jobs, behind the HTTP jobs API (server/jobs.cpp), as topic_log is
/// behind the hub: jobs_owner below (the local store on this node's broker, the default) and
/// backplane::redis_jobs (a Redis stream per queue with a consumer group, shared by every node,
/// when backplane.url is set). Same threads and answers for both: loop 0, job_answer values.
class job_store {
  public:
    virtual ~job_store() = default;
    /// Attaches to the broker (nullptr: the local store keeps a private one, for a server
    /// without an AMQP listener). Call once, before anything else.
    virtual void start(broker* b) = 0;

    virtual void submit(std::string content_type, sy::shared_bytes payload, job_reply to) = 0;
    /// A worker waits up to timeout_ms for a job. key: unique per waiting worker.
    virtual void take(std::uint64_t key, std::int64_t timeout_ms, job_reply to) = 0;
    /// The worker's client left while waiting: it must not be handed a job (no answer).
    virtual void drop_worker(std::uint64_t key) = 0;
    /// The server is stopping: the waiting worker is answered shutting_down now.
    virtual void release_worker(std::uint64_t key) = 0;
    /// The same for every long poll watching job id.
    virtual void release_watchers(std::uint64_t id) = 0;
    /// A worker's report (a JSON object: status, progress, result, lease).
    virtual void update(std::uint64_t id, std::string_view report, job_reply to) = 0;
    /// Short poll (version_seen unset or wait_ms <= 0) or long poll until version > version_seen.
    virtual void watch(std::uint64_t id, std::optional<std::uint64_t> version_seen,
                       std::int64_t wait_ms, job_reply to) = 0;
    /// The offer with this lease never reached its worker (client gone): the job goes back.
    virtual void give_back(std::uint64_t id, std::uint64_t lease) = 0;
};

class jobs_owner final : public job_store {
  public:
    jobs_owner(jobs_settings s, jobs_env env);
    ~jobs_owner() override;
    jobs_owner(const jobs_owner&) = delete;
    jobs_owner& operator=(const jobs_owner&) = delete;

    /// Also starts watching the jobs queue.
    void start(broker* b) override;
    void submit(std::string content_type, sy::shared_bytes payload, job_reply to) override;
    void take(std::uint64_t key, std::int64_t timeout_ms, job_reply to) override;
    void drop_worker(std::uint64_t key) override;
    void release_worker(std::uint64_t key) override;
    void release_watchers(std::uint64_t id) override;
    void update(std::uint64_t id, std::string_view report, job_reply to) override;
    void watch(std::uint64_t id, std::optional<std::uint64_t> version_seen, std::int64_t wait_ms,
               job_reply to) override;
    void give_back(std::uint64_t id, std::uint64_t lease) override;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// A worker's report (PUT /jobs/{id}) as every store reads it.
struct job_report {
    std::string status = "running";         // as sent; "running" when absent
    bool done = false;                      // done, completed, succeeded
    bool failed = false;                    // failed, error
    std::optional<std::uint64_t> progress;  // capped at 100
    std::optional<std::string> result;      // the raw JSON value
    bool has_lease = false;
    std::optional<std::uint64_t> lease;  // has_lease and nullopt: not a number (never matches)
};
/// nullopt when the body is not a JSON object (an empty body is a report without members).
std::optional<job_report> parse_job_report(std::string_view body);

/// A decimal id filling s exactly.
std::optional<std::uint64_t> parse_job_id(std::string_view s);

}  // namespace sy::hub
