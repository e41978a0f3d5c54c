// http1_session: HTTP/1.1 over one connection. Joins the sans-IO request parser
// (proto/http1), the version-independent HTTP layer (http/: request, router, response_sink) and
// a net::connection.
//
// One exchange at a time: requests are parsed in order; while a handler holds its response open
// (long poll, SSE, work on the pool) later pipelined requests wait in the connection's input
// buffer (bounded by its cap), so responses always leave in request order. When the response
// ends the session resumes parsing.
//
// Timeouts: the first head must arrive within header_timeout of the accept (the connection is
// closed silently if no byte came, with 408 if part of a head did), a later head within
// header_timeout of its first byte (slowloris: 408 and close); both count as header timeouts.
// Body bytes may pause at most body_timeout (408), a connection with nothing in flight
// closes after idle_timeout. A response in flight is never cut by the idle timeout.
//
// Errors: a parse error gets the table reply from proto/http1/errors.hpp (400/413/414/431/501/
// 505) with Connection: close; responses already queued for earlier pipelined requests are
// flushed first (graceful close), so nothing accepted is lost.
//
// Thread: the connection's loop only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "switchyard/net/connection.hpp"
#include "switchyard/session/http_context.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

class h1_sink;
enum class h2_start : std::uint8_t;  // h2_session.hpp

class http1_session final : public net::connection_handler, public graceful_shutdown {
  public:
    http1_session(http_context& ctx, std::string_view remote_address);
    ~http1_session() override;

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    void on_peer_closed(net::connection& c) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void on_close(net::connection& c, net::close_reason r) override;
    void begin_shutdown(net::connection& c) override;
    std::string_view protocol() const override { return "HTTP/1.1"; }
    /// TLS connections: "Upgrade: h2c" is ignored (h2 over TLS is chosen by ALPN).
    void disable_h2c_upgrade() { h2c_allowed_ = false; }

  private:
    friend class h1_sink;
    enum class phase : std::uint8_t { idle, head, body, handler, closing, upgraded };

    bool step(net::connection& c, byte_buffer& in);
    bool on_head(net::connection& c);
    void dispatch(net::connection& c);
    void fail(net::connection& c, http1::error e);
    void reply_and_close(net::connection& c, int status, std::string_view body);
    void response_done(int status);
    void response_upgraded(int status);
    void release_exchange();
    bool switch_to_h2c(net::connection& c);
    void switch_to_h2(net::connection& c, h2_start start);

    http_context& ctx_;
    net::connection* conn_ = nullptr;
    std::unique_ptr<http1_exchange> x_;
    std::shared_ptr<h1_sink> sink_;
    phase phase_ = phase::idle;
    bool keep_alive_ = true;
    bool in_on_data_ = false;
    bool draining_ = false;
    bool h2c_allowed_ = true;
    bool first_bytes_ = true;   // nothing parsed yet on this connection (h2 preface check)
    bool fresh_ = true;         // no head begun yet: the header deadline set at open runs
    bool h2c_upgrade_ = false;  // this request asked for "Upgrade: h2c" with HTTP2-Settings
    std::uint8_t remote_len_ = 0;
    std::array<char, 47> remote_{};
};

}  // namespace sy::session
