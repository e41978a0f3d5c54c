// The runtime's metric families (connections, HTTP, listeners, loops, TLS), registered once in
// the runtime's registry (base/metrics.hpp), and the JSON of /debug/listeners. Counters are per
// loop, written by their loop only; the registry sums them when scraped (any thread may read a
// core::counter).
#include <fmt/format.h>

#include "switchyard/base/json.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/proto/http1/errors.hpp"
#include "switchyard/proto/http2/common.hpp"
#include "switchyard/rpc/call_stats.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/gateway.hpp"

namespace sy::server {

namespace {

using metrics::kind;

/// Sum of get(loop) over the runtime's loops.
template <typename Get>
std::uint64_t sum_loops(runtime& rt, Get get) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) s += get(rt.loop_at(i));
    return s;
}

/// A per-loop family read from loop_state (summed, or labelled by loop).
template <typename Get>
void per_loop(runtime& rt, metrics::family_spec spec, Get get, bool by_loop) {
    rt.metrics().add_per_loop(
        std::move(spec), [&rt] { return rt.loop_count(); },
        [&rt, get](std::size_t i) -> std::uint64_t { return get(rt.loop_at(i)); }, by_loop);
}

void add_connections(runtime& rt) {
    auto& m = rt.metrics();
    m.add_value({"sy_connections_accepted_total",
                 kind::counter,
                 "Connections accepted from the listen queue.",
                 {},
                 false},
                [&rt] { return rt.accepted_total(); });
    m.add_value({"sy_connections_refused_total",
                 kind::counter,
                 "Connections refused with 503 because limits.max_connections were open.",
                 {},
                 false},
                [&rt] { return rt.refused_total(); });
    per_loop(
        rt,
        {"sy_connections_opened_total", kind::counter, "Connections opened (per loop).", {}, false},
        [](loop_state& l) { return l.io.opened.get(); }, true);
    per_loop(
        rt, {"sy_connections_closed_total", kind::counter, "Connections closed.", {}, false},
        [](loop_state& l) { return l.io.closed.get(); }, false);
    m.add_value({"sy_connections_open", kind::gauge, "Connections open now.", {}, false},
                [&rt] { return rt.connection_limit().current(); });
    m.add_value({"sy_connections_max",
                 kind::gauge,
                 "Connection limit (limits.max_connections).",
                 {},
                 false},
                [&rt] { return rt.connection_limit().max(); });
}

void add_http(runtime& rt) {
    auto& m = rt.metrics();
    m.add({"sy_http_requests_total",
           kind::counter,
           "HTTP requests answered, by status code.",
           {"code"},
           false},
          [&rt](metrics::emitter& e) {
              for (int code = 100; code < 600; ++code) {
                  const std::uint64_t n = sum_loops(rt, [code](loop_state& l) {
                      return l.http ? l.http->counters().by_status[code].get() : 0;
                  });
                  if (n) e.add({std::to_string(code)}, n);
              }
          });
    m.add({"sy_http_parse_errors_total",
           kind::counter,
           "HTTP/1.1 requests rejected, by parse error.",
           {"kind"},
           false},
          [&rt](metrics::emitter& e) {
              for (std::size_t k = 1; k < static_cast<std::size_t>(http1::error::count_); ++k) {
                  const std::uint64_t n = sum_loops(rt, [k](loop_state& l) {
                      return l.http ? l.http->counters().parse_errors[k].get() : 0;
                  });
                  if (n) e.add({http1::to_string(static_cast<http1::error>(k))}, n);
              }
          });
    m.add({"sy_http_timeouts_total",
           kind::counter,
           "Timeouts by phase (408, or a silent close).",
           {"phase"},
           false},
          [&rt](metrics::emitter& e) {
              e.add({"header"}, sum_loops(rt, [](loop_state& l) {
                        return l.http ? l.http->counters().header_timeouts.get() : 0;
                    }));
              e.add({"body"}, sum_loops(rt, [](loop_state& l) {
                        return l.http ? l.http->counters().body_timeouts.get() : 0;
                    }));
          });
    per_loop(
        rt, {"sy_bytes_received_total", kind::counter, "Bytes read from clients.", {}, false},
        [](loop_state& l) { return l.io.bytes_in.get(); }, false);
    per_loop(
        rt, {"sy_bytes_sent_total", kind::counter, "Bytes written to clients.", {}, false},
        [](loop_state& l) { return l.io.bytes_out.get(); }, false);
}

