#include "switchyard/net/udp_socket.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sy::net {

namespace {

// Room for every control message one datagram can carry either way: pktinfo (v6 is the larger),
// TOS / traffic class, and UDP_GRO / UDP_SEGMENT.
constexpr std::size_t k_control = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                                  CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(std::uint16_t));

// Linux caps a GSO train at 64 segments (UDP_MAX_SEGMENTS).
constexpr std::size_t k_max_segments = 64;

void set_int(int fd, int level, int name, int v) {
    (void)::setsockopt(fd, level, name, &v, sizeof v);
}

template <typename T>
void put_cmsg(msghdr& h, cmsghdr*& c, int level, int type, const T& v) {
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof(T));
    std::memcpy(CMSG_DATA(c), &v, sizeof(T));
    h.msg_controllen += CMSG_SPACE(sizeof(T));
    c = reinterpret_cast<cmsghdr*>(reinterpret_cast<std::uint8_t*>(c) + CMSG_SPACE(sizeof(T)));
}

}  // namespace

result<void, os_error> steer_by_connection_id(int fd, std::uint8_t cid_len) {
    // Classic BPF over the UDP payload. The return value is the member's index; an index beyond
    // the group (0xffffffff) makes the kernel fall back to its hash (reuseport_select_sock).
    // RFC 9000 17.2/17.3: byte 0 has the fixed bit 0x40 (else not QUIC: hash), 0x80 = long
    // header with the DCID length at byte 5 and the DCID from byte 6; a short header's DCID
    // starts at byte 1.
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40, 0, 7),  // no fixed bit: hash
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 2, 0),  // long header: 5
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1),
        BPF_STMT(BPF_RET | BPF_A, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 5),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, cid_len, 0, 2),  // a client-chosen DCID: hash
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
        BPF_STMT(BPF_RET | BPF_A, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffU),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0)
        return unexpected(core::last_os_error("setsockopt(SO_ATTACH_REUSEPORT_CBPF)"));
    return {};
}

result<std::unique_ptr<udp_socket>, os_error> udp_socket::bind(core::loop& l, const address& addr,
                                                               const udp_options& o,
                                                               receive_fn on_receive) {
    unique_fd fd(::socket(addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return unexpected(core::last_os_error("socket"));
    if (o.recv_buffer > 0)
        (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &o.recv_buffer, sizeof o.recv_buffer);
    if (o.send_buffer > 0)
        (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &o.send_buffer, sizeof o.send_buffer);
    if (auto r = bind_address(fd.get(), addr, o.sharing, -1); !r) return unexpected(r.error());
    return adopt(l, std::move(fd), o, std::move(on_receive));
}

result<std::unique_ptr<udp_socket>, os_error> udp_socket::adopt(core::loop& l, unique_fd fd,
                                                                const udp_options& o,
                                                                receive_fn on_receive) {
    address local;
    *local.len_ptr() = address::capacity();
    if (::getsockname(fd.get(), local.sa(), local.len_ptr()) < 0)
        return unexpected(core::last_os_error("getsockname"));
    std::unique_ptr<udp_socket> s(new udp_socket(l, std::move(fd), o, std::move(on_receive)));
    s->local_ = local;
    s->enable_options();
    if (auto r = l.io().add(s->fd(), core::ev::readable, s.get()); !r) return unexpected(r.error());
    return s;
}

udp_socket::udp_socket(core::loop& l, unique_fd fd, const udp_options& o, receive_fn f)
    : loop_(l), fd_(std::move(fd)), opts_(o), on_receive_(std::move(f)) {
    if (opts_.shared_stats) stats_ = opts_.shared_stats;
    if (opts_.batch == 0) opts_.batch = 1;
    if (opts_.batch > 1024) opts_.batch = 1024;
    slab_.resize(opts_.batch * opts_.max_datagram);
    peers_.resize(opts_.batch);
    locals_.resize(opts_.batch);
    views_.reserve(opts_.batch);
    msgs_.resize(opts_.batch);
    iov_.resize(opts_.batch);
    control_.resize(opts_.batch * k_control);
}

// Options the kernel may lack are probed, not required: without them the socket still works
// (no local address, ECN 0, no GRO/GSO), and has_gso()/has_gro() say which took.
void udp_socket::enable_options() {
    const int fd = fd_.get();
    const bool v6 = local_.is_v6();
    if (opts_.pktinfo) {
        if (v6) set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);  // v4 (and v4-mapped on a dual-stack socket)
    }
    if (opts_.ecn) {
        if (v6) set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
        set_int(fd, IPPROTO_IP, IP_RECVTOS, 1);
    }
    int seg = 0;
    socklen_t len = sizeof seg;
    gso_ = ::getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &seg, &len) == 0;
    if (opts_.gro) {
        int on = 1;
        gro_ = ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) == 0;
    }
}

