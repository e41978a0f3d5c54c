// Prometheus text for /metrics and JSON for /debug/listeners. Counters are per loop, written by
// their loop only; this sums them when scraped (any thread may read a core::counter).
#include <fmt/format.h>

#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/proto/http1/errors.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/gateway.hpp"

namespace sy::server {

namespace {

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename Get>
std::uint64_t sum_loops(runtime& rt, Get get) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) s += get(rt.loop_at(i));
    return s;
}

void render_connections(std::string& out, runtime& rt) {
    metric(out, "sy_connections_accepted_total", "counter",
           "Connections accepted from the listen queue.");
    fmt::format_to(std::back_inserter(out), "sy_connections_accepted_total {}\n",
                   rt.accepted_total());
    metric(out, "sy_connections_refused_total", "counter",
           "Connections refused with 503 because limits.max_connections were open.");
    fmt::format_to(std::back_inserter(out), "sy_connections_refused_total {}\n",
                   rt.refused_total());
    metric(out, "sy_connections_opened_total", "counter", "Connections opened (per loop).");
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        fmt::format_to(std::back_inserter(out), "sy_connections_opened_total{{loop=\"{}\"}} {}\n",
                       i, rt.loop_at(i).io.opened.get());
    }
    metric(out, "sy_connections_closed_total", "counter", "Connections closed.");
    fmt::format_to(std::back_inserter(out), "sy_connections_closed_total {}\n",
                   sum_loops(rt, [](loop_state& l) { return l.io.closed.get(); }));
    metric(out, "sy_connections_open", "gauge", "Connections open now.");
    fmt::format_to(std::back_inserter(out), "sy_connections_open {}\n",
                   rt.connection_limit().current());
    metric(out, "sy_connections_max", "gauge", "Connection limit (limits.max_connections).");
    fmt::format_to(std::back_inserter(out), "sy_connections_max {}\n", rt.connection_limit().max());
}

void render_http(std::string& out, runtime& rt) {
    metric(out, "sy_http_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int code = 100; code < 600; ++code) {
        std::uint64_t n = sum_loops(rt, [code](loop_state& l) {
            return l.http ? l.http->counters().by_status[code].get() : 0;
        });
        if (n)
            fmt::format_to(std::back_inserter(out), "sy_http_requests_total{{code=\"{}\"}} {}\n",
                           code, n);
    }
    metric(out, "sy_http_parse_errors_total", "counter",
           "HTTP/1.1 requests rejected, by parse error.");
    for (std::size_t e = 1; e < static_cast<std::size_t>(http1::error::count_); ++e) {
        std::uint64_t n = sum_loops(rt, [e](loop_state& l) {
            return l.http ? l.http->counters().parse_errors[e].get() : 0;
        });
        if (n) {
            fmt::format_to(std::back_inserter(out),
                           "sy_http_parse_errors_total{{kind=\"{}\"}} {}\n",
                           http1::to_string(static_cast<http1::error>(e)), n);
        }
    }
    metric(out, "sy_http_timeouts_total", "counter", "Timeouts by phase (408, or a silent close).");
    fmt::format_to(std::back_inserter(out), "sy_http_timeouts_total{{phase=\"header\"}} {}\n",
                   sum_loops(rt, [](loop_state& l) {
                       return l.http ? l.http->counters().header_timeouts.get() : 0;
                   }));
    fmt::format_to(std::back_inserter(out), "sy_http_timeouts_total{{phase=\"body\"}} {}\n",
                   sum_loops(rt, [](loop_state& l) {
                       return l.http ? l.http->counters().body_timeouts.get() : 0;
                   }));
    metric(out, "sy_bytes_received_total", "counter", "Bytes read from clients.");
    fmt::format_to(std::back_inserter(out), "sy_bytes_received_total {}\n",
                   sum_loops(rt, [](loop_state& l) { return l.io.bytes_in.get(); }));
    metric(out, "sy_bytes_sent_total", "counter", "Bytes written to clients.");
    fmt::format_to(std::back_inserter(out), "sy_bytes_sent_total {}\n",
                   sum_loops(rt, [](loop_state& l) { return l.io.bytes_out.get(); }));
}

void render_listeners(std::string& out, runtime& rt) {
    metric(out, "sy_listener_accept_queue_depth", "gauge",
           "Connections completed by the kernel, waiting for accept() (TCP_INFO tcpi_unacked).");
    std::string limits;
    for (const auto& l : rt.listeners()) {
        for (std::size_t s = 0; s < l.fds.size(); ++s) {
            auto q = net::listen_queue(l.fds[s]);
            if (!q) continue;
            fmt::format_to(std::back_inserter(out),
                           "sy_listener_accept_queue_depth{{listener=\"{}\",socket=\"{}\"}} {}\n",
                           l.address, s, q->length);
            fmt::format_to(std::back_inserter(limits),
                           "sy_listener_accept_queue_limit{{listener=\"{}\",socket=\"{}\"}} {}\n",
                           l.address, s, q->limit);
        }
    }
    metric(out, "sy_listener_accept_queue_limit", "gauge",
           "Accept queue limit (the effective backlog).");
    out += limits;
    if (auto h = net::host_listen_stats()) {
        metric(out, "sy_host_listen_overflows_total", "counter",
               "TcpExt ListenOverflows (host-wide): accept queue full, handshakes dropped.");
        fmt::format_to(std::back_inserter(out), "sy_host_listen_overflows_total {}\n",
                       h->listen_overflows);
        metric(out, "sy_host_listen_drops_total", "counter", "TcpExt ListenDrops (host-wide).");
        fmt::format_to(std::back_inserter(out), "sy_host_listen_drops_total {}\n", h->listen_drops);
    }
}

