// connector: a non-blocking TCP connect on a loop, optionally from a chosen source address, that
// hands the connected fd to a callback (which typically wraps it in net::connection::create).
//
// Why a source address: one (source IP, destination) pair has ~28k ephemeral ports; binding
// subscribers round robin to 127.0.0.2..127.0.0.254 (IP_BIND_ADDRESS_NO_PORT, so the port is
// picked at connect time with the full 4-tuple) lets one machine open 100k+ loopback connections.
//
// Thread: loop thread only. Lifetime: the connector owns itself and frees itself (deferred, see
// loop.hpp) right after calling done exactly once: done(fd, 0) with a connected non-blocking fd
// the callee now owns, or done(-1, errno) on failure (ETIMEDOUT after the timeout).
#pragma once

#include <functional>

#include "switchyard/base/clock.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"

namespace sy::bench {

using connect_done = std::function<void(int fd, int err)>;

/// Starts a connect to dst (from src when src is not null). done may run inside this call (an
/// immediate failure) or later on the loop.
void async_connect(core::loop& l, const net::address& dst, const net::address* src, millis timeout,
                   connect_done done);

}  // namespace sy::bench
