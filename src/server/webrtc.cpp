// STUN and TURN on `stun.listen` through the runtime's listener mechanism (per-loop
// stun_service slots; sy_stun_* and sy_turn_* metrics summed over the loops), room signaling on
// signal.{room}, and PeerJS.
#include "switchyard/server/webrtc.hpp"

#include <sys/socket.h>

#include <unistd.h>

#include <charconv>
#include <memory>
#include <unordered_map>

#include "peerjs.hpp"
#include "switchyard/session/stun_server.hpp"
#include "switchyard/session/stun_tcp_session.hpp"
#include "switchyard/session/turn_server.hpp"

namespace sy::server {
namespace {

/// What every loop's TURN server shares: the settings (immutable once running) and the quota.
struct turn_shared {
    session::turn_settings settings;
    session::turn_quota quota;
};

/// A UDP client of the relay: replies and relayed data leave from the endpoint's socket (the
/// address the client sent to) to the client's address. Lives as long as its allocation, and
/// is a datagram flow of the loop meanwhile (limits.max_connections, /debug/connections, the
/// server's shutdown: the allocation ends).
class udp_link final : public session::turn_link, public net::datagram_flow {
  public:
    udp_link(datagram_endpoint& ep, const net::address& client, session::turn_server& turn)
        : ep_(ep), client_(client), turn_(turn) {}
    void send_to_client(byte_view bytes) override {
        bytes_out += bytes.size();
        ep_.send_to(bytes, client_);
    }
    bool is_stream() const override { return false; }

    // datagram_flow: the allocation ends; the link is freed after the call (turn on_end).
    void begin_shutdown() override { close_now(); }
    void close_now() override {
        leave();
        session::client_key k;
        k.addr = session::to_stun_address(client_);
        turn_.client_gone(k);
    }
    std::string_view protocol() const override { return "TURN"; }
    std::string peer_text() const override { return client_.to_string(); }

  private:
    datagram_endpoint& ep_;
    net::address client_;
    session::turn_server& turn_;
};

net::address local_of(int fd) {
    net::address a;
    *a.len_ptr() = net::address::capacity();
    if (::getsockname(fd, a.sa(), a.len_ptr()) != 0) *a.len_ptr() = 0;
    return a;
}

/// One per loop (a typed slot made on the loop's start): the counters, the TURN server (when
/// turn.enabled) and the STUN responder that dispatches to it.
struct stun_service {
    stun_service(core::loop& l, turn_shared* t) {
        if (t) {
            turn = std::make_unique<session::turn_server>(l, t->settings, t->quota, turn_counters);
            // A UDP client's link goes with its allocation (after the call that ended it).
            turn->on_end([this, &l](const session::client_key& k) {
                if (k.serial != 0) return;
                l.defer([this, k] {
                    if (!turn || !turn->has(k)) udp_links.erase(k);  // not re-allocated since
                });
            });
        }
        server = std::make_unique<session::stun_server>(counters, turn.get());
    }
    /// A STUN message or ChannelData datagram from a UDP client.
    void on_datagram(datagram_endpoint& ep, const net::datagram& d);

