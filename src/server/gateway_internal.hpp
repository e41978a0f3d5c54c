// Shared between gateway.cpp and jobs.cpp (not public).
#pragma once

#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/server/runtime.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/sse_session.hpp"

namespace sy::server {

/// Starts an SSE stream of sub on the calling loop (ls) for every HTTP version: the head, then
/// the push core over the transport the response has (HTTP/1.1: the connection, taken over;
/// HTTP/2: the streamed response). GET /sub (Accept: text/event-stream) and /jobs/{id}/events.
void start_push(http::response& res, loop_state& ls, session::sse_subscription sub);
/// The loop's push counters (a slot of the loop, created by the gateway's loop-start hook).
session::push_counters* push_counters_of(const loop_state& ls);

/// What a waiting poll (GET /sub long poll, GET /jobs/next) answers when the server shuts down
/// (http::response::on_shutdown): 503 with Retry-After, the HTTP form of gRPC's UNAVAILABLE,
/// so a client backs off and retries (elsewhere, or here after the restart) instead of polling
/// again at once into a closed port. docs/patterns/polling.md, "Shutdown".
inline constexpr int k_shutdown_status = 503;
inline constexpr std::string_view k_shutdown_retry_after = "1";  // seconds
inline constexpr std::string_view k_shutdown_body = "{\"error\":\"server shutting down\"}";

}  // namespace sy::server
