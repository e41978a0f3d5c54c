// Per-loop rate windows for limits.connection_rate_per_ip and limits.publish_rate (docs/auth.md).
// Private to src/server.
//
// A fixed one-second window per key (an IP for connections, the peer's "ip:port" for a
// connection's publishes: one TCP connection, whatever protocol runs on it). Each loop keeps
// its own table (a loop slot, no lock): with several loops a client's connections spread over
// them, so the connection limit holds per loop. The table is pruned of windows older than a
// second once it grows past a bound, so it stays small under churn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchyard/hub/sublist.hpp"

namespace sy::server {

class rate_windows {
  public:
    /// Counts one event for key at now_ms; false when it is over `per_second` in the current
    /// window (retry_after_s: seconds until the window ends, at least 1). per_second 0: off.
    bool allow(std::string_view key, std::int64_t now_ms, std::uint64_t per_second,
               std::int64_t& retry_after_s);

  private:
    struct window {
        std::int64_t start_ms = 0;
        std::uint64_t count = 0;
    };
    void prune(std::int64_t now_ms);
    std::unordered_map<std::string, window, hub::string_hash, std::equal_to<>> windows_;
    std::size_t prune_at_ = 4096;
};

/// A loop's tables and the limits they apply (a loop slot, set when the loop starts).
struct rate_tables {
    std::uint64_t connection_rate_per_ip = 0;  // limits.connection_rate_per_ip
    std::uint64_t publish_rate = 0;            // limits.publish_rate
    rate_windows connections;                  // per IP
    rate_windows publishes;                    // per connection (peer ip:port)
};

/// limits.publish_rate for one client publish from `peer` (request::remote_address, the
/// WebSocket's), on the calling loop: true when allowed; retry_after_s for the 429.
bool publish_rate_ok(std::string_view peer, std::int64_t& retry_after_s);

}  // namespace sy::server
