// The runtime's datagram endpoints (runtime.hpp: add_datagram_route, datagram_endpoint): one UDP
// socket per worker loop and address, a first-byte demultiplexer per socket, the hand-over of a
// datagram to another loop, and prefork's sockets bound by the parent, one per child.
#include <sys/socket.h>

#include <algorithm>

#include "switchyard/base/log.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

namespace {

config_error udp_error(const std::string& text, const std::string& why) {
    return config_error("listen " + text + ": " + why);  // the words TCP listeners use
}

net::address parse_udp(const std::string& text, std::uint16_t tcp_port) {
    auto addr = net::address::parse(text);
    if (!addr) throw udp_error(text, "cannot parse address");
    if (addr->port() == 0) addr->set_port(tcp_port);
    return *addr;
}

// A copy of a datagram crossing to another loop (the views of a batch die with the call).
struct datagram_copy {
    std::vector<std::uint8_t> bytes;
    net::address peer;
    net::address local;
    std::uint8_t ecn = 0;
};

}  // namespace

std::uint16_t runtime::tcp_port_of(const std::string& scheme, const std::string& text) const {
    for (const auto& t : tcp_ports_) {
        if (!scheme.empty() && t.scheme == scheme && t.text == text) return t.port;
    }
    return 0;
}

void runtime::add_datagram_route(std::vector<std::string> addresses, datagram_route route) {
    for (const auto& a : addresses) {
        if (std::find(dgram_addresses_.begin(), dgram_addresses_.end(), a) ==
            dgram_addresses_.end())
            dgram_addresses_.push_back(a);
    }
    dgram_kinds_.push_back({std::move(addresses), std::move(route)});
}

// The TCP scheme whose port an address follows: the first route on it that names one.
std::string runtime::port_scheme(std::size_t id) const {
    for (const auto& k : dgram_kinds_) {
        if (!k.route.port_of.empty() && std::find(k.addresses.begin(), k.addresses.end(),
                                                  dgram_addresses_[id]) != k.addresses.end())
            return k.route.port_of;
    }
    return {};
}

// The group of address `id` steers by connection ID when every route on it asks (a route that
// does not, e.g. TURN's ChannelData in QUIC's first-byte range, keeps the 4-tuple hash). A
// kernel without SO_ATTACH_REUSEPORT_CBPF keeps the hash; the loops still forward.
void runtime::steer_group(std::size_t id, int fd) const {
    std::uint8_t len = 0;
    for (const auto& k : dgram_kinds_) {
        if (std::find(k.addresses.begin(), k.addresses.end(), dgram_addresses_[id]) ==
            k.addresses.end())
            continue;
        if (k.route.steer_cid_len == 0 || (len != 0 && len != k.route.steer_cid_len)) return;
        len = k.route.steer_cid_len;
    }
    if (len == 0) return;
    if (auto r = net::steer_by_connection_id(fd, len); !r)
        log::warn("{}: no connection-ID steering: {}", dgram_addresses_[id], r.error().message());
}

net::udp_options runtime::endpoint_options(std::size_t id) const {
    net::udp_options o;
    bool first = true;
    for (const auto& k : dgram_kinds_) {
        if (std::find(k.addresses.begin(), k.addresses.end(), dgram_addresses_[id]) ==
            k.addresses.end())
            continue;
        const net::udp_options& r = k.route.udp;
        if (first) {
            o = r;
            first = false;
            continue;
        }
        o.batch = std::max(o.batch, r.batch);
        o.max_batches = std::max(o.max_batches, r.max_batches);
        o.max_datagram = std::max(o.max_datagram, r.max_datagram);
        o.max_send_queue = std::max(o.max_send_queue, r.max_send_queue);
        o.recv_buffer = std::max(o.recv_buffer, r.recv_buffer);
        o.send_buffer = std::max(o.send_buffer, r.send_buffer);
        o.pktinfo |= r.pktinfo;
        o.ecn |= r.ecn;
        o.gro |= r.gro;
    }
    return o;
}