udp_socket::~udp_socket() {
    (void)loop_.io().remove(fd_.get());
}

void udp_socket::on_io(std::uint32_t events) {
    if (events & core::ev::writable) {
        want_write_ = false;
        flush();
    }
    if (events & core::ev::readable) receive();
}

void udp_socket::read_control(const msghdr& h, unsigned i, std::uint16_t& gro_size,
                              std::uint8_t& ecn) {
    locals_[i] = address{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_addr = pi.ipi_addr;
            sin.sin_port = htons(local_.port());
            locals_[i] = address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
            sockaddr_in6 sin6{};
            sin6.sin6_family = AF_INET6;
            sin6.sin6_addr = pi.ipi6_addr;
            sin6.sin6_port = htons(local_.port());
            locals_[i] = address::from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
        } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
                   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)) {
            // IP_TOS arrives as one byte, IPV6_TCLASS as an int: the low byte carries ECN.
            std::uint8_t tos = 0;
            if (c->cmsg_type == IP_TOS) {
                tos = *CMSG_DATA(c);
            } else {
                int v = 0;
                std::memcpy(&v, CMSG_DATA(c), sizeof v);
                tos = static_cast<std::uint8_t>(v);
            }
            ecn = tos & 0x3;
        } else if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            gro_size = static_cast<std::uint16_t>(v);
        }
    }
}

// Message i of the batch becomes one view, or (a GRO train) one view per segment, appended to
// the batch's views in order.
void udp_socket::push_views(unsigned i, std::size_t len, std::uint16_t gro_size, std::uint8_t ecn) {
    const std::uint8_t* base = slab_.data() + i * opts_.max_datagram;
    const address* local = locals_[i].family() != 0 ? &locals_[i] : nullptr;
    if (gro_size == 0 || gro_size >= len) {
        views_.push_back(datagram{byte_view(base, len), &peers_[i], local, ecn});
        return;
    }
    stats_->rx_gro_trains.add();
    for (std::size_t off = 0; off < len; off += gro_size) {
        views_.push_back(datagram{byte_view(base + off, std::min<std::size_t>(gro_size, len - off)),
                                  &peers_[i], local, ecn});
    }
}

void udp_socket::receive() {
    const unsigned b = opts_.batch;
    for (unsigned round = 0; round < opts_.max_batches; ++round) {
        for (unsigned i = 0; i < b; ++i) {
            iov_[i] = iovec{slab_.data() + i * opts_.max_datagram, opts_.max_datagram};
            msgs_[i] = mmsghdr{};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_name = peers_[i].sa();
            msgs_[i].msg_hdr.msg_namelen = address::capacity();
            msgs_[i].msg_hdr.msg_control = control_.data() + i * k_control;
            msgs_[i].msg_hdr.msg_controllen = k_control;
        }
        int n = ::recvmmsg(fd_.get(), msgs_.data(), b, MSG_DONTWAIT, nullptr);
        if (n <= 0) return;  // EAGAIN (or an error the next event reports again)
        views_.clear();
        for (int i = 0; i < n; ++i) {
            const auto u = static_cast<unsigned>(i);
            *peers_[u].len_ptr() = msgs_[u].msg_hdr.msg_namelen;
            if (msgs_[u].msg_hdr.msg_flags & MSG_TRUNC) stats_->rx_truncated.add();
            std::uint16_t gro_size = 0;
            std::uint8_t ecn = 0;
            read_control(msgs_[u].msg_hdr, u, gro_size, ecn);
            push_views(u, msgs_[u].msg_len, gro_size, ecn);
        }
        stats_->rx_batches.add();
        stats_->rx_datagrams.add(views_.size());
        on_receive_(*this, std::span<const datagram>(views_.data(), views_.size()));
        if (static_cast<unsigned>(n) < b) return;
    }
}

bool udp_socket::queue_one(byte_view data, const address& to, const send_meta& meta,
                           std::uint16_t seg) {
    if (send_.size() - send_head_ >= opts_.max_send_queue) {
        stats_->tx_dropped.add();
        return false;
    }
    std::size_t off = send_bytes_.size();
    send_bytes_.append(data);
    pending p{off, data.size(), to, {}, seg, meta.ecn};
    if (meta.from) p.from = *meta.from;
    send_.push_back(p);
    loop_.schedule_before_sleep(*this);
    return true;
}