/// Each listening socket's queue, as depth (which_limit false) or limit.
void listen_queues(runtime& rt, metrics::emitter& e, bool which_limit) {
    for (const auto& l : rt.listeners()) {
        for (std::size_t s = 0; s < l.fds.size(); ++s) {
            auto q = net::listen_queue(l.fds[s]);
            if (q) e.add({l.address, std::to_string(s)}, which_limit ? q->limit : q->length);
        }
    }
}

void add_listeners(runtime& rt) {
    auto& m = rt.metrics();
    m.add({"sy_listener_accept_queue_depth",
           kind::gauge,
           "Connections completed by the kernel, waiting for accept() (TCP_INFO tcpi_unacked).",
           {"listener", "socket"},
           false},
          [&rt](metrics::emitter& e) { listen_queues(rt, e, false); });
    m.add({"sy_listener_accept_queue_limit",
           kind::gauge,
           "Accept queue limit (the effective backlog).",
           {"listener", "socket"},
           false},
          [&rt](metrics::emitter& e) { listen_queues(rt, e, true); });
    m.add({"sy_host_listen_overflows_total",
           kind::counter,
           "TcpExt ListenOverflows (host-wide): accept queue full, handshakes dropped.",
           {},
           true},
          [](metrics::emitter& e) {
              if (auto h = net::host_listen_stats()) e.add(h->listen_overflows);
          });
    m.add(
        {"sy_host_listen_drops_total", kind::counter, "TcpExt ListenDrops (host-wide).", {}, true},
        [](metrics::emitter& e) {
            if (auto h = net::host_listen_stats()) e.add(h->listen_drops);
        });
}

/// A per-loop figure in nanoseconds, rendered in seconds with a loop label.
template <typename Get>
void loop_seconds(runtime& rt, metrics::family_spec spec, Get get) {
    spec.labels = {"loop"};
    rt.metrics().add(std::move(spec), [&rt, get](metrics::emitter& e) {
        for (std::size_t i = 0; i < rt.loop_count(); ++i) {
            e.add_seconds({std::to_string(i)}, get(rt.loop_at(i).loop->stats()) / 1e9);
        }
    });
}

void add_loops(runtime& rt) {
    using st = core::loop_stats;
    loop_seconds(
        rt,
        {"sy_loop_lag_seconds", kind::gauge, "How late the loop's last timer fired.", {}, false},
        [](const st& s) { return s.timer_lag_last_ns.get(); });
    loop_seconds(
        rt, {"sy_loop_lag_max_seconds", kind::gauge, "Largest timer lag since start.", {}, false},
        [](const st& s) { return s.timer_lag_max_ns.get(); });
    loop_seconds(rt,
                 {"sy_loop_busy_seconds_total",
                  kind::counter,
                  "Time each loop spent working (not waiting).",
                  {},
                  false},
                 [](const st& s) { return s.busy_ns.get(); });
    auto& m = rt.metrics();
    m.add_value(
        {"sy_pool_queued", kind::gauge, "Blocking jobs waiting for a pool thread.", {}, false},
        [&rt] { return rt.pool().queued(); });
    m.add_value(
        {"sy_pool_rejected_total", kind::counter, "Blocking jobs refused (queue full).", {}, false},
        [&rt] { return rt.pool().rejected(); });
}

// TLS (https listeners): per-loop tls_loop_counters summed here; reloads are process-wide. The
// families are left out without tls.listen.
void add_tls(runtime& rt) {
    auto& m = rt.metrics();
    m.add({"sy_tls_handshakes_total",
           kind::counter,
           "TLS handshakes completed, by protocol version and negotiated ALPN.",
           {"version", "alpn"},
           true},
          [&rt](metrics::emitter& e) {
              if (!rt.tls()) return;
              static constexpr const char* versions[] = {"TLSv1.2", "TLSv1.3"};
              static constexpr const char* alpns[] = {"h2", "http/1.1", "none"};
              for (int v = 0; v < 2; ++v) {
                  for (int a = 0; a < 3; ++a) {
                      e.add({versions[v], alpns[a]}, sum_loops(rt, [v, a](loop_state& l) {
                                return l.tls.handshakes[v][a].get();
                            }));
                  }
              }
          });
    m.add({"sy_tls_handshake_failures_total",
           kind::counter,
           "TLS handshakes failed, by reason.",
           {"reason"},
           true},
          [&rt](metrics::emitter& e) {
              if (!rt.tls()) return;
              for (std::size_t f = 0; f < static_cast<std::size_t>(net::tls_failure::count_); ++f) {
                  e.add({net::to_string(static_cast<net::tls_failure>(f))},
                        sum_loops(rt, [f](loop_state& l) { return l.tls.failures[f].get(); }));
              }
          });
    m.add({"sy_tls_resumptions_total",
           kind::counter,
           "TLS handshakes that resumed a session from a ticket.",
           {},
           true},
          [&rt](metrics::emitter& e) {
              if (rt.tls()) e.add(sum_loops(rt, [](loop_state& l) { return l.tls.resumed.get(); }));
          });
    m.add({"sy_tls_connections_open",
           kind::gauge,
           "TLS connections open now (handshake done).",
           {},
           true},
          [&rt](metrics::emitter& e) {
              if (!rt.tls()) return;
              // Ended first: established >= ended at every instant, so no negative difference.
              const std::uint64_t ended =
                  sum_loops(rt, [](loop_state& l) { return l.tls.ended.get(); });
              const std::uint64_t est =
                  sum_loops(rt, [](loop_state& l) { return l.tls.established.get(); });
              e.add(est >= ended ? est - ended : 0);
          });
    m.add({"sy_tls_reloads_total",
           kind::counter,
           "Certificate reloads on SIGHUP, by result (failed: the current set was kept).",
           {"result"},
           true},
          [&rt](metrics::emitter& e) {
              const net::tls_server* tls = rt.tls();
              if (!tls) return;
              e.add({"ok"}, tls->reloads().ok.load(std::memory_order_relaxed));
              e.add({"failed"}, tls->reloads().failed.load(std::memory_order_relaxed));
          });
}

