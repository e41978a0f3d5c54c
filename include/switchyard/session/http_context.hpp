// Per-loop state shared by every HTTP session on that loop: options, the router, the cached
// Date, counters for /metrics, and a pool of per-exchange objects (parser, request) so an idle
// keep-alive connection holds none of them.
//
// Thread: one http_context per loop, used only on that loop's thread. The router is shared by
// every loop (read-only after start-up), so handlers may run on several loops at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/http/router.hpp"
#include "switchyard/proto/http1/errors.hpp"
#include "switchyard/proto/http1/message.hpp"
#include "switchyard/proto/http1/request_parser.hpp"
#include "switchyard/proto/http1/serializer.hpp"
#include "switchyard/proto/http2/common.hpp"

namespace sy::session {

struct http_options {
    http1::limits limits;
    millis header_timeout{10000};  ///< the whole head must arrive within (slowloris)
    millis body_timeout{30000};    ///< max pause between body bytes
    millis idle_timeout{60000};    ///< keep-alive connection with nothing in flight
    bool access_log = false;
    /// Alt-Svc value the h1 and h2 sessions add to every response head when not empty
    /// (RFC 7838: `h3=":8443"; ma=86400` once HTTP/3 is on).
    std::string alt_svc;
};

/// Counters one loop's HTTP sessions write (the metrics endpoint sums loops).
struct http_counters {
    core::counter requests;
    std::array<core::counter, 600> by_status;  ///< index = status code
    std::array<core::counter, static_cast<std::size_t>(http1::error::count_)> parse_errors;
    core::counter header_timeouts;
    core::counter body_timeouts;
    core::counter upgrades;
    core::counter h2c_switches;
    core::counter active;      ///< sessions open now (gauge)
    http2::frame_counters h2;  ///< this loop's h2 sessions: streams, RST_STREAM, GOAWAY
};

/// What one request in flight needs; pooled per loop.
struct http1_exchange {
    explicit http1_exchange(const http1::limits& l) : parser(l) {}
    http1::request_parser parser;
    http::request request;
    /// The response sink last used with this exchange, reused when no handle outlived it.
    std::shared_ptr<http::response_sink> sink;
};

class http_context {
  public:
    http_context(core::loop& l, const http_options& o, const http::router& r);
    http_context(const http_context&) = delete;
    http_context& operator=(const http_context&) = delete;
    ~http_context();

    core::loop& owner_loop() const { return loop_; }
    const http_options& options() const { return opts_; }
    const http::router& router() const { return router_; }
    /// Refreshed once a second by a loop timer.
    const http1::date_cache& date() const { return date_; }
    http_counters& counters() { return counters_; }
    const http_counters& counters() const { return counters_; }

    /// Scratch space for serializing a response head (loop thread; contents are transient).
    byte_buffer& scratch() { return scratch_; }

    std::unique_ptr<http1_exchange> acquire_exchange();
    void release_exchange(std::unique_ptr<http1_exchange> x);

  private:
    void tick();

    core::loop& loop_;
    const http_options& opts_;
    const http::router& router_;
    http1::date_cache date_;
    http_counters counters_;
    byte_buffer scratch_;
    std::vector<std::unique_ptr<http1_exchange>> pool_;
    core::timer_id date_timer_{};
};

}  // namespace sy::session
