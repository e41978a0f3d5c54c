// h1_tunnel: the byte stream an HTTP/1.1 connection becomes after a 101 upgrade (WebSocket).
// The connection owns an h1_tunnel_handler (its protocol strategy); the upgrading code holds the
// shared h1_tunnel (http::byte_tunnel) and reads/writes through it. When the connection closes
// the tunnel turns closed and its on_close callback runs once.
//
// Thread: the connection's loop only.
#pragma once

#include <functional>
#include <memory>

#include "switchyard/http/response.hpp"
#include "switchyard/net/connection.hpp"

namespace sy::session {

class h1_tunnel final : public http::byte_tunnel {
  public:
    explicit h1_tunnel(net::connection& c) : conn_(&c) {}

    http::write_status write(byte_view bytes) override;
    http::write_status write(shared_bytes bytes) override;
    void close() override;
    void reset() override;
    bool is_open() const override { return conn_ != nullptr && conn_->is_open(); }
    std::size_t queued_bytes() const override { return conn_ ? conn_->queued_bytes() : 0; }
    void set_on_data(std::function<void(byte_view)> fn) override { on_data_ = std::move(fn); }
    void set_on_close(std::function<void()> fn) override { on_close_ = std::move(fn); }
    void set_on_drain(std::function<void()> fn) override { on_drain_ = std::move(fn); }

    net::connection* connection() const { return conn_; }

  private:
    friend class h1_tunnel_handler;
    http::write_status status() const;

    net::connection* conn_;
    std::function<void(byte_view)> on_data_;
    std::function<void()> on_close_;
    std::function<void()> on_drain_;
};

class h1_tunnel_handler final : public net::connection_handler {
  public:
    explicit h1_tunnel_handler(std::shared_ptr<h1_tunnel> t) : t_(std::move(t)) {}
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void on_close(net::connection& c, net::close_reason r) override;

  private:
    std::shared_ptr<h1_tunnel> t_;
};

}  // namespace sy::session
