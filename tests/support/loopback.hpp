// Loopback helpers for net/session tests: socket pairs, blocking TCP clients with timeouts, and
// running a loop until a condition holds. Header-only; test code.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/socket.hpp"

namespace sy::test {

struct socket_pair {
    net::unique_fd a;  ///< non-blocking: give it to a connection
    net::unique_fd b;  ///< blocking (5 s receive timeout): the test's peer
};

inline socket_pair make_socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
    (void)net::set_nonblocking(fds[0]);
    timeval tv{5, 0};
    ::setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return {net::unique_fd(fds[0]), net::unique_fd(fds[1])};
}

/// Blocking TCP connect to 127.0.0.1:port (a recv timeout of timeout_ms guards every read).
inline net::unique_fd connect_tcp(std::uint16_t port, int timeout_ms = 5000) {
    net::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto addr = net::address::ipv4_loopback(port);
    if (::connect(fd.get(), addr.sa(), addr.len()) != 0) return {};
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

inline bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// Reads exactly n bytes (blocking, subject to the socket's timeout); shorter on EOF/timeout.
inline std::string read_exact(int fd, std::size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
        std::size_t want = n - out.size() < sizeof buf ? n - out.size() : sizeof buf;
        ssize_t r = ::recv(fd, buf, want, 0);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

/// Reads until EOF (or error/timeout). eof is set when the peer closed cleanly.
inline std::string read_to_eof(int fd, bool* eof = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            out.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        if (eof) *eof = (r == 0);
        return out;
    }
}

/// Non-blocking read of whatever is there now.
inline std::string read_available(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0) return out;
        out.append(buf, static_cast<std::size_t>(r));
    }
}

/// Runs turns of l until pred() or timeout; returns pred().
template <typename Pred>
bool run_until(core::loop& l, Pred&& pred, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        l.run_once(5);
    }
    return true;
}

}  // namespace sy::test