bool udp_socket::send_to(byte_view data, const address& to, const send_meta& meta) {
    const std::size_t seg = meta.segment;
    if (seg == 0 || data.size() <= seg) return queue_one(data, to, meta, 0);
    if (gso_ && (data.size() + seg - 1) / seg <= k_max_segments) {
        stats_->tx_gso_trains.add();
        return queue_one(data, to, meta, meta.segment);
    }
    // No GSO here: the same datagrams, one by one.
    bool all = true;
    for (std::size_t off = 0; off < data.size(); off += seg) {
        all &= queue_one(data.subspan(off, std::min(seg, data.size() - off)), to, meta, 0);
    }
    return all;
}

// The control messages of pending datagram i into buf (k_control bytes); returns their length.
std::size_t udp_socket::build_control(std::size_t i, std::uint8_t* buf) const {
    const pending& p = send_[i];
    msghdr h{};
    h.msg_control = buf;
    h.msg_controllen = 0;
    auto* c = reinterpret_cast<cmsghdr*>(buf);
    const bool v6 = p.to.is_v6();
    if (p.ecn != 0) {
        const int tos = p.ecn & 0x3;
        if (v6) {
            put_cmsg(h, c, IPPROTO_IPV6, IPV6_TCLASS, tos);
        } else {
            put_cmsg(h, c, IPPROTO_IP, IP_TOS, tos);
        }
    }
    if (p.from.family() == AF_INET && !v6) {
        in_pktinfo pi{};
        pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(p.from.sa())->sin_addr;
        put_cmsg(h, c, IPPROTO_IP, IP_PKTINFO, pi);
    } else if (p.from.family() == AF_INET6 && v6) {
        in6_pktinfo pi{};
        pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(p.from.sa())->sin6_addr;
        put_cmsg(h, c, IPPROTO_IPV6, IPV6_PKTINFO, pi);
    }
    if (p.segment != 0) put_cmsg(h, c, IPPROTO_UDP, UDP_SEGMENT, p.segment);
    return h.msg_controllen;
}

void udp_socket::flush() {
    if (want_write_) return;
    const unsigned b = opts_.batch;
    const std::uint8_t* base = send_bytes_.data();
    while (send_head_ < send_.size()) {
        unsigned n = 0;
        std::uint64_t datagrams = 0;
        for (; n < b && send_head_ + n < send_.size(); ++n) {
            pending& p = send_[send_head_ + n];
            iov_[n] = iovec{const_cast<std::uint8_t*>(base + p.offset), p.length};
            msgs_[n] = mmsghdr{};
            msgs_[n].msg_hdr.msg_iov = &iov_[n];
            msgs_[n].msg_hdr.msg_iovlen = 1;
            msgs_[n].msg_hdr.msg_name = const_cast<sockaddr*>(p.to.sa());
            msgs_[n].msg_hdr.msg_namelen = p.to.len();
            std::uint8_t* ctl = control_.data() + n * k_control;
            if (std::size_t len = build_control(send_head_ + n, ctl); len > 0) {
                msgs_[n].msg_hdr.msg_control = ctl;
                msgs_[n].msg_hdr.msg_controllen = len;
            }
        }
        int sent = ::sendmmsg(fd_.get(), msgs_.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                want_write_ = true;
                (void)loop_.io().modify(fd_.get(), core::ev::readable | core::ev::writable, this);
                return;
            }
            // The first datagram is unsendable (e.g. EMSGSIZE, unreachable, EIO: a device
            // without GSO checksum offload): drop it, go on.
            stats_->tx_errors.add();
            ++send_head_;
            continue;
        }
        for (int i = 0; i < sent; ++i) {
            const pending& p = send_[send_head_ + static_cast<std::size_t>(i)];
            datagrams += p.segment ? (p.length + p.segment - 1) / p.segment : 1;
        }
        stats_->tx_batches.add();
        stats_->tx_datagrams.add(datagrams);
        send_head_ += static_cast<std::size_t>(sent);
    }
    send_.clear();
    send_head_ = 0;
    send_bytes_.clear();
    send_bytes_.shrink_if_empty();
    (void)loop_.io().modify(fd_.get(), core::ev::readable, this);
}

}  // namespace sy::net
