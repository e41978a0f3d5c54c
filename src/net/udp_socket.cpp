#include "switchyard/net/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

namespace sy::net {

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
    address local;
    *local.len_ptr() = address::capacity();
    if (::getsockname(fd.get(), local.sa(), local.len_ptr()) < 0)
        return unexpected(core::last_os_error("getsockname"));
    std::unique_ptr<udp_socket> s(new udp_socket(l, std::move(fd), o, std::move(on_receive)));
    s->local_ = local;
    if (auto r = l.io().add(s->fd(), core::ev::readable, s.get()); !r) return unexpected(r.error());
    return s;
}

udp_socket::udp_socket(core::loop& l, unique_fd fd, const udp_options& o, receive_fn f)
    : loop_(l), fd_(std::move(fd)), opts_(o), on_receive_(std::move(f)) {
    if (opts_.batch == 0) opts_.batch = 1;
    if (opts_.batch > 1024) opts_.batch = 1024;
    slab_.resize(opts_.batch * opts_.max_datagram);
    peers_.resize(opts_.batch);
    views_.resize(opts_.batch);
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

void udp_socket::receive() {
    const unsigned b = opts_.batch;
    std::vector<mmsghdr> msgs(b);
    std::vector<iovec> iov(b);
    for (unsigned round = 0; round < opts_.max_batches; ++round) {
        for (unsigned i = 0; i < b; ++i) {
            iov[i] = iovec{slab_.data() + i * opts_.max_datagram, opts_.max_datagram};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = peers_[i].sa();
            msgs[i].msg_hdr.msg_namelen = address::capacity();
        }
        int n = ::recvmmsg(fd_.get(), msgs.data(), b, MSG_DONTWAIT, nullptr);
        if (n <= 0) return;  // EAGAIN (or an error the next event reports again)
        for (int i = 0; i < n; ++i) {
            *peers_[i].len_ptr() = msgs[i].msg_hdr.msg_namelen;
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) stats_.rx_truncated.add();
            views_[i] = datagram{byte_view(slab_.data() + i * opts_.max_datagram, msgs[i].msg_len),
                                 &peers_[i]};
        }
        stats_.rx_batches.add();
        stats_.rx_datagrams.add(static_cast<std::uint64_t>(n));
        on_receive_(*this, std::span<const datagram>(views_.data(), static_cast<std::size_t>(n)));
        if (static_cast<unsigned>(n) < b) return;
    }
}

bool udp_socket::send_to(byte_view data, const address& to) {
    if (send_.size() - send_head_ >= opts_.max_send_queue) {
        stats_.tx_dropped.add();
        return false;
    }
    std::size_t off = send_bytes_.size();
    send_bytes_.append(data);
    send_.push_back(pending{off, data.size(), to});
    loop_.schedule_before_sleep(*this);
    return true;
}

void udp_socket::flush() {
    if (want_write_) return;
    const unsigned b = opts_.batch;
    mmsghdr msgs[1024];
    iovec iov[1024];
    const std::uint8_t* base = send_bytes_.data();
    while (send_head_ < send_.size()) {
        unsigned n = 0;
        for (; n < b && send_head_ + n < send_.size(); ++n) {
            pending& p = send_[send_head_ + n];
            iov[n] = iovec{const_cast<std::uint8_t*>(base + p.offset), p.length};
            msgs[n] = mmsghdr{};
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            msgs[n].msg_hdr.msg_name = const_cast<sockaddr*>(p.to.sa());
            msgs[n].msg_hdr.msg_namelen = p.to.len();
        }
        int sent = ::sendmmsg(fd_.get(), msgs, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                want_write_ = true;
                (void)loop_.io().modify(fd_.get(), core::ev::readable | core::ev::writable, this);
                return;
            }
            // The first datagram is unsendable (e.g. EMSGSIZE, unreachable): drop it, go on.
            stats_.tx_errors.add();
            ++send_head_;
            continue;
        }
        stats_.tx_batches.add();
        stats_.tx_datagrams.add(static_cast<std::uint64_t>(sent));
        send_head_ += static_cast<std::size_t>(sent);
    }
    send_.clear();
    send_head_ = 0;
    send_bytes_.clear();
    send_bytes_.shrink_if_empty();
    (void)loop_.io().modify(fd_.get(), core::ev::readable, this);
}

}  // namespace sy::net
