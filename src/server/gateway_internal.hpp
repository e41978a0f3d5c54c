// Shared between gateway.cpp, routes.cpp and jobs.cpp (not public).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/server/runtime.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/sse_session.hpp"
#include "switchyard/session/ws_session.hpp"

namespace sy::backplane {
struct topic_nodes;
}

namespace sy::server {

/// A WebSocket asked of start_push: the handshake's settings and the session's role.
struct ws_push {
    session::ws_options options;       ///< max_message, ping, idle (deflate: from the handshake)
    bool deflate = true;               ///< offer permessage-deflate (ws.deflate)
    std::vector<std::string> origins;  ///< allowed Origin values; empty: any
    std::optional<session::ws_subscription> sub;  ///< none: the echo role (GET /echo)
};
/// A ws_push with the ws.* settings of cfg; origins: the allowed Origins (empty: ws.origins).
ws_push ws_push_of(const server_config& cfg, const std::vector<std::string>& origins,
                   std::optional<session::ws_subscription> sub = std::nullopt);

/// What a streaming caller asks for: a WebSocket (either role) or an SSE stream.
using push_request = std::variant<ws_push, session::sse_subscription>;

/// The one entry of every streaming caller (routes: /sub and [[routes]], /echo,
/// /jobs/{id}/events): answers the head on the calling loop's transport and starts the push core
/// over it. WebSocket: the handshake (proto/ws: 400/403/426 when refused), then 101 (HTTP/1.1)
/// or 200 (HTTP/2 extended CONNECT, RFC 8441) and ws_session over the tunnel. SSE: the
/// event-stream head, then the stream over the connection (HTTP/1.1, taken over) or the streamed
/// response (HTTP/2). Returns the session (to end it later on this loop), empty when refused.
std::weak_ptr<session::push_events> start_push(http::request& req, http::response& res,
                                               push_request sub);

/// The SSE answer for one topic pattern (a route's SSE, GET /sub's, gateway::stream_sse):
/// resume from the request (since=, Last-Event-ID) when `resume`; with `query_options` the
/// query's envelope/event/retry options apply; the configured heartbeat.
std::weak_ptr<session::push_events> serve_sse_pattern(const server_config& cfg, http::request& req,
                                                      http::response& res, std::string pattern,
                                                      bool resume, bool envelope,
                                                      bool query_options);

/// The loop's push counters (a slot of the loop, created by the gateway's loop-start hook).
session::push_counters* push_counters_of(const loop_state& ls);

bool wants_websocket(const http::request& req);
bool wants_sse(const http::request& req);
bool query_flag(const http::request& req, std::string_view name);
std::uint64_t query_u64(const http::request& req, std::string_view name, std::uint64_t dflt);

/// Where a subscriber starts: ?since=ID (or since=newest), ?last_event_id=, Last-Event-ID,
/// If-None-Match; the largest id given wins.
struct start_point {
    bool given = false;
    bool newest = false;
    std::uint64_t since = 0;
    std::uint64_t epoch = 0;  // of since, from an "<epoch>:<id>" token (hub::resume_token)
};
start_point start_of(const http::request& req);
hub::subscribe_options options_of(const start_point& sp);

/// A long poll of pattern on ls (docs/patterns/polling.md): the next message after sp (history
/// first), else 304 after timeout. envelope: the JSON envelope instead of the payload.
void serve_long_poll(http::response& res, loop_state& ls, const std::string& pattern,
                     const start_point& sp, millis timeout, bool envelope);
/// What a client publishes (POST /pub, publish_post, a WebSocket message of a publish = true
/// route) goes through here: the one place for rules on client publishes (the hub refuses the
/// reserved `sys.` prefix). A refusal decided before any post is also returned (nullopt:
/// accepted so far), so a caller without a callback (a WebSocket message) can answer it.
std::optional<hub::publish_error> publish_from_client(loop_state& ls, std::string_view topic,
                                                      std::string_view type, shared_bytes payload,
                                                      hub::publish_callback done = {});

/// Publishes the request body to topic (POST /pub/{topic}, publish_post routes): 201 with the
/// id and the subscribers reached; 400 invalid topic; 503 + Retry-After over a block cap.
void publish_body(http::request& req, http::response& res, loop_state& ls, std::string_view topic);

/// What a waiting poll (GET /sub long poll, GET /jobs/next) answers when the server shuts down
/// (http::response::on_shutdown): 503 with Retry-After, the HTTP form of gRPC's UNAVAILABLE,
/// so a client backs off and retries (elsewhere, or here after the restart) instead of polling
/// again at once into a closed port. docs/patterns/polling.md, "Shutdown".
inline constexpr int k_shutdown_status = 503;
inline constexpr std::string_view k_shutdown_retry_after = "1";  // seconds
inline constexpr std::string_view k_shutdown_body = "{\"error\":\"server shutting down\"}";

/// presence.cpp. A WebSocket's presence name joined (joined) or left topic: posted to loop 0's
/// store (the backplane's across nodes, or this process's). Any loop thread.
void presence_changed(runtime& rt, std::string topic, std::string name, bool joined);
/// GET /topics/{topic}/presence: {"topic": T, "members": [names, sorted, each once]}; 503 with
/// Retry-After while the backplane cannot tell.
void presence_handler(runtime& rt, http::request& req, http::response& res);
/// With a backplane (on a loop thread): every node's subscribers of topic and its epoch and
/// last id in Redis; done runs on this loop with the figures (nullptr: Redis could not tell),
/// unless the client went away meanwhile.
void cluster_figures(runtime& rt, const std::string& topic, http::response& res,
                     unique_function<void(http::response&, const backplane::topic_nodes*)> done);

}  // namespace sy::server