void render_loops(std::string& out, runtime& rt) {
    metric(out, "sy_loop_lag_seconds", "gauge", "How late the loop's last timer fired.");
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        fmt::format_to(std::back_inserter(out), "sy_loop_lag_seconds{{loop=\"{}\"}} {:.6f}\n", i,
                       rt.loop_at(i).loop->stats().timer_lag_last_ns.get() / 1e9);
    }
    metric(out, "sy_loop_lag_max_seconds", "gauge", "Largest timer lag since start.");
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        fmt::format_to(std::back_inserter(out), "sy_loop_lag_max_seconds{{loop=\"{}\"}} {:.6f}\n",
                       i, rt.loop_at(i).loop->stats().timer_lag_max_ns.get() / 1e9);
    }
    metric(out, "sy_loop_busy_seconds_total", "counter",
           "Time each loop spent working (not waiting).");
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        fmt::format_to(std::back_inserter(out),
                       "sy_loop_busy_seconds_total{{loop=\"{}\"}} {:.6f}\n", i,
                       rt.loop_at(i).loop->stats().busy_ns.get() / 1e9);
    }
    metric(out, "sy_pool_queued", "gauge", "Blocking jobs waiting for a pool thread.");
    fmt::format_to(std::back_inserter(out), "sy_pool_queued {}\n", rt.pool().queued());
    metric(out, "sy_pool_rejected_total", "counter", "Blocking jobs refused (queue full).");
    fmt::format_to(std::back_inserter(out), "sy_pool_rejected_total {}\n", rt.pool().rejected());
}

// TLS (https listeners): per-loop tls_loop_counters summed here; reloads are process-wide.
void render_tls(std::string& out, runtime& rt) {
    const net::tls_server* tls = rt.tls();
    if (!tls) return;
    auto o = std::back_inserter(out);
    metric(out, "sy_tls_handshakes_total", "counter",
           "TLS handshakes completed, by protocol version and negotiated ALPN.");
    static constexpr const char* versions[] = {"TLSv1.2", "TLSv1.3"};
    static constexpr const char* alpns[] = {"h2", "http/1.1", "none"};
    for (int v = 0; v < 2; ++v) {
        for (int a = 0; a < 3; ++a) {
            fmt::format_to(o, "sy_tls_handshakes_total{{version=\"{}\",alpn=\"{}\"}} {}\n",
                           versions[v], alpns[a], sum_loops(rt, [v, a](loop_state& l) {
                               return l.tls.handshakes[v][a].get();
                           }));
        }
    }
    metric(out, "sy_tls_handshake_failures_total", "counter", "TLS handshakes failed, by reason.");
    for (std::size_t f = 0; f < static_cast<std::size_t>(net::tls_failure::count_); ++f) {
        fmt::format_to(o, "sy_tls_handshake_failures_total{{reason=\"{}\"}} {}\n",
                       net::to_string(static_cast<net::tls_failure>(f)),
                       sum_loops(rt, [f](loop_state& l) { return l.tls.failures[f].get(); }));
    }
    metric(out, "sy_tls_resumptions_total", "counter",
           "TLS handshakes that resumed a session from a ticket.");
    fmt::format_to(o, "sy_tls_resumptions_total {}\n",
                   sum_loops(rt, [](loop_state& l) { return l.tls.resumed.get(); }));
    // Ended first: established >= ended at every instant, so the difference never goes negative.
    const std::uint64_t ended = sum_loops(rt, [](loop_state& l) { return l.tls.ended.get(); });
    const std::uint64_t est = sum_loops(rt, [](loop_state& l) { return l.tls.established.get(); });
    metric(out, "sy_tls_connections_open", "gauge", "TLS connections open now (handshake done).");
    fmt::format_to(o, "sy_tls_connections_open {}\n", est >= ended ? est - ended : 0);
    metric(out, "sy_tls_reloads_total", "counter",
           "Certificate reloads on SIGHUP, by result (failed: the current set was kept).");
    fmt::format_to(o, "sy_tls_reloads_total{{result=\"ok\"}} {}\n",
                   tls->reloads().ok.load(std::memory_order_relaxed));
    fmt::format_to(o, "sy_tls_reloads_total{{result=\"failed\"}} {}\n",
                   tls->reloads().failed.load(std::memory_order_relaxed));
}

}  // namespace

std::string render_metrics(runtime& rt) {
    std::string out;
    out.reserve(8192);
    render_connections(out, rt);
    render_http(out, rt);
    render_listeners(out, rt);
    render_loops(out, rt);
    render_tls(out, rt);
    render_gateway_metrics(out, rt);
    return out;
}

std::string render_listeners_json(runtime& rt) {
    std::string out = "{\"listeners\":[";
    bool first = true;
    for (const auto& l : rt.listeners()) {
        if (!first) out += ',';
        first = false;
        fmt::format_to(std::back_inserter(out),
                       "{{\"scheme\":\"{}\",\"address\":\"{}\",\"backlog\":{},\"sockets\":[",
                       l.scheme, l.address, l.backlog);
        for (std::size_t s = 0; s < l.fds.size(); ++s) {
            auto q = net::listen_queue(l.fds[s]);
            fmt::format_to(std::back_inserter(out),
                           "{}{{\"accept_queue_depth\":{},\"accept_queue_limit\":{}}}",
                           s ? "," : "", q ? q->length : 0, q ? q->limit : 0);
        }
        out += "]}";
    }
    out += "]";
    if (auto h = net::host_listen_stats()) {
        fmt::format_to(std::back_inserter(out),
                       ",\"host\":{{\"listen_overflows\":{},\"listen_drops\":{}}}",
                       h->listen_overflows, h->listen_drops);
    }
    out += "}";
    return out;
}

}  // namespace sy::server
