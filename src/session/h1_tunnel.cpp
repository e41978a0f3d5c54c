#include "switchyard/session/h1_tunnel.hpp"

namespace sy::session {

http::write_status h1_tunnel::status() const {
    if (!is_open()) return http::write_status::closed;
    return conn_->above_high_watermark() ? http::write_status::above_high_watermark
                                         : http::write_status::ok;
}

http::write_status h1_tunnel::write(byte_view bytes) {
    if (!is_open()) return http::write_status::closed;
    conn_->write(bytes);
    return status();
}

http::write_status h1_tunnel::write(shared_bytes bytes) {
    if (!is_open()) return http::write_status::closed;
    conn_->write(std::move(bytes));
    return status();
}

http::write_status h1_tunnel::write_owned(byte_buffer&& bytes) {
    if (!is_open()) return http::write_status::closed;
    conn_->write(std::move(bytes));
    return status();
}

void h1_tunnel::close() {
    if (is_open()) conn_->close(net::close_mode::graceful);
}

void h1_tunnel::reset() {
    if (is_open()) conn_->close(net::close_mode::abort);
}

void h1_tunnel_handler::on_open(net::connection& c) {
    c.set_idle_timeout(millis(0));  // liveness is the tunnelled protocol's (file comment)
}

void h1_tunnel_handler::on_data(net::connection&, byte_buffer& in) {
    // The tunnel's reader consumes everything it is given (the WebSocket decoder keeps its own
    // partial-frame state), so the whole buffer is handed over and consumed.
    if (t_->on_data_) {
        auto fn = t_->on_data_;  // the callback may replace itself
        fn(in.readable());
    }
    in.consume(in.size());
}

void h1_tunnel_handler::on_drain(net::connection&) {
    if (t_->on_drain_) {
        auto fn = t_->on_drain_;
        fn();
    }
}

net::timeout_action h1_tunnel_handler::on_timeout(net::connection&, net::timeout_kind) {
    // Only the write timeout is left (the idle timeout is off, see on_open): the peer stopped
    // reading what the tunnelled protocol sends.
    return net::timeout_action::close;
}

void h1_tunnel_handler::begin_shutdown(net::connection& c) {
    if (!t_->on_shutdown_) {
        c.close(net::close_mode::graceful);
        return;
    }
    auto fn = t_->on_shutdown_;  // the callback may clear itself
    fn();
}

void h1_tunnel_handler::on_close(net::connection&, net::close_reason) {
    t_->conn_ = nullptr;
    t_->on_shutdown_ = nullptr;
    auto fn = std::move(t_->on_close_);
    t_->on_close_ = nullptr;
    t_->on_data_ = nullptr;
    t_->on_drain_ = nullptr;
    if (fn) fn();
}

}  // namespace sy::session
