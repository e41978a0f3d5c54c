// Per-topic policies: slow-subscriber policy and output cap, history bounds. A small table of
// rules (pattern -> overrides), first match wins, resolved once per topic.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/result.hpp"

namespace sy::hub {

/// What happens when a subscriber's output queue reaches its cap. The session enforces the cap
/// on its own queue; the hub holds the policy, the counters, and the block_publisher state.
enum class slow_policy : std::uint8_t {
    drop_oldest,      // the session drops its oldest queued messages (count_drop)
    disconnect,       // the session closes the subscriber (count_disconnect)
    block_publisher,  // the session marks itself over cap; publishes to the topic are rejected
};
std::string_view to_string(slow_policy p);
/// "drop-oldest" | "disconnect" | "block-publisher" (also accepts '_' for '-').
std::optional<slow_policy> parse_slow_policy(std::string_view s);

struct topic_policy {
    slow_policy slow = slow_policy::drop_oldest;
    std::uint64_t output_cap_bytes = 1 << 20;
    std::uint64_t history_count = 1000;         // messages kept per topic (0: none)
    std::int64_t history_age_ms = 3600 * 1000;  // older messages are evicted (0: no age limit)
};

/// One row of the policy table; unset fields inherit the hub defaults.
struct topic_rule {
    std::string pattern;  // a valid pattern (validated by the hub constructor)
    std::optional<slow_policy> slow;
    std::optional<std::uint64_t> output_cap_bytes;
    std::optional<std::uint64_t> history_count;
    std::optional<std::int64_t> history_age_ms;
};

/// Counters summed over shards (see hub::counters()).
struct policy_counters {
    std::uint64_t drops = 0;                 // messages dropped by drop_oldest subscribers
    std::uint64_t disconnects = 0;           // subscribers closed by the disconnect policy
    std::uint64_t publisher_rejections = 0;  // publishes rejected by block_publisher
};

}  // namespace sy::hub
