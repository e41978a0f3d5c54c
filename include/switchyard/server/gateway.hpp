// The HTTP gateway to the hub: one URL per topic, four ways to follow it (nchan's semantics).
//
//   GET  /echo                 WebSocket upgrade: echoes every message (POST /echo: the body)
//   POST /pub/{topic}          publish the body (Content-Type kept) -> 201 {"id":N,"subscribers":M}
//                              400 invalid topic; 503 + Retry-After: 1 when a block-publisher
//                              subscriber of the topic is over its output cap
//   GET  /sub/{pattern}        Accept: text/event-stream -> SSE; Upgrade: websocket -> WebSocket;
//                              otherwise a long poll (see docs/patterns/*.md for every option)
//   GET  /topics/{topic}/messages?since=ID&limit=N   short poll, answers at once
//   GET  /topics/{topic}       stats JSON
// and the jobs API (jobs.cpp): POST /jobs, GET /jobs/next, PUT /jobs/{id}, GET /jobs/{id},
// GET /jobs/{id}/events; a job's changes are published on topic jobs.{id}.
// All of them are routes of the default table (server/routes.hpp): /sub/:topic and /pub/:topic
// are topic routes as [[routes]] tables are, the rest handler routes; app.routes() adds more.
//
// Embedded use: handlers running on a loop thread can publish and subscribe directly on the
// calling loop's hub shard with the functions below (no HTTP involved).
//
// Hub scope: one hub per process, sharded over its loops. Under the prefork model each process
// has its own hub until the Redis backplane exists: a publish reaches the subscribers connected
// to the same process only.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/server/app.hpp"

namespace sy::server {

/// Adds the gateway and jobs routes to app.routes(); call before run() (registers per-loop hooks
/// through app::on_runtime).
void install_gateway(app& a);

/// Registers the gateway's metric families in rt.metrics() (WS/SSE sessions, deliveries, gaps,
/// slow-subscriber policy counters); install_gateway does it when the runtime is made.
void register_gateway_metrics(runtime& rt);

namespace gateway {

/// Publishes on the calling loop's shard (loop thread only). `done` (optional) runs on this loop
/// with the id and the subscribers reached, or the error. Returns false off a loop thread.
bool publish(std::string_view topic, sy::shared_bytes payload, std::string_view content_type,
             hub::publish_callback done = {});

using message_fn = std::function<void(const hub::message&)>;

/// A callback subscription on the calling loop's shard. Destroy it on the same loop (it
/// unsubscribes); the callback runs on that loop for each matching message (and for a gap
/// message when resuming past history).
class subscription {
  public:
    subscription();
    subscription(subscription&&) noexcept;
    subscription& operator=(subscription&&) noexcept;
    explicit operator bool() const { return static_cast<bool>(target_); }
    void reset();
    ~subscription();

  private:
    friend result<subscription, hub::topic_error> subscribe(std::string_view, message_fn,
                                                            hub::subscribe_options);
    struct target;
    std::unique_ptr<target> target_;
};

/// Subscribes fn to pattern on the calling loop's shard (loop thread only; fails with
/// topic_error::empty off a loop thread).
result<subscription, hub::topic_error> subscribe(std::string_view pattern, message_fn fn,
                                                 hub::subscribe_options opts = {});

/// Answers req (on its loop) with an SSE stream of pattern, as GET /sub/{pattern} does for
/// Accept: text/event-stream: events with their hub ids, a reconnect's Last-Event-ID (or
/// ?since=, ?last_event_id=) resumes from the topic's history, heartbeats, the slow-subscriber
/// policy; ?envelope, ?event=, ?retry= as there. For a handler serving a topic under its own URL
/// (examples/course/server-sent-events). 503 off a loop thread; 500 for a pattern the hub
/// refuses (the program's mistake, not the client's).
void stream_sse(app& a, http::request& req, http::response& res, std::string_view pattern);

}  // namespace gateway

/// Jobs API routes (jobs.cpp); install_gateway calls it.
void install_jobs(app& a);

}  // namespace sy::server
