// STUN and TURN over TCP: framing, replies and ChannelData on one connection.
#include "switchyard/session/stun_tcp_session.hpp"

namespace sy::session {

stun_tcp_session::stun_tcp_session(stun_server& server, const net::address& peer,
                                   const net::address& local, std::uint64_t serial)
    : server_(server), local_(local) {
    origin_.from = to_stun_address(peer);
    origin_.via = transport::tcp;
    origin_.key.serial = serial;
    origin_.local = &local_;
    origin_.link = this;
}

void stun_tcp_session::on_open(net::connection& c) {
    conn_ = &c;
    server_.counters().tcp_connections.add();
}

void stun_tcp_session::on_close(net::connection&, net::close_reason) {
    conn_ = nullptr;
    if (server_.turn()) server_.turn()->client_gone(origin_.key);
}

void stun_tcp_session::send_to_client(byte_view bytes) {
    if (conn_) conn_->write(bytes);
}

void stun_tcp_session::on_data(net::connection& c, byte_buffer& in) {
    byte_view rest{in.data(), in.size()};
    while (!rest.empty()) {
        stun::frame fr;
        const auto r = framer_.feed(rest, fr);
        if (r.out == stun::outcome::error) {
            server_.counters().tcp_framing_errors.add();
            server_.counters().malformed.add();
            in.consume(in.size());
            c.close(net::close_mode::immediate);
            return;
        }
        rest = rest.subspan(r.consumed);
        if (r.out == stun::outcome::need_more) break;
        if (fr.kind == stun::frame_kind::channel_data) {
            const auto cd = stun::parse_channel_data(fr.bytes, true);
            if (cd && server_.turn()) {
                server_.turn()->channel_data(origin_.key, *cd);
            } else {
                server_.counters().not_requests.add();
            }
            continue;
        }
        reply_.clear();
        if (server_.handle(fr.bytes, origin_, reply_) == stun_server::verdict::answered ||
            !reply_.empty())
            c.write(byte_view{reply_.data(), reply_.size()});
    }
    in.consume(in.size());
}

}  // namespace sy::session