// gRPC: calls by method and status, from each loop's call_counters (rpc/call_stats.hpp). Only
// non-zero series are listed: label values come from the installed methods, plus "unknown".
void add_grpc(runtime& rt) {
    rt.metrics().add(
        {"sy_grpc_calls_total",
         kind::counter,
         "gRPC calls ended, by service, method and status code.",
         {"service", "method", "code"},
         false},
        [&rt](metrics::emitter& e) {
            const auto names = rpc::method_names();
            for (unsigned m = 0; m < names.size(); ++m) {
                for (std::size_t c = 0; c < rpc::status_codes; ++c) {
                    const auto code = static_cast<grpc::status_code>(c);
                    const std::uint64_t n = sum_loops(rt, [m, code](loop_state& l) {
                        const auto* cc = l.loop ? rpc::counters_of(*l.loop) : nullptr;
                        return cc ? cc->get(m, code) : 0;
                    });
                    if (n) {
                        e.add({names[m].service, names[m].method, grpc::to_string(code)}, n);
                    }
                }
            }
        });
}

/// One h2 figure by direction and error code: received and sent slots of frame_counters.
void h2_by_code(runtime& rt, metrics::family_spec spec,
                http2::frame_counters::slots http2::frame_counters::*rx,
                http2::frame_counters::slots http2::frame_counters::*tx) {
    spec.labels = {"direction", "code"};
    rt.metrics().add(std::move(spec), [&rt, rx, tx](metrics::emitter& e) {
        for (auto [dir, slots] : {std::pair{"received", rx}, std::pair{"sent", tx}}) {
            for (std::size_t c = 0; c < http2::error_code_slots; ++c) {
                const std::uint64_t n = sum_loops(rt, [c, slots = slots](loop_state& l) {
                    return l.http
                               ? (l.http->counters().h2.*slots)[c].load(std::memory_order_relaxed)
                               : 0;
                });
                if (n) e.add({dir, http2::error_code_slot_name(c)}, n);
            }
        }
    });
}

// HTTP/2: streams and the RST_STREAM / GOAWAY frames of every h2 session (h2c, TLS, gRPC).
void add_h2(runtime& rt) {
    using fc = http2::frame_counters;
    auto total = [&rt](std::atomic<std::uint64_t> fc::*f) {
        return sum_loops(rt, [f](loop_state& l) {
            return l.http ? (l.http->counters().h2.*f).load(std::memory_order_relaxed) : 0;
        });
    };
    auto& m = rt.metrics();
    m.add_value({"sy_h2_streams_opened_total",
                 kind::counter,
                 "HTTP/2 streams opened by clients.",
                 {},
                 false},
                [total] { return total(&fc::streams_opened); });
    m.add_value({"sy_h2_streams_open", kind::gauge, "HTTP/2 streams open now.", {}, false},
                [total] {
                    // Closed first: opened >= closed at every instant (see
                    // sy_tls_connections_open).
                    const std::uint64_t closed = total(&fc::streams_closed);
                    const std::uint64_t opened = total(&fc::streams_opened);
                    return opened >= closed ? opened - closed : 0;
                });
    h2_by_code(rt,
               {"sy_h2_resets_total",
                kind::counter,
                "HTTP/2 RST_STREAM frames by direction and error code (RFC 9113 7).",
                {},
                false},
               &fc::rst_received, &fc::rst_sent);
    h2_by_code(rt,
               {"sy_h2_goaways_total",
                kind::counter,
                "HTTP/2 GOAWAY frames by direction and error code (RFC 9113 7).",
                {},
                false},
               &fc::goaway_received, &fc::goaway_sent);
}

}  // namespace