// Threads models and each prefork child: endpoint `id` on every worker loop, claims installed.
void runtime::open_datagram_endpoints() {
    const bool prefork = cfg_.model == execution_model::prefork;
    const bool shared = loops_.size() > 1 || cfg_.reuseport;
    for (std::size_t id = 0; id < dgram_addresses_.size(); ++id) {
        const std::string& text = dgram_addresses_[id];
        net::address addr = parse_udp(text, tcp_port_of(port_scheme(id), text));
        std::vector<int> fds;
        for (std::size_t i = 0; i < loops_.size(); ++i) {
            loop_state& ls = *loops_[i];
            auto ep = std::make_unique<datagram_endpoint>(*this, ls, static_cast<unsigned>(id));
            net::udp_options o = endpoint_options(id);
            o.shared_stats = &ls.udp;
            o.sharing = !shared  ? net::port_sharing::exclusive
                        : i == 0 ? net::port_sharing::claim
                                 : net::port_sharing::join;
            datagram_endpoint* raw = ep.get();
            auto on_batch = [raw](net::udp_socket& s, std::span<const net::datagram> batch) {
                raw->demux_.dispatch(s, batch);
            };
            auto s = prefork ? net::udp_socket::adopt(*ls.loop, std::move(udp_fds_[id]), o,
                                                      std::move(on_batch))
                             : net::udp_socket::bind(*ls.loop, addr, o, std::move(on_batch));
            if (!s) throw udp_error(text, net::bind_error_text(s.error()));
            if (addr.port() == 0) addr.set_port((*s)->local_address().port());
            fds.push_back((*s)->fd());
            ep->socket_ = std::move(*s);
            ls.endpoints.push_back(std::move(ep));
        }
        if (shared && !prefork) steer_group(id, fds.front());
        for (const auto& k : dgram_kinds_) {
            if (std::find(k.addresses.begin(), k.addresses.end(), text) == k.addresses.end())
                continue;
            for (auto& l : loops_) {
                datagram_endpoint* ep = l->endpoints[id].get();
                const auto* fn = &k.route.handler;
                auto h = [ep, fn](net::udp_socket&, const net::datagram& d) { (*fn)(*ep, d); };
                bool ok = ep->demux_.claim(k.route.first_bytes, h, k.route.check);
                if (ok && k.route.fallback) ok = ep->demux_.set_fallback(h);
                if (!ok)
                    throw udp_error(text, k.route.scheme +
                                              " claims first bytes already "
                                              "claimed by another protocol");
            }
            if (k.route.on_bound) k.route.on_bound(addr.to_string());
            if (prefork) continue;  // the parent announced and lists them
            listener_infos_.push_back(
                {k.route.scheme, addr.to_string(), fds.front(), fds, 0, "udp"});
        }
    }
}

// prefork parent: one socket per child and address, the first claiming the address, the others
// joining its SO_REUSEPORT group. The parent keeps them all, so a restarted child gets its own
// socket back and the group (the kernel's hash over its members) never changes.
void runtime::bind_prefork_udp(unsigned children) {
    for (std::size_t id = 0; id < dgram_addresses_.size(); ++id) {
        const std::string& text = dgram_addresses_[id];
        net::address addr = parse_udp(text, tcp_port_of(port_scheme(id), text));
        const net::udp_options o = endpoint_options(id);
        std::vector<int> fds;
        for (unsigned c = 0; c < children; ++c) {
            net::unique_fd fd(
                ::socket(addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (!fd) throw udp_error(text, "socket failed");
            if (o.recv_buffer > 0)
                (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &o.recv_buffer,
                                   sizeof o.recv_buffer);
            auto sharing = children == 1 && !cfg_.reuseport ? net::port_sharing::exclusive
                           : c == 0                         ? net::port_sharing::claim
                                                            : net::port_sharing::join;
            if (auto r = net::bind_address(fd.get(), addr, sharing, -1); !r)
                throw udp_error(text, net::bind_error_text(r.error()));
            if (addr.port() == 0) {
                net::address local;
                *local.len_ptr() = net::address::capacity();
                ::getsockname(fd.get(), local.sa(), local.len_ptr());
                addr.set_port(local.port());
            }
            fds.push_back(fd.get());
            udp_fds_.push_back(std::move(fd));
        }
        if (children > 1 || cfg_.reuseport) steer_group(id, fds.front());
        for (const auto& k : dgram_kinds_) {
            if (std::find(k.addresses.begin(), k.addresses.end(), text) != k.addresses.end())
                listener_infos_.push_back(
                    {k.route.scheme, addr.to_string(), fds.front(), fds, 0, "udp"});
        }
    }
}

// prefork child: keeps its own socket of each address, closes its copies of its siblings'.
void runtime::keep_prefork_udp(unsigned child, unsigned children) {
    std::vector<net::unique_fd> mine;
    for (std::size_t id = 0; id < dgram_addresses_.size(); ++id)
        mine.push_back(std::move(udp_fds_[id * children + child]));
    udp_fds_ = std::move(mine);
}

void runtime::close_endpoints(loop_state& ls) {
    for (auto& ep : ls.endpoints) {
        if (!ep->socket_) continue;
        ep->socket_->flush();  // what closing the flows queued (QUIC CONNECTION_CLOSE)
        ep->socket_.reset();
    }
}

bool datagram_endpoint::forward(unsigned loop, const net::datagram& d) {
    if (loop >= rt_.loop_count()) return false;
    auto c = std::make_unique<datagram_copy>();
    c->bytes.assign(d.data.begin(), d.data.end());
    c->peer = *d.peer;
    if (d.local) c->local = *d.local;
    c->ecn = d.ecn;
    loop_state& to = rt_.loop_at(loop);
    const unsigned id = id_;
    // The target's endpoints are set before the loops start and closed on its own thread only.
    to.loop->post([&to, id, c = std::move(c)] {
        if (id >= to.endpoints.size() || !to.endpoints[id]->socket_) return;
        datagram_endpoint& ep = *to.endpoints[id];
        const net::datagram copy{byte_view(c->bytes), &c->peer,
                                 c->local.family() != 0 ? &c->local : nullptr, c->ecn, true};
        ep.socket_->counters().rx_forwarded.add();
        ep.demux_.dispatch(*ep.socket_, std::span<const net::datagram>(&copy, 1));
    });
    return true;
}

}  // namespace sy::server
