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
