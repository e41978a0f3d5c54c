#include "switchyard/session/tls_dispatch.hpp"

#include "switchyard/session/h2_session.hpp"
#include "switchyard/session/http1_session.hpp"

namespace sy::session {

void tls_dispatch::on_open(net::connection& c) {
    if (timeout_.count() > 0) c.set_read_deadline(timeout_);
}

void tls_dispatch::on_data(net::connection& c, byte_buffer&) {
    // Application bytes only arrive after the handshake, so ALPN is known here.
    hand_over(c);
}

net::timeout_action tls_dispatch::on_timeout(net::connection& c, net::timeout_kind k) {
    if (k == net::timeout_kind::read && info_.handshake_done()) {
        hand_over(c);
        return net::timeout_action::keep;
    }
    if (k == net::timeout_kind::read) info_.count_handshake_timeout();
    return net::timeout_action::close;
}

void tls_dispatch::hand_over(net::connection& c) {
    c.clear_read_deadline();
    if (info_.alpn() == "h2") {
        c.set_handler(std::make_unique<h2_session>(ctx_, remote_, h2_start::preface_expected));
    } else {
        auto h1 = std::make_unique<http1_session>(ctx_, remote_);
        h1->disable_h2c_upgrade();  // RFC 9113 3.1: h2c is for cleartext only
        c.set_handler(std::move(h1));
    }
}

}  // namespace sy::session
