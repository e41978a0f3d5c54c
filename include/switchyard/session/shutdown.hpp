// graceful_shutdown: the one shutdown notification every session kind subscribes to. The server
// closes its listeners and calls begin_shutdown on every connection when it receives SIGTERM,
// then closes what is left after limits.shutdown_grace_ms. Each handler ends its protocol's way:
// HTTP/1.1 finishes the response in flight with Connection: close, h2 sends GOAWAY(NO_ERROR)
// and finishes its streams, WebSocket sends close 1001, SSE ends the stream, AMQP sends
// connection.close 320 CONNECTION_FORCED. HTTP sessions pass the notification on to the
// exchange in flight (http::response::on_shutdown, http::byte_tunnel::set_on_shutdown), so what
// a handler holds open (long poll, gRPC stream) answers at once.
#pragma once

#include "switchyard/net/connection.hpp"

namespace sy::session {

class graceful_shutdown {
  public:
    /// Loop thread. Finish the exchange in flight (if any), then close.
    virtual void begin_shutdown(net::connection& c) = 0;

  protected:
    ~graceful_shutdown() = default;
};

/// Calls begin_shutdown on c's handler when it supports it; otherwise closes c gracefully.
void shutdown_connection(net::connection& c);

}  // namespace sy::session
