// SSE over the push core: a Server-Sent Events stream of hub messages over any push_target
// (session/push_stream.hpp): the HTTP/1.1 connection after the event-stream head (the body runs
// until the connection closes, RFC 9112 6.3 rule 8; the transport is the connection's tunnel),
// or an HTTP/2 response streamed through its sink (one DATA frame per event).
//
// Each message is one event framed once per loop (hub::delivery::framed) and queued as shared
// bytes: "id: <message id>" (so EventSource resends it as Last-Event-ID), an optional event name,
// the payload as data lines (binary payloads as a base64 JSON string). A gap is
// "event: gap" with data {"type":"gap","topic","from","to","lost"} and id = the last lost id.
// A comment line (": hb") goes out every heartbeat interval while nothing is queued. The stream
// ends (FIN / END_STREAM) on the disconnect policy and the server's graceful shutdown.
//
// Thread: the target's loop only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "switchyard/base/clock.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/push_stream.hpp"

namespace sy::session {

struct sse_subscription {
    std::string pattern;
    hub::subscribe_options start;
    bool envelope = false;  ///< data = the JSON envelope (id, topic, time, content_type, data)
    std::string event;      ///< event name for data events ("" = none, dispatched as "message")
    millis heartbeat{15000};
    std::uint32_t retry_ms = 0;  ///< non-zero: a "retry:" field first
    push_counters* counters = nullptr;
    std::int64_t expires_at_s = 0;  ///< the token's exp: "event: error" and the end then
};

// The bytes of an SSE stream (its framer is these).
/// The stream's first bytes: "retry:" when asked, then the ": ok" comment.
byte_buffer sse_opening(const sse_subscription& sub);
/// One hub message as an event: framed once per loop (hub::delivery::framed) unless the
/// subscription names its own event, which cannot share the loop's cached frame.
shared_bytes sse_message(const hub::delivery& d, const sse_subscription& sub);
/// A gap event: "event: gap", id = the last lost id, data = gap_json.
byte_buffer sse_gap(const pending_gap& g);
/// The heartbeat comment (": hb"), one shared copy per thread.
const shared_bytes& sse_heartbeat();

/// Starts an SSE stream on t (its head already sent): the opening bytes, then the push core.
/// False when the transport was gone or the pattern refused (the stream then ends).
/// owner: as session::start_push's.
bool start_sse(hub::hub_shard& shard, std::unique_ptr<push_target> t, sse_subscription sub,
               std::weak_ptr<push_events>* owner = nullptr);

}  // namespace sy::session
