// redis_jobs: the jobs store on Redis (hub::job_store), used instead of hub::jobs_owner when
// backplane.url is set, so a job submitted on one node is taken, reported and read on any node.
//
// Keys, for queue Q (hub.jobs_queue), all on the Redis that backplane::shard_index(Q) names:
// - sy:j:Q:s  a stream with one entry per delivery-able job (field id), consumer group "sy";
//             every node is one consumer of the group, named by backplane.node_id.
// - sy:j:Q:n  the id counter (INCR). sy:j:Q:h:<id> the job's hash (status, progress, result,
//             version, attempts, created, updated, reason, type, payload, lease, entry).
// - sy:j:Q:f  finished ids, oldest first, trimmed to hub.jobs_kept (their hashes deleted).
// - sy:j:Q:dead  the dead-letter stream: jobs delivered hub.jobs_max_attempts times unsettled.
//
// Operations (each one script or command, atomic in Redis):
// - submit: INCR, HSET the hash, XADD the entry.
// - take: XAUTOCLAIM an entry idle for hub.job_visibility_timeout_ms (a worker went silent),
//   else XREADGROUP a new one; attempts = the entry's XPENDING delivery count; the lease is a
//   HINCRBY of the hash, so a worker that lost its claim gets lease_lost.
// - report: a heartbeat resets the entry's idle time (XCLAIM JUSTID: no delivery counted);
//   done/failed XACKs and XDELs the entry and writes the result in the hash.
// - give back (the offer's client had gone): XCLAIM IDLE past the timeout, RETRYCOUNT - 1, so
//   the next take anywhere has it at once and the lost delivery is not an attempt.
// Workers wait on their node: while one waits, the node takes (one script in flight), and polls
// again every k_poll_ms when the stream had nothing; a submit on this node takes at once.
// Long polls on a job's version read the hash every k_poll_ms (a change made on this node
// answers them at once). jobs.{id} events (GET /jobs/{id}/events) carry the changes made on the
// subscriber's node only: jobs.* topics stay on their node (docs/scaling.md).
//
// Redis down: submit, report and status answer unavailable (HTTP 503); waiting workers keep
// waiting. AMQP consumers of the broker's jobs queue are not workers of this store.
//
// Threads: loop 0 only (the backplane's loop); every callback runs there.
#pragma once

#include <memory>

#include "switchyard/hub/jobs.hpp"

namespace sy::backplane {

class backplane;

class redis_jobs final : public hub::job_store {
  public:
    static constexpr std::int64_t k_poll_ms = 100;

    redis_jobs(hub::jobs_settings s, hub::jobs_env env, backplane& bp);
    ~redis_jobs() override;
    redis_jobs(const redis_jobs&) = delete;
    redis_jobs& operator=(const redis_jobs&) = delete;

    void start(hub::broker* b) override;
    void submit(std::string content_type, sy::shared_bytes payload, hub::job_reply to) override;
    void take(std::uint64_t key, std::int64_t timeout_ms, hub::job_reply to) override;
    void drop_worker(std::uint64_t key) override;
    void release_worker(std::uint64_t key) override;
    void release_watchers(std::uint64_t id) override;
    void update(std::uint64_t id, std::string_view report, hub::job_reply to) override;
    void watch(std::uint64_t id, std::optional<std::uint64_t> version_seen, std::int64_t wait_ms,
               hub::job_reply to) override;
    void give_back(std::uint64_t id, std::uint64_t lease) override;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace sy::backplane