    session::stun_counters counters;
    session::turn_counters turn_counters;
    std::unique_ptr<session::turn_server> turn;
    std::unique_ptr<session::stun_server> server;
    std::uint64_t next_serial = 1;  // names TCP connections' allocations
    std::unordered_map<session::client_key, std::unique_ptr<udp_link>, session::client_key_hash>
        udp_links;
    std::vector<std::uint8_t> reply;         // reused between datagrams
    net::connection_limit* limit = nullptr;  // the runtime's (UDP TURN clients count in it)
};

/// A STUN header's method is Binding (the caller checked the first byte is STUN's): Binding
/// needs no turn_link, so none is made for it.
bool is_binding(byte_view d) {
    if (d.size() < 2) return false;
    const unsigned t = unsigned(d[0]) << 8 | d[1];
    return (((t & 0x3E00) >> 2) | ((t & 0x00E0) >> 1) | (t & 0x000F)) == stun::binding;
}

void stun_service::on_datagram(datagram_endpoint& ep, const net::datagram& d) {
    session::stun_origin o;
    o.from = session::to_stun_address(*d.peer);
    o.via = session::transport::udp;
    o.key.addr = o.from;
    if (d.data[0] >= 0x40) {
        // ChannelData, RFC 5766's channel range (what coturn's clients pick), see below.
        const auto cd = stun::parse_channel_data(d.data, true);
        if (cd && turn) {
            turn->channel_data(o.key, *cd);
        } else {
            counters.malformed.add();
        }
        return;
    }
    const net::address local = d.local ? *d.local : ep.socket().local_address();
    o.local = &local;
    const bool for_turn = turn && !is_binding(d.data);
    if (for_turn) {
        // The link is made on the first TURN message (and joins the loop's flows, which may
        // refuse it: limits.max_connections, or the server is shutting down); kept only if an
        // allocation results.
        auto& link = udp_links[o.key];
        if (!link) {
            link = std::make_unique<udp_link>(ep, *d.peer, *turn);
            auto& ls = ep.owner();
            if (ls.flows.draining() || !link->join(ls.flows, limit, &ls.io)) link.reset();
        }
        if (link) link->bytes_in += d.data.size();
        o.link = link.get();  // nullptr: TURN requests are answered 400
    }
    reply.clear();
    server->handle(d.data, o, reply);
    if (!reply.empty()) ep.send_to(byte_view{reply.data(), reply.size()}, *d.peer);
    if (for_turn && !turn->has(o.key)) udp_links.erase(o.key);  // no allocation: leaves the flows
}

/// stun.listen with port 0 made concrete, so TCP and UDP get the same HOST:PORT: a port free
/// for both is found by binding (start-up only).
std::vector<std::string> concrete_addresses(const std::vector<std::string>& listen) {
    std::vector<std::string> out;
    for (const auto& text : listen) {
        auto a = net::address::parse(text);
        if (!a) throw config_error("stun.listen: \"" + text + "\" is not HOST:PORT");
        if (a->port() != 0) {
            out.push_back(text);
            continue;
        }
        bool found = false;
        for (int tries = 0; tries < 50 && !found; ++tries) {
            net::address probe = *a;
            const int t = ::socket(probe.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
            const int u = ::socket(probe.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (t >= 0 && ::bind(t, probe.sa(), probe.len()) == 0) {
                probe = local_of(t);
                found = u >= 0 && ::bind(u, probe.sa(), probe.len()) == 0;
            }
            if (t >= 0) ::close(t);
            if (u >= 0) ::close(u);
            if (found) out.push_back(probe.to_string());
        }
        if (!found) throw config_error("stun.listen: no port free for both TCP and UDP on " + text);
    }
    return out;
}

/// turn.* as the TURN server's settings; bad values are start-up errors naming the setting.
session::turn_settings turn_settings_of(const turn_config& c) {
    session::turn_settings s;
    s.realm = c.realm;
    for (const auto& u : c.users) {
        const auto colon = u.find(':');
        if (colon == std::string::npos || colon == 0)
            throw config_error("turn.users: \"" + u + "\" is not name:password");
        s.users.emplace_back(u.substr(0, colon), u.substr(colon + 1));
    }
    s.auth_secret = c.auth_secret;
    const auto dash = c.relay_ports.find('-');
    unsigned lo = 0, hi = 0;
    const char* b = c.relay_ports.data();
    const char* e = b + c.relay_ports.size();
    const bool ok = dash != std::string::npos && std::from_chars(b, b + dash, lo).ptr == b + dash &&
                    std::from_chars(b + dash + 1, e, hi).ptr == e && lo >= 1024 && lo <= hi &&
                    hi <= 65535;
    if (!ok)
        throw config_error("turn.relay_ports: \"" + c.relay_ports +
                           "\" is not FIRST-LAST (1024-65535)");
    s.port_lo = static_cast<std::uint16_t>(lo);
    s.port_hi = static_cast<std::uint16_t>(hi);
    for (const auto& p : c.allowed_peers) {
        session::cidr x;
        if (!session::cidr::parse(p, x))
            throw config_error("turn.allowed_peers: \"" + p + "\" is not a CIDR");
        s.allowed_peers.push_back(x);
    }
    s.quota_per_user = c.quota_per_user;
    s.quota_total = c.quota_total;
    s.max_lifetime_s = c.max_lifetime_s;
    return s;
}

using counter_of = std::uint64_t (*)(const stun_service&);

/// One metric family summed over every loop's stun_service (the STUN and the TURN counters).
auto loop_sum_adder(runtime& rt) {
    return [&rt](const char* name, metrics::kind type, const char* help, counter_of get) {
        rt.metrics().add_value({name, type, help, {}, false}, [&rt, get] {
            std::uint64_t s = 0;
            for (std::size_t i = 0; i < rt.loop_count(); ++i) {
                const auto* l = rt.loop_at(i).loop;
                if (const stun_service* svc = l ? l->slot<stun_service>() : nullptr) s += get(*svc);
            }
            return s;
        });
    };
}

void register_stun_metrics(runtime& rt) {
    using metrics::kind;
    auto add = loop_sum_adder(rt);
    add("sy_stun_requests_total", kind::counter, "STUN requests answered.",
        [](const stun_service& s) { return s.counters.requests.get(); });
    add("sy_stun_binding_total", kind::counter, "STUN Binding success responses sent.",
        [](const stun_service& s) { return s.counters.binding.get(); });
    add("sy_stun_classic_total", kind::counter,
        "Binding responses to RFC 3489 clients (MAPPED-ADDRESS).",
        [](const stun_service& s) { return s.counters.classic.get(); });
    add("sy_stun_unknown_attribute_total", kind::counter,
        "420 Unknown Attribute answers (comprehension-required attributes not understood).",
        [](const stun_service& s) { return s.counters.unknown_attr.get(); });
    add("sy_stun_bad_request_total", kind::counter, "400 answers to STUN requests.",
        [](const stun_service& s) { return s.counters.bad_requests.get(); });
    add("sy_stun_malformed_total", kind::counter,
        "STUN input dropped as malformed (not STUN, bad length, bad FINGERPRINT).",
        [](const stun_service& s) { return s.counters.malformed.get(); });
    add("sy_stun_ignored_total", kind::counter, "STUN indications and responses ignored.",
        [](const stun_service& s) { return s.counters.not_requests.get(); });
    add("sy_stun_tcp_connections_total", kind::counter, "STUN TCP connections accepted.",
        [](const stun_service& s) { return s.counters.tcp_connections.get(); });
    add("sy_stun_tcp_framing_errors_total", kind::counter,
        "STUN TCP connections closed on bytes that are neither STUN nor ChannelData.",
        [](const stun_service& s) { return s.counters.tcp_framing_errors.get(); });
}

void register_turn_metrics(runtime& rt, turn_shared& t) {
    using metrics::kind;
    auto& m = rt.metrics();
    auto add = loop_sum_adder(rt);
#define SY_TURN(name, type, help, field) \
    add(name, type, help, [](const stun_service& s) { return s.turn_counters.field.get(); })
    SY_TURN("sy_turn_allocations_total", kind::counter, "TURN allocations made.", allocations);
    SY_TURN("sy_turn_allocations_ended_total", kind::counter,
            "TURN allocations ended (expired, refreshed to 0, client gone).", allocations_ended);
    SY_TURN("sy_turn_auth_challenges_total", kind::counter,
            "TURN requests without credentials answered 401 with a nonce.", auth_challenges);
    SY_TURN("sy_turn_auth_failures_total", kind::counter,
            "TURN requests with wrong credentials or a stale nonce.", auth_failures);
    SY_TURN("sy_turn_quota_rejections_total", kind::counter,
            "TURN allocations refused by a quota (486).", quota_rejections);
    SY_TURN("sy_turn_peer_denied_total", kind::counter,
            "TURN peers refused as private or loopback (403).", peer_denied);
    SY_TURN("sy_turn_permissions_total", kind::counter, "TURN CreatePermission requests granted.",
            permissions);
    SY_TURN("sy_turn_channel_binds_total", kind::counter, "TURN ChannelBind requests granted.",
            channel_binds);
    SY_TURN("sy_turn_refreshes_total", kind::counter, "TURN Refresh requests.", refreshes);
    SY_TURN("sy_turn_relayed_to_peer_packets_total", kind::counter,
            "Datagrams relayed from TURN clients to peers.", to_peer_packets);
    SY_TURN("sy_turn_relayed_to_peer_bytes_total", kind::counter,
            "Bytes relayed from TURN clients to peers.", to_peer_bytes);
    SY_TURN("sy_turn_relayed_from_peer_packets_total", kind::counter,
            "Datagrams relayed from peers to TURN clients.", from_peer_packets);
    SY_TURN("sy_turn_relayed_from_peer_bytes_total", kind::counter,
            "Bytes relayed from peers to TURN clients.", from_peer_bytes);
    SY_TURN("sy_turn_dropped_no_permission_total", kind::counter,
            "Peer datagrams dropped: no permission for the peer.", dropped_no_permission);
#undef SY_TURN
    m.add_value({"sy_turn_allocations", kind::gauge, "TURN allocations now.", {}, false},
                [&t] { return t.quota.in_use(); });
}

/// stun.tls_listen: STUN and TURN over TLS (RFC 8489 6.2.3) on the TLS listener's certificates
/// (its tls_server: SNI, reloads, tickets), then the same stream session as TCP.
void add_tls_listener(runtime& rt, const std::vector<std::string>& addresses,
                      const std::shared_ptr<turn_shared>& turn) {
    net::tls_server* tls = rt.shared_tls();
    if (tls == nullptr)
        throw config_error(
            "stun.tls_listen: needs the TLS listener (tls.listen, tls.cert, tls.key), whose "
            "certificate it serves");
    rt.add_listener("stuns", addresses, [turn, tls](loop_state& ls, net::accepted_socket&& s) {
        auto& svc = ls.loop->emplace_slot<stun_service>(*ls.loop, turn.get());
        const net::address local = local_of(s.fd.get());
        net::tls_stream stream = tls->make_stream(std::move(s.fd), &ls.tls);
        if (stream.fd() < 0) return;
        auto handler = std::make_unique<session::stun_tcp_session>(*svc.server, s.peer, local,
                                                                   svc.next_serial++);
        net::connection::create(*ls.loop, std::move(stream), std::move(handler), ls.conn_opts,
                                std::move(s.slot), &ls.conns);
    });
}

}  // namespace

void install_webrtc(app& app) {
    install_peerjs(app);
    // Room signaling for apps without PeerJS: a topic route like any [[routes]] table, so
    // WebSocket, SSE + POST, presence (?presence=NAME) and resume come from the routes mechanism.
    route_spec room;
    room.config.path = "/signal/:room";
    room.config.websocket = room.config.sse = "signal.:room";
    room.config.publish = true;
    room.config.publish_post = true;
    room.config.resume = false;  // offers and candidates are for the peers present now
    room.query_options = true;
    app.routes().add(std::move(room));
    app.on_runtime([](runtime& rt) {
        const auto& sc = rt.config().stun;
        if (sc.listen.empty() && sc.tls_listen.empty()) return;
        std::shared_ptr<turn_shared> turn;
        if (rt.config().turn.enabled) {
            turn = std::make_shared<turn_shared>();
            turn->settings = turn_settings_of(rt.config().turn);
            register_turn_metrics(rt, *turn);
        }
        register_stun_metrics(rt);
        rt.on_loop_start(
            [turn](loop_state& ls) { ls.loop->emplace_slot<stun_service>(*ls.loop, turn.get()); });
        // The TURN servers (relay sockets, timers) go with the loop's other services.
        rt.on_loop_stop([](loop_state& ls) {
            if (auto* svc = ls.loop->slot<stun_service>()) {
                svc->server = std::make_unique<session::stun_server>(svc->counters);
                svc->udp_links.clear();  // left the flows at the drain; before their turn_server
                svc->turn.reset();
            }
        });
        if (!sc.tls_listen.empty()) add_tls_listener(rt, sc.tls_listen, turn);
        if (sc.listen.empty()) return;
        const auto addresses = concrete_addresses(sc.listen);
        // UDP: the runtime's datagram endpoint, claiming STUN's first bytes (RFC 7983: 0-3) and,
        // with TURN, ChannelData's. RFC 8656 narrowed channels to 0x4000-0x4FFF (first bytes
        // 64-79) so QUIC can share an address; coturn and its clients still use RFC 5766's
        // 0x4000-0x7FFE, so a TURN address claims 64-127 and cannot also carry QUIC (the seam
        // refuses the overlap at start-up).
        datagram_route r;
        r.scheme = "stun";
        r.first_bytes = {net::k_stun_bytes};
        if (turn) r.first_bytes.push_back(net::first_byte_range{64, 127});
        r.udp.pktinfo = true;  // the address a client reached: where its relay is bound
        r.handler = [turn](datagram_endpoint& ep, const net::datagram& d) {
            ep.owner()
                .loop->emplace_slot<stun_service>(*ep.owner().loop, turn.get())
                .on_datagram(ep, d);
        };
        rt.add_datagram_route(addresses, std::move(r));
        rt.add_listener("stun", addresses, [turn](loop_state& ls, net::accepted_socket&& s) {
            auto& svc = ls.loop->emplace_slot<stun_service>(*ls.loop, turn.get());
            auto handler = std::make_unique<session::stun_tcp_session>(
                *svc.server, s.peer, local_of(s.fd.get()), svc.next_serial++);
            net::connection::create(*ls.loop, net::tcp_stream(std::move(s.fd)), std::move(handler),
                                    ls.conn_opts, std::move(s.slot), &ls.conns);
        });
    });
}

}  // namespace sy::server
