// ws_session: a WebSocket (RFC 6455) over a push_target after the upgrade, in one of
// two roles:
//   echo        every message goes back as it came (text stays text, binary stays binary);
//   subscriber  hub messages matching a pattern go out as frames (framed once per loop through
//               hub::delivery::framed, written as shared_bytes); what the client sends goes to
//               the subscription's hooks (ws_hooks: the route decides, server/routes.cpp:
//               publish as is, presence join/leave, a program's own code); without an
//               on_message hook a client message closes the socket 1008.
//
// The gateway answers the handshake (proto/ws accept_handshake: 101 or 400/403/426), takes the
// transport over (http::response::upgrade) and runs the session over it (run): a push_target
// (session/push_stream.hpp) over the byte tunnel, either the HTTP/1.1 connection after its 101
// or the HTTP/2 stream of an extended CONNECT (RFC 8441). The session is only the WebSocket
// protocol: the target measures the queue for the slow-subscriber caps (the connection's or the
// stream's), holds receive flow control, closes (FIN after flush, END_STREAM) and reports the
// server's graceful shutdown (close 1001). In the subscriber role the hub loop is the push core's
// push_stream, with this session as its framer (frames, gaps, the close frame before an end).
//
// Liveness: a ping every ping_interval; no frame from the client for idle_timeout -> close 1001.
// Errors: decoder errors close with their code (1002, 1007, 1009 ...; proto/ws/error.hpp table).
// Close: a client close is answered with the same code, then the connection closes gracefully
// (flush, FIN). A close we start (policy 1008, shutdown 1001, idle) is sent and the connection
// closes gracefully after it.
//
// Thread: the target's loop only. The hub shard is that loop's shard.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "switchyard/auth/policy.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/proto/ws/decoder.hpp"
#include "switchyard/proto/ws/deflate.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/push_stream.hpp"

namespace sy::session {

struct ws_options {
    std::size_t max_message = 1 << 20;
    millis ping_interval{30000};                ///< 0: no pings
    millis idle_timeout{120000};                ///< 0: none
    std::optional<ws::deflate_params> deflate;  ///< negotiated permessage-deflate
    push_counters* counters = nullptr;          ///< per loop; outlives the session
};

/// A subscriber WebSocket as a hook sees it (route hooks: docs/routes.md). Valid during the call.
class ws_peer {
  public:
    /// The client's address as "host:port" (http::request::remote_address).
    virtual std::string_view remote_address() const = 0;
    /// The port of remote_address (0 when it has none).
    std::uint16_t remote_port() const;
    /// The topic the socket follows.
    virtual std::string_view topic() const = 0;
    /// Publishes to the socket's topic (every subscriber of it gets it, this one too); false
    /// when the topic is a pattern (nothing to publish to).
    virtual bool publish(std::string_view payload,
                         std::string_view content_type = "text/plain; charset=utf-8") = 0;
    /// A text message to this socket only.
    virtual void send_text(std::string_view text) = 0;
    /// Closes the socket with code and reason (RFC 6455 7.4).
    virtual void close(std::uint16_t code, std::string_view reason) = 0;
    /// Who the socket belongs to (the handshake's token, or a refreshed one); null: anonymous.
    virtual const auth::principal* principal() const = 0;

  protected:
    ~ws_peer() = default;
};

/// Code run on a subscriber WebSocket's events, on its loop. Each may be empty.
struct ws_hooks {
    /// The subscription exists (what the hook publishes reaches this socket too).
    std::function<void(ws_peer&)> on_connect;
    /// A message from the client. None: a client message closes the socket 1008.
    std::function<void(ws_peer&, std::string_view message, bool binary)> on_message;
    /// The socket is gone (no send possible; publish still is); only after on_connect ran.
    std::function<void(ws_peer&)> on_close;
    explicit operator bool() const { return on_connect || on_message || on_close; }
};

struct ws_subscription {
    std::string pattern;  ///< topic or wildcard pattern
    hub::subscribe_options start;
    bool envelope = false;  ///< JSON envelopes instead of raw payload frames
    ws_hooks hooks;         ///< what the socket's events run (the route's)
    std::string remote;     ///< the client's "host:port" (ws_peer::remote_address)
    /// The handshake's principal; the stream ends at its exp (close 3000 "token expired").
    std::shared_ptr<const auth::principal> principal;
    /// With [auth] on (null otherwise): an envelope-mode client may send
    /// {"type":"refresh","token":"..."} before exp to continue with the new token's exp and
    /// permissions (as Centrifugo's refresh); answered {"type":"refreshed","exp":N}.
    std::shared_ptr<const auth::policy> policy;
};

class ws_session final : public push_events, public push_framer, public ws_peer {
  public:
    /// Echo role.
    explicit ws_session(ws_options o);
    /// Subscriber role on `shard` (the target's loop's shard).
    ws_session(ws_options o, hub::hub_shard& shard, ws_subscription sub);
    ~ws_session();
    ws_session(const ws_session&) = delete;
    ws_session& operator=(const ws_session&) = delete;

    /// Runs s over t (a tunnel_target after the upgrade). The target owns the session from here
    /// until the transport is gone.
    static void run(std::shared_ptr<ws_session> s, std::unique_ptr<push_target> t);

    // push_events (from the target)
    void on_push_data(byte_view b) override;
    void on_push_drain() override;
    void on_push_shutdown() override;
    void on_push_removed() override;
    void on_push_closed() override;

    // push_framer (for the push_stream of the subscriber role)
    shared_bytes frame(const hub::delivery& d) override;
    byte_buffer gap(const pending_gap& g) override;
    void farewell(push_target& t, push_end why, std::string_view detail) override;

    // ws_peer (for the route hooks)
    std::string_view remote_address() const override;
    std::string_view topic() const override;
    bool publish(std::string_view payload, std::string_view content_type) override;
    void send_text(std::string_view text) override;
    void close(std::uint16_t code, std::string_view reason) override;
    const auth::principal* principal() const override;

  private:
    void start();
    void receive(byte_buffer& in);
    bool open() const;
    void out(byte_buffer&& b);
    /// Close frame (once), stop the subscription, graceful end of the transport.
    void end(std::uint16_t code, std::string_view reason);

    bool handle(const ws::event& ev);
    void on_client_message(const ws::event& ev);
    /// An envelope-mode {"type":"refresh","token":...} message: true when it was one (handled).
    bool refresh(std::string_view message);
    void send_message(ws::opcode op, byte_view payload);
    void send_close(std::uint16_t code, std::string_view reason);
    void on_tick();

    ws_options opts_;
    ws::decoder dec_;
    std::unique_ptr<ws::deflater> deflater_;
    hub::hub_shard* shard_ = nullptr;
    std::optional<ws_subscription> sub_;
    std::unique_ptr<push_target> target_;  // before stream_: the stream refers to it
    std::optional<push_stream> stream_;    // subscriber role, once running
    core::loop* loop_ = nullptr;
    byte_buffer rx_;  // received bytes not decoded yet (a partial frame)
    core::timer_id tick_{};
    std::int64_t last_rx_ms_ = 0;
    bool close_sent_ = false;
    bool connected_ = false;  // on_connect ran: on_close runs at the end
};

}  // namespace sy::session
