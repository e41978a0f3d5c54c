// graceful_shutdown: implemented by connection handlers that can finish what is in flight before
// closing (HTTP sessions finish the current response; WebSockets send close 1001). The server
// calls begin_shutdown on every connection when it receives SIGTERM, then closes what is left
// after the grace period.
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
