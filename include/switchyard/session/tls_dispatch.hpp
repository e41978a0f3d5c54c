// tls_dispatch: the first handler of a TLS connection. Waits for the handshake (driven by the
// tls_stream inside the connection's reads), then installs the session ALPN chose: "h2" ->
// h2_session, anything else (http/1.1, no ALPN) -> http1_session. Leftover input is re-delivered
// to the new handler by the connection (set_handler inside on_data).
//
// Handshake timeout: a read deadline from on_open; a client that has not finished the handshake
// by then is closed. A client that finished it but sent nothing yet is handed to its session at
// that point (which applies its own idle timeout) rather than closed.
//
// Thread: the connection's loop only. `info` belongs to the connection's tls_stream, which
// outlives this handler.
#pragma once

#include <string>
#include <string_view>

#include "switchyard/base/clock.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/session/http_context.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

class tls_dispatch final : public net::connection_handler, public graceful_shutdown {
  public:
    tls_dispatch(http_context& ctx, std::string_view remote_address, const net::tls_info& info,
                 millis handshake_timeout)
        : ctx_(ctx), remote_(remote_address), info_(info), timeout_(handshake_timeout) {}

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void begin_shutdown(net::connection& c) override { c.close(net::close_mode::graceful); }
    std::string_view protocol() const override { return "TLS"; }

  private:
    void hand_over(net::connection& c);

    http_context& ctx_;
    std::string remote_;
    const net::tls_info& info_;
    millis timeout_;
};

}  // namespace sy::session
