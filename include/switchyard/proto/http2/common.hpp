// Types shared by the HTTP/2 server and client sessions (RFC 9113), wrapping libnghttp2.
//
// - header_field: a name/value pair of views. In events the views point into nghttp2's
//   reference-counted header buffers and are valid only during the callback; copy what you keep.
//   When submitting, the session copies names and values before returning.
// - error: why a session failed; error_code_for() is the ONE table mapping each error to the
//   HTTP/2 error code (RFC 9113 7) carried by the GOAWAY the session queues.
// - flood_limit: "at most `count` events per `window`", used for RST_STREAM (rapid reset,
//   CVE-2023-44487), SETTINGS and PING floods. Time comes from the caller (feed(bytes, now)),
//   so the session owns no clock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::http2 {

using stream_id = std::int32_t;
using time_point = std::chrono::steady_clock::time_point;

struct header_field {
    std::string_view name;
    std::string_view value;
};

/// An owned header list, for callers that build headers from temporaries.
using owned_headers = std::vector<std::pair<std::string, std::string>>;

/// HTTP/2 error codes (RFC 9113 7).
enum class error_code : std::uint32_t {
    no_error = 0x0,
    protocol_error = 0x1,
    internal_error = 0x2,
    flow_control_error = 0x3,
    settings_timeout = 0x4,
    stream_closed = 0x5,
    frame_size_error = 0x6,
    refused_stream = 0x7,
    cancel = 0x8,
    compression_error = 0x9,
    connect_error = 0xa,
    enhance_your_calm = 0xb,
    inadequate_security = 0xc,
    http_1_1_required = 0xd,
};
std::string_view to_string(error_code c);

/// Counter slots per error code: one per code RFC 9113 7 defines, the last for any other value.
inline constexpr std::size_t error_code_slots = 15;
inline std::size_t error_code_slot(std::uint32_t code) {
    return code < error_code_slots - 1 ? code : error_code_slots - 1;
}
/// The label of a slot: to_string of its code, "UNKNOWN" for the last.
std::string_view error_code_slot_name(std::size_t slot);

/// Frame counters the sessions of one thread add to (server_settings::counters): written by that
/// thread only (a plain load + store, no locked instruction), readable from any thread (metrics).
struct frame_counters {
    using slots = std::array<std::atomic<std::uint64_t>, error_code_slots>;
    std::atomic<std::uint64_t> streams_opened{0};
    std::atomic<std::uint64_t> streams_closed{0};  ///< open now = opened - closed
    slots rst_received{};
    slots rst_sent{};
    slots goaway_received{};
    slots goaway_sent{};
    static void bump(std::atomic<std::uint64_t>& c) {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
};

/// Why a session stopped accepting input.
enum class error : std::uint8_t {
    none,
    bad_preface,       // first bytes were not the client connection preface (RFC 9113 3.4)
    protocol,          // nghttp2 detected a connection error and queued GOAWAY
    stream_id_reused,  // HEADERS on a lower stream id the client never used (RFC 9113 5.1.1)
    rapid_reset,       // too many RST_STREAM received per window
    settings_flood,    // too many SETTINGS frames per window
    ping_flood,        // too many PING frames per window
    ack_flood,         // nghttp2: too many unsent SETTINGS/PING ACKs (peer does not read)
    bad_upgrade,       // HTTP2-Settings header value invalid (RFC 7540 3.2.1)
    out_of_memory,
    internal,  // a callback failed, or an unexpected nghttp2 error
};
std::string_view to_string(error e);
/// The one table: session error -> HTTP/2 error code of the GOAWAY sent for it.
error_code error_code_for(error e);

enum class feed_outcome : std::uint8_t {
    ok,             // all bytes processed
    goaway_queued,  // connection error: GOAWAY queued; pull_output(), flush, then close
    fatal,          // nothing more can be sent sensibly (OOM, peer not reading): close now
};

struct feed_result {
    feed_outcome outcome = feed_outcome::ok;
    error err = error::none;
};

struct flood_limit {
    std::uint32_t count = 0;  // 0 disables
    std::chrono::milliseconds window{1000};
};

/// Counts events in fixed windows; trips when more than `count` fall in one window.
class flood_counter {
  public:
    explicit flood_counter(flood_limit l = {}) : limit_(l) {}
    /// Records one event at `now`; true when the limit is exceeded.
    bool hit(time_point now);

  private:
    flood_limit limit_;
    time_point window_start_{};
    std::uint32_t seen_ = 0;
};

}  // namespace sy::http2
