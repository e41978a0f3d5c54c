// stun_tcp_session: STUN and TURN over TCP (RFC 8489 6.2.2, RFC 8656 12.5) on a `stun.listen`
// connection. Frames the stream (proto/stun stream_framer), hands each STUN message to the
// loop's stun_server and queues its reply; ChannelData goes to the connection's TURN allocation,
// which ends with the connection. A message that frames but does not parse is dropped and
// counted; bytes that cannot be STUN or ChannelData end the connection (a stream cannot
// resynchronise).
//
// Thread: the connection's loop only. `server` is the loop's stun_server (a loop slot), which
// outlives every connection of the loop.
#pragma once

#include <vector>

#include "switchyard/net/connection.hpp"
#include "switchyard/proto/stun/framer.hpp"
#include "switchyard/session/shutdown.hpp"
#include "switchyard/session/stun_server.hpp"

namespace sy::session {

class stun_tcp_session final : public net::connection_handler,
                               public graceful_shutdown,
                               public turn_link {
  public:
    /// serial: unique on this loop (names the connection's TURN allocation).
    stun_tcp_session(stun_server& server, const net::address& peer, const net::address& local,
                     std::uint64_t serial);

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_close(net::connection& c, net::close_reason r) override;
    void begin_shutdown(net::connection& c) override { c.close(net::close_mode::graceful); }
    std::string_view protocol() const override { return "STUN"; }

    // turn_link
    void send_to_client(byte_view bytes) override;
    bool is_stream() const override { return true; }

  private:
    stun_server& server_;
    net::address local_;
    stun_origin origin_;
    net::connection* conn_ = nullptr;
    stun::stream_framer framer_;
    std::vector<std::uint8_t> reply_;  // reused between messages
};

}  // namespace sy::session
