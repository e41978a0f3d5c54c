// Shared between gateway.cpp and jobs.cpp (not public).
#pragma once

#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/server/runtime.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/sse_session.hpp"

namespace sy::server {

/// Sends the event-stream head through the upgrade path and installs an sse_session.
void start_sse(http::response& res, hub::hub_shard& shard, session::sse_subscription sub);
/// SSE through the response itself (HTTP/2): see sse_stream.cpp.
void start_sse_stream(http::response& res, hub::hub_shard& shard, core::loop& l,
                      session::sse_subscription sub);
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
