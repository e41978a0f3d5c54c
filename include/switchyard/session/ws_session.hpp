// ws_session: a WebSocket over one connection after the HTTP/1.1 upgrade (RFC 6455), in one of
// two roles:
//   echo        every message goes back as it came (text stays text, binary stays binary);
//   subscriber  hub messages matching a pattern go out as frames (framed once per loop through
//               hub::delivery::framed, written as shared_bytes); messages the client sends
//               publish to the topic when allowed; optional presence join/leave messages.
//
// The gateway answers the handshake (proto/ws accept_handshake: 101 or 400/403/426), takes the
// connection over (http::response::upgrade) and installs a ws_session as the connection's
// handler, so the session sees its connection's queue (slow-subscriber caps), its close, and the
// server's graceful shutdown (close 1001).
// Over HTTP/2 (RFC 8441 extended CONNECT) the same session runs over the stream's
// http::byte_tunnel instead (run_over): frames travel in DATA frames, the slow-subscriber cap is
// measured against the stream's queue (byte_tunnel::queued_bytes), receive flow control is the
// tunnel's (the stream window), closing is END_STREAM (a stream the peer does not end is reset
// after the close timeout), and the h2 session's graceful shutdown reaches it as close 1001.
//
// Liveness: a ping every ping_interval; no frame from the client for idle_timeout -> close 1001.
// Errors: decoder errors close with their code (1002, 1007, 1009 ...; proto/ws/error.hpp table).
// Close: a client close is answered with the same code, then the connection closes gracefully
// (flush, FIN). A close we start (policy 1008, shutdown 1001, idle) is sent and the connection
// closes gracefully after it.
//
// Thread: the connection's loop only. The hub shard is that loop's shard.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "switchyard/base/clock.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/proto/ws/decoder.hpp"
#include "switchyard/proto/ws/deflate.hpp"
#include "switchyard/session/outflow.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

struct ws_options {
    std::size_t max_message = 1 << 20;
    millis ping_interval{30000};                ///< 0: no pings
    millis idle_timeout{120000};                ///< 0: none
    std::optional<ws::deflate_params> deflate;  ///< negotiated permessage-deflate
    push_counters* counters = nullptr;          ///< per loop; outlives the session
};

struct ws_subscription {
    std::string pattern;  ///< topic or wildcard pattern
    hub::subscribe_options start;
    bool allow_publish = false;  ///< client messages publish to `pattern` (literal topics only)
    bool envelope = false;       ///< JSON envelopes instead of raw payload frames
    std::string presence;        ///< non-empty: publish join/leave under this name
};

class ws_session final : public net::connection_handler,
                         public graceful_shutdown,
                         public hub::subscriber {
  public:
    /// Echo role.
    explicit ws_session(ws_options o);
    /// Subscriber role on `shard` (the connection's loop's shard).
    ws_session(ws_options o, hub::hub_shard& shard, ws_subscription sub);
    ~ws_session() override;

    /// Runs s over an HTTP/2 extended-CONNECT tunnel on loop l (the stream's connection's loop)
    /// instead of as a connection handler. The tunnel's on_close callback owns the session: it is
    /// destroyed when the stream ends (END_STREAM both ways, reset, or the connection closing).
    static void run_over(std::unique_ptr<ws_session> s, std::shared_ptr<http::byte_tunnel> t,
                         core::loop& l);

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    void on_peer_closed(net::connection& c) override;
    void on_close(net::connection& c, net::close_reason r) override;
    void begin_shutdown(net::connection& c) override;
    void on_message(const hub::delivery& d) override;

  private:
    // One body for both transports: conn_ (HTTP/1.1 takeover) or tunnel_ (HTTP/2 stream).
    void start(core::loop& l);
    void receive(byte_buffer& in);
    void on_tunnel_data(byte_view b);
    void drained();
    void closed();
    bool open() const;
    void out(byte_buffer&& b);
    void out(shared_bytes b);
    std::size_t queued() const;
    void finish();  ///< graceful: flush + FIN (h1) or END_STREAM (h2)

    bool handle(const ws::event& ev);
    void on_client_message(const ws::event& ev);
    void send_message(ws::opcode op, byte_view payload);
    void send_close(std::uint16_t code, std::string_view reason);
    void send_gap(const pending_gap& g);
    void publish_presence(std::string_view kind);
    void on_tick();
    void arm_watch();

    ws_options opts_;
    ws::decoder dec_;
    std::unique_ptr<ws::deflater> deflater_;
    hub::hub_shard* shard_ = nullptr;
    std::optional<ws_subscription> sub_;
    hub::subscription_handle handle_;
    std::optional<outflow_guard> guard_;
    net::connection* conn_ = nullptr;
    std::shared_ptr<http::byte_tunnel> tunnel_;
    core::loop* loop_ = nullptr;
    byte_buffer rx_;  // tunnel mode: received bytes not decoded yet (a partial frame)
    core::timer_id tick_{};
    core::timer_id watch_{};
    std::int64_t last_rx_ms_ = 0;
    bool close_sent_ = false;
    bool joined_ = false;  // presence join published: publish leave on close
};

}  // namespace sy::session
