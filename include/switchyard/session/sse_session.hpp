// sse_session: a Server-Sent Events stream of hub messages over one connection.
//
// The gateway validates the request, subscribes nothing itself, sends the response head through
// http::response::upgrade (status 200, Content-Type: text/event-stream, no Content-Length: the
// body runs until the connection closes, RFC 9112 6.3 rule 8) and installs an sse_session as the
// connection's handler. Owning the connection is what lets the session see its queue (slow-
// subscriber caps), the client leaving, and the server's graceful shutdown (the stream ends).
//
// Each message is one event framed once per loop (hub::delivery::framed) and queued as shared
// bytes: "id: <message id>" (so EventSource resends it as Last-Event-ID), an optional event name,
// the payload as data lines (binary payloads as a base64 JSON string). A gap is
// "event: gap" with data {"type":"gap","topic","from","to","lost"} and id = the last lost id.
// A comment line (": hb") goes out every heartbeat interval.
//
// Thread: the connection's loop only.
#pragma once

#include <optional>
#include <string>

#include "switchyard/base/clock.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

struct sse_subscription {
    std::string pattern;
    hub::subscribe_options start;
    bool envelope = false;  ///< data = the JSON envelope (id, topic, time, content_type, data)
    std::string event;      ///< event name for data events ("" = none, dispatched as "message")
    millis heartbeat{15000};
    std::uint32_t retry_ms = 0;  ///< non-zero: a "retry:" field first
    push_counters* counters = nullptr;
};

// The bytes of an SSE stream, shared by sse_session (HTTP/1.1, owning the connection) and the
// gateway's stream through http::response (HTTP/2).
/// The stream's first bytes: "retry:" when asked, then the ": ok" comment.
byte_buffer sse_opening(const sse_subscription& sub);
/// One hub message as an event: framed once per loop (hub::delivery::framed) unless the
/// subscription names its own event, which cannot share the loop's cached frame.
shared_bytes sse_message(const hub::delivery& d, const sse_subscription& sub);
/// A gap event: "event: gap", id = the last lost id, data = gap_json.
byte_buffer sse_gap(const pending_gap& g);
/// The heartbeat comment (": hb"), one shared copy per thread.
const shared_bytes& sse_heartbeat();

class sse_session final : public net::connection_handler,
                          public graceful_shutdown,
                          public hub::subscriber {
  public:
    sse_session(hub::hub_shard& shard, sse_subscription sub);
    ~sse_session() override;

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    void on_close(net::connection& c, net::close_reason r) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void begin_shutdown(net::connection& c) override;
    void on_message(const hub::delivery& d) override;

  private:
    void send_gap(const pending_gap& g);
    void heartbeat();
    void arm_watch();

    hub::hub_shard* shard_;
    sse_subscription sub_;
    outflow_guard guard_;
    hub::subscription_handle handle_;
    net::connection* conn_ = nullptr;
    core::timer_id beat_{};
    core::timer_id watch_{};
    bool ended_ = false;
};

}  // namespace sy::session
