// h1_tunnel: the byte stream an HTTP/1.1 connection becomes after its upgrade (a 101 for
// WebSocket; a 200 event-stream head delimited by the close for SSE). The connection owns an
// h1_tunnel_handler (its protocol strategy); the upgrading code holds the shared h1_tunnel
// (http::byte_tunnel) and reads/writes through it (session::tunnel_target: the push core's
// HTTP/1.1 transport). When the connection closes the tunnel turns closed and its on_close
// callback runs once. The server's graceful shutdown reaches the tunnel's on_shutdown callback.
// Liveness belongs to the tunnelled protocol (WebSocket ping and idle timeout, SSE heartbeat):
// the connection's idle timeout is switched off when the tunnel takes over.
//
// Thread: the connection's loop only.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "switchyard/http/response.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

class h1_tunnel final : public http::byte_tunnel {
  public:
    explicit h1_tunnel(net::connection& c) : conn_(&c) {}

    http::write_status write(byte_view bytes) override;
    http::write_status write(shared_bytes bytes) override;
    http::write_status write_owned(byte_buffer&& bytes) override;
    void close() override;
    void reset() override;
    bool is_open() const override { return conn_ != nullptr && conn_->is_open(); }
    std::size_t queued_bytes() const override { return conn_ ? conn_->queued_bytes() : 0; }
    void coalesce_writes() override {
        if (conn_) conn_->set_write_coalescing(true);
    }
    void set_on_data(std::function<void(byte_view)> fn) override { on_data_ = std::move(fn); }
    void set_on_close(std::function<void()> fn) override { on_close_ = std::move(fn); }
    void set_on_drain(std::function<void()> fn) override { on_drain_ = std::move(fn); }
    void set_on_shutdown(std::function<void()> fn) override { on_shutdown_ = std::move(fn); }

    net::connection* connection() const { return conn_; }

  private:
    friend class h1_tunnel_handler;
    http::write_status status() const;

    net::connection* conn_;
    std::function<void(byte_view)> on_data_;
    std::function<void()> on_close_;
    std::function<void()> on_drain_;
    std::function<void()> on_shutdown_;
};

class h1_tunnel_handler final : public net::connection_handler, public graceful_shutdown {
  public:
    /// protocol: the tunnelled protocol's label (connection_handler::protocol), a literal.
    explicit h1_tunnel_handler(std::shared_ptr<h1_tunnel> t, std::string_view protocol = "TCP")
        : t_(std::move(t)), protocol_(protocol) {}
    std::string_view protocol() const override { return protocol_; }
    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void on_close(net::connection& c, net::close_reason r) override;
    /// Runs the tunnel's on_shutdown (WebSocket close 1001, SSE end); none: closes gracefully.
    void begin_shutdown(net::connection& c) override;

  private:
    std::shared_ptr<h1_tunnel> t_;
    std::string_view protocol_;
};

}  // namespace sy::session
