// connector: an outbound TCP connection made without blocking the loop, with a deadline; and
// backoff, the retry schedule of a client that reconnects (the backplane's Redis links).
//
//   auto c = net::connector::start(loop, addr, millis(2000), std::move(handler), opts,
//       [](result<net::connection*, core::os_error> r) { ... });   // later, on `loop`
//
// The socket is non-blocking from the start (connect(2) answers EINPROGRESS); the loop watches
// it for writability and reads SO_ERROR, as the kernel documents for non-blocking connects. On
// success the fd becomes a net::connection (connection::create) on the same loop, owning the
// handler, whose on_open runs before `done`. On failure (refused, unreachable, the deadline)
// done gets the os_error (ETIMEDOUT for the deadline) and the handler is dropped. With a
// tls_client the connection is a basic_connection<tls_stream> (handshake on its first write),
// else a tcp_connection.
//
// Threads and lifetime: loop thread only. done runs at most once, on the loop, never inside
// start(). Destroying the connector before done ran cancels the attempt (fd closed, timer
// cancelled, done never runs); after done ran, destroying it does nothing. done may destroy the
// connector. Addresses are numeric (net::address): a host name is resolved by the caller, at
// start-up, not here.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/fd.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/tls_client.hpp"

namespace sy::net {

/// Exponential backoff with a ceiling: initial, initial*2, ... up to max; reset() after a
/// success. Plain value type, no clock of its own.
struct backoff {
    millis initial{100};
    millis max{5000};
    millis current{0};
    /// The delay before the next attempt (and doubles the one after it).
    millis next() {
        current = current.count() == 0 ? initial : std::min(max, current * 2);
        return current;
    }
    void reset() { current = millis{0}; }
};

using connect_callback = unique_function<void(result<connection*, core::os_error>)>;

class connector final : private core::io_handler {
  public:
    /// Starts connecting to addr. handler and options as for connection::create (options must
    /// outlive the connection). tls: nullptr for plain TCP; else it must outlive the attempt.
    static std::unique_ptr<connector> start(core::loop& l, const address& addr, millis timeout,
                                            std::unique_ptr<connection_handler> handler,
                                            const connection_options& options,
                                            connect_callback done, const tls_client* tls = nullptr);
    ~connector();
    connector(const connector&) = delete;
    connector& operator=(const connector&) = delete;

    /// True until done ran (or would have: cancelled by destruction).
    bool pending() const { return !finished_; }

  private:
    connector(core::loop& l, std::unique_ptr<connection_handler> h, const connection_options& o,
              connect_callback done)
        : loop_(l), handler_(std::move(h)), options_(o), done_(std::move(done)) {}
    void on_io(std::uint32_t events) override;
    void finish(result<unique_fd, core::os_error> r);
    void stop_watching();

    core::loop& loop_;
    unique_fd fd_;
    std::unique_ptr<connection_handler> handler_;
    const connection_options& options_;
    connect_callback done_;
    const tls_client* tls_ = nullptr;
    core::timer_id timer_{};
    bool registered_ = false;
    bool finished_ = false;
    int early_error_ = 0;  // connect(2) failed at once: reported from a 0 ms timer
};

}  // namespace sy::net