// Datagram endpoints (runtime::add_datagram_route): every endpoint socket of a loop adds to that
// loop's udp counters, so these are sums over loops like the connection counters.
void add_udp(runtime& rt) {
    per_loop(
        rt,
        {"sy_udp_datagrams_received_total",
         kind::counter,
         "Datagrams received on datagram endpoints (a GRO train counts each datagram).",
         {},
         false},
        [](loop_state& l) { return l.udp.rx_datagrams.get(); }, false);
    per_loop(
        rt,
        {"sy_udp_datagrams_sent_total",
         kind::counter,
         "Datagrams sent from datagram endpoints (a GSO train counts each datagram).",
         {},
         false},
        [](loop_state& l) { return l.udp.tx_datagrams.get(); }, false);
    per_loop(
        rt,
        {"sy_udp_recvmmsg_total",
         kind::counter,
         "recvmmsg calls that returned datagrams.",
         {},
         false},
        [](loop_state& l) { return l.udp.rx_batches.get(); }, false);
    per_loop(
        rt,
        {"sy_udp_gro_trains_total",
         kind::counter,
         "GRO trains received (UDP_GRO) and split.",
         {},
         false},
        [](loop_state& l) { return l.udp.rx_gro_trains.get(); }, false);
    per_loop(
        rt, {"sy_udp_gso_trains_total", kind::counter, "GSO trains sent (UDP_SEGMENT).", {}, false},
        [](loop_state& l) { return l.udp.tx_gso_trains.get(); }, false);
    per_loop(
        rt,
        {"sy_udp_forwarded_total",
         kind::counter,
         "Datagrams handed over from the loop that received them to the loop owning their flow.",
         {},
         false},
        [](loop_state& l) { return l.udp.rx_forwarded.get(); }, false);
    rt.metrics().add(
        {"sy_udp_dropped_total",
         kind::counter,
         "Datagrams dropped by the endpoints: empty, unclaimed first byte, truncated "
         "on receive, send queue full, send error.",
         {"reason"},
         false},
        [&rt](metrics::emitter& e) {
            auto sum = [&rt](auto get) { return sum_loops(rt, get); };
            e.add({"empty"}, sum([](loop_state& l) { return l.udp.rx_empty.get(); }));
            e.add({"unclaimed"}, sum([](loop_state& l) { return l.udp.rx_unclaimed.get(); }));
            e.add({"truncated"}, sum([](loop_state& l) { return l.udp.rx_truncated.get(); }));
            e.add({"send_queue"}, sum([](loop_state& l) { return l.udp.tx_dropped.get(); }));
            e.add({"send_error"}, sum([](loop_state& l) { return l.udp.tx_errors.get(); }));
        });
}

void register_runtime_metrics(runtime& rt) {
    add_udp(rt);
    add_connections(rt);
    add_http(rt);
    add_listeners(rt);
    add_loops(rt);
    add_tls(rt);
    add_grpc(rt);
    add_h2(rt);
}

std::string render_metrics(runtime& rt, metrics::scope sc) {
    return rt.metrics().prometheus(sc);
}

std::string render_listeners_json(runtime& rt) {
    std::string out;
    json::writer w(out);
    w.begin_object().key("listeners").begin_array();
    for (const auto& l : rt.listeners()) {
        w.begin_object().member("scheme", l.scheme).member("address", l.address);
        w.member("transport", l.transport);
        if (l.transport == "udp") {  // no accept queue: the sockets of the address
            w.key("sockets").begin_array();
            for (int fd : l.fds) w.begin_object().member("fd", fd).end_object();
            w.end_array().end_object();
            continue;
        }
        w.member("backlog", l.backlog).key("sockets").begin_array();
        for (int fd : l.fds) {
            auto q = net::listen_queue(fd);
            w.begin_object()
                .member("accept_queue_depth", std::uint64_t{q ? q->length : 0})
                .member("accept_queue_limit", std::uint64_t{q ? q->limit : 0})
                .end_object();
        }
        w.end_array().end_object();
    }
    w.end_array();
    if (auto h = net::host_listen_stats()) {
        w.key("host")
            .begin_object()
            .member("listen_overflows", std::uint64_t{h->listen_overflows})
            .member("listen_drops", std::uint64_t{h->listen_drops})
            .end_object();
    }
    w.end_object();
    return out;
}

}  // namespace sy::server
