#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "switchyard/net/socket.hpp"
#include "switchyard/net/stream.hpp"

namespace sy::net {

result<void, os_error> set_nodelay(int fd, bool on) {
    int v = on ? 1 : 0;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
        return unexpected(core::last_os_error("setsockopt(TCP_NODELAY)"));
    return {};
}

result<void, os_error> set_nonblocking(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return unexpected(core::last_os_error("fcntl(O_NONBLOCK)"));
    return {};
}

namespace {
result<void, os_error> set_int_opt(int fd, int level, int name, int v, const char* what) {
    if (::setsockopt(fd, level, name, &v, sizeof v) < 0)
        return unexpected(core::last_os_error(what));
    return {};
}
}  // namespace

// Why a claim makes the group ours (Linux bind-conflict rules, inet_csk_bind_conflict and
// udp_lib_lport_inuse):
// - Two sockets may both LISTEN on one address only if both have SO_REUSEPORT (and one uid) when
//   the later one binds or listens; SO_REUSEADDR passes over sockets that are not listening
//   (TIME_WAIT, established, merely bound) but never over a listener. A claiming TCP socket
//   keeps SO_REUSEPORT off through bind() and listen(), so one of the two fails with EADDRINUSE
//   while any other socket, of any process or program, listens there. The kernel checks the
//   address's bind bucket under its lock at listen() again, so two servers starting at the same
//   moment cannot both pass: whichever listens second fails (both may bind, as neither listens
//   yet). A UDP socket without SO_REUSEADDR and SO_REUSEPORT cannot bind beside any other
//   socket at all, so there bind() alone claims.
// - Only then is SO_REUSEPORT set on the claimed socket. The kernel does not need it at bind
//   time: the first sibling that joins (SO_REUSEPORT before bind, same uid) finds the claimed
//   socket in the bucket and builds the group around both (reuseport_add_sock), so connections
//   and datagrams are spread over every socket of the group, the claimed one included.
// - Port 0: the claim picks a free port alone; the siblings join that port. Prefork children
//   share the parent's claimed socket itself (inherited descriptors), so nothing binds again.
// - A restart after SIGTERM binds: the old listeners are closed, what is left of the old run
//   (TIME_WAIT, connections still draining) is passed over by SO_REUSEADDR.
// What this cannot stop: a later program that sets SO_REUSEPORT itself (same uid) may still
// join a claimed group; that program chose to share, and every switchyard claims first.
result<void, os_error> bind_address(int fd, const address& addr, port_sharing sharing,
                                    int backlog) {
    const bool stream = backlog >= 0;
    if (stream) {
        auto r = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
        if (!r) return r;
    }
    if (sharing == port_sharing::join) {
        auto r = set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
        if (!r) return r;
    }
    if (::bind(fd, addr.sa(), addr.len()) < 0) return unexpected(core::last_os_error("bind"));
    if (stream && ::listen(fd, backlog) < 0) return unexpected(core::last_os_error("listen"));
    if (sharing == port_sharing::claim)
        return set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
    return {};
}

std::string bind_error_text(const os_error& e) {
    if (e.code == EADDRINUSE) return "address already in use";
    return e.message();
}

result<void, os_error> set_linger_zero(int fd) {
    linger l{1, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
        return unexpected(core::last_os_error("setsockopt(SO_LINGER)"));
    return {};
}

const char* to_string(io_error e) {
    switch (e) {
        case io_error::would_block:
            return "would_block";
        case io_error::eof:
            return "eof";
        case io_error::reset:
            return "reset";
        case io_error::other:
            return "other";
    }
    return "?";
}

io_error io_error_from_errno(int e) {
    switch (e) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case EINTR:
            return io_error::would_block;
        case ECONNRESET:
        case EPIPE:
        case ECONNABORTED:
        case ETIMEDOUT:
            return io_error::reset;
        default:
            return io_error::other;
    }
}

result<std::size_t, io_error> tcp_stream::read(mutable_byte_view buf) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return unexpected(io_error::eof);
    return unexpected(io_error_from_errno(errno));
}

result<std::size_t, io_error> tcp_stream::writev(const iovec* iov, int n) {
    // sendmsg rather than writev for MSG_NOSIGNAL: a reset peer must not raise SIGPIPE.
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = static_cast<std::size_t>(n);
    ssize_t w = ::sendmsg(fd_.get(), &m, MSG_NOSIGNAL);
    if (w >= 0) return static_cast<std::size_t>(w);
    return unexpected(io_error_from_errno(errno));
}

result<std::size_t, io_error> tcp_stream::sendfile(int file_fd, off_t off, std::size_t len) {
    ssize_t w = ::sendfile(fd_.get(), file_fd, &off, len);
    if (w > 0) return static_cast<std::size_t>(w);
    if (w == 0) return unexpected(io_error::other);  // file shorter than announced
    return unexpected(io_error_from_errno(errno));
}

void tcp_stream::shutdown_write() {
    ::shutdown(fd_.get(), SHUT_WR);
}

void tcp_stream::close(bool abort) {
    if (abort && fd_) (void)set_linger_zero(fd_.get());
    fd_.reset();
}

}  // namespace sy::net
