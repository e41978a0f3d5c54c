#include "switchyard/server/http3.hpp"

#include <memory>

#include "switchyard/base/json.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/session/h3_session.hpp"

namespace sy::server {

namespace {

// One loop's HTTP/3 state (a loop slot). The counters outlive the server (a late scrape reads
// them); the server is freed by the loop's stop hook, after every QUIC connection closed.
struct h3_slot {
    session::h3_counters counters;
    std::unique_ptr<session::h3_server> srv;
};

session::h3_options options_for(const server_config& cfg) {
    session::h3_options o;
    if (!session::parse_retry_mode(cfg.tls.http3_retry, o.retry))
        throw config_error("tls.http3_retry: expected auto, always or never, got '" +
                           cfg.tls.http3_retry + "'");
    o.retry_threshold = cfg.tls.http3_retry_threshold;
    o.retry_rate = cfg.tls.http3_retry_rate;
    o.max_handshakes = cfg.tls.http3_max_handshakes;
    o.quic.max_streams_bidi = cfg.tls.http3_max_streams;
    o.quic.idle_timeout_ms = cfg.tls.http3_idle_timeout_ms;
    o.quic.handshake_timeout_ms = cfg.tls.handshake_timeout_ms;
    o.quic.max_header_bytes = cfg.limits.max_header_bytes;
    o.high_watermark = cfg.limits.output_high_water;
    o.low_watermark = cfg.limits.output_low_water;
    return o;
}

std::shared_ptr<http3::server_tls> load_tls(const server_config& cfg) {
    if (cfg.tls.cert.empty() || cfg.tls.key.empty())
        throw config_error("tls.http3: needs tls.cert and tls.key");
    std::vector<http3::server_tls::certificate> sni;
    for (const auto& spec : cfg.tls.sni) {
        net::tls_certificate c;
        if (!net::parse_sni_spec(spec, c))
            throw config_error("tls.sni: expected NAME:CERT:KEY, got '" + spec + "'");
        sni.push_back({c.cert_file, c.key_file});
    }
    auto t = http3::server_tls::load({cfg.tls.cert, cfg.tls.key}, sni);
    if (!t) throw config_error(t.error());
    return std::shared_ptr<http3::server_tls>(std::move(*t));
}

template <typename Get>
void quic_family(runtime& rt, const char* name, metrics::kind k, const char* help, Get get) {
    rt.metrics().add_per_loop(
        {name, k, help, {}, false}, [&rt] { return rt.loop_count(); },
        [&rt, get](std::size_t i) -> std::uint64_t {
            auto* s = rt.loop_at(i).loop->slot<h3_slot>();
            return s ? get(s->counters) : 0;
        },
        false);
}

using h3c = session::h3_counters;

// The QUIC families of /metrics; the management API's overview reports the same list
// (write_quic_overview), so a figure is named once.
struct quic_metric {
    const char* name;
    metrics::kind k;
    const char* help;
    std::uint64_t (*get)(const h3c&);
};

const quic_metric k_quic_metrics[] = {
    {"sy_quic_connections_total", metrics::kind::counter, "QUIC connections accepted.",
     [](const h3c& x) { return x.connections.get(); }},
    {"sy_quic_connections_open", metrics::kind::gauge, "QUIC connections open now.",
     [](const h3c& x) { return x.open.get(); }},
    {"sy_quic_handshakes_total", metrics::kind::counter, "QUIC handshakes completed.",
     [](const h3c& x) { return x.handshakes.get(); }},
    {"sy_quic_retries_total", metrics::kind::counter, "Retry packets sent.",
     [](const h3c& x) { return x.retries.get(); }},
    {"sy_quic_refused_total", metrics::kind::counter,
     "Initials dropped: connection or handshake limit, or shutting down.",
     [](const h3c& x) { return x.refused.get(); }},
    {"sy_quic_packets_received_total", metrics::kind::counter, "QUIC packets received.",
     [](const h3c& x) { return x.packets_in.get(); }},
    {"sy_quic_packets_sent_total", metrics::kind::counter, "QUIC packets sent.",
     [](const h3c& x) { return x.packets_out.get(); }},
    {"sy_quic_packets_lost_total", metrics::kind::counter,
     "Packets with stream data declared lost (counted when a connection closes).",
     [](const h3c& x) { return x.lost.get(); }},
    {"sy_quic_migrations_total", metrics::kind::counter,
     "Validated moves of a client to a new address.",
     [](const h3c& x) { return x.migrations.get(); }},
    {"sy_quic_forwarded_total", metrics::kind::counter,
     "Packets that reached a loop other than their connection's and were handed on.",
     [](const h3c& x) { return x.forwarded.get(); }},
    {"sy_quic_stateless_resets_total", metrics::kind::counter, "Stateless resets sent.",
     [](const h3c& x) { return x.stateless_resets.get(); }},
    {"sy_quic_dropped_total", metrics::kind::counter,
     "QUIC datagrams dropped: unparsable, bad token, not an Initial.",
     [](const h3c& x) { return x.dropped.get(); }},
    {"sy_quic_rtt_microseconds", metrics::kind::gauge,
     "Smoothed RTT of the last QUIC connection that closed (summed over loops).",
     [](const h3c& x) { return x.rtt_us.get(); }},
};

void add_metrics(runtime& rt) {
    for (const auto& m : k_quic_metrics) quic_family(rt, m.name, m.k, m.help, m.get);
}

}  // namespace

void write_quic_overview(runtime& rt, json::writer& w) {
    if (!rt.metrics().contains(k_quic_metrics[0].name)) return;  // tls.http3 is off
    constexpr std::string_view prefix = "sy_quic_";
    w.key("quic").begin_object();
    for (const auto& m : k_quic_metrics) {
        std::uint64_t sum = 0;
        rt.metrics().collect(m.name, [&sum](const auto&, metrics::value v) { sum += v.n; });
        std::string_view key = std::string_view(m.name).substr(prefix.size());
        w.member(key, sum);
    }
    w.end_object();
}

void install_http3(runtime& rt, const server_config& cfg) {
    auto tls = load_tls(cfg);
    const session::h3_options opts = options_for(cfg);
    runtime* r = &rt;
    rt.on_loop_start([r, tls, opts](loop_state& ls) {
        auto& slot = ls.loop->emplace_slot<h3_slot>();
        session::h3_options o = opts;  // prefork: this child's members of the reuseport group
        o.cid_base = static_cast<std::uint8_t>(r->process_index() * r->loop_count());
        slot.srv = std::make_unique<session::h3_server>(
            *ls.http, *tls, o, slot.counters, static_cast<std::uint8_t>(ls.index),
            static_cast<unsigned>(r->loop_count()), ls.flows, &r->connection_limit(), &ls.io);
    });
    rt.on_loop_stop([](loop_state& ls) {
        if (auto* s = ls.loop->slot<h3_slot>()) s->srv.reset();
    });
    datagram_route route;
    route.scheme = "quic";
    route.port_of = "https";
    route.fallback = true;  // ngtcp2 0.12 always lets the client grease the fixed bit  //
                            // tls.listen HOST:PORT serves QUIC on UDP HOST:PORT
    route.first_bytes = {net::k_quic_short_bytes, net::k_quic_long_bytes};
    route.steer_cid_len = static_cast<std::uint8_t>(http3::k_cid_len);
    route.udp.pktinfo = true;
    route.udp.ecn = true;
    route.udp.gro = true;
    route.udp.max_datagram = 65535;
    route.udp.batch = 16;
    route.udp.recv_buffer = 4 << 20;
    route.udp.send_buffer = 4 << 20;
    route.handler = [](datagram_endpoint& ep, const net::datagram& d) {
        auto* s = ep.owner().loop->slot<h3_slot>();
        if (!s || !s->srv) return;
        const int owner = s->srv->on_datagram(ep.socket(), d);
        if (owner >= 0) ep.forward(static_cast<unsigned>(owner), d);
    };
    // Alt-Svc on h1/h2 responses names each bound UDP port (RFC 7838 3).
    route.on_bound = [r](const std::string& bound) {
        auto port = bound.substr(bound.rfind(':') + 1);
        auto& alt = r->http_options().alt_svc;
        if (!alt.empty()) alt += ", ";
        alt += "h3=\":" + port + "\"; ma=86400";
    };
    rt.add_datagram_route(cfg.tls.listen, std::move(route));
    add_metrics(rt);
    log::debug("tls.http3: QUIC on {} address(es)", cfg.tls.listen.size());
}

}  // namespace sy::server
