#include "sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/fd.hpp"
#include "switchyard/base/log.hpp"

namespace sy::server::notify {

namespace {

// $NOTIFY_SOCKET is a path, or "@name" for the abstract namespace (sd_notify(3)).
bool socket_address(const char* name, sockaddr_un& sa, socklen_t& len) {
    const std::size_t n = std::strlen(name);
    if (n == 0 || n >= sizeof sa.sun_path || (name[0] != '/' && name[0] != '@')) return false;
    std::memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, name, n);
    if (name[0] == '@') sa.sun_path[0] = '\0';
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    return true;
}

}  // namespace

bool send(std::string_view state) {
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (name == nullptr) return false;
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!socket_address(name, sa, len)) {
        log::warn("NOTIFY_SOCKET '{}': not a socket path or @name; no readiness sent", name);
        return false;
    }
    unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return false;
    const ssize_t sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&sa), len);
    if (sent != static_cast<ssize_t>(state.size())) {
        log::warn("NOTIFY_SOCKET {}: {}", name, std::strerror(errno));
        return false;
    }
    return true;
}

void ready() {
    send("READY=1\nSTATUS=serving");
}

void reloading() {
    // systemd wants CLOCK_MONOTONIC, which is the steady clock of base/clock.hpp.
    send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(sy::now_ns() / 1000));
}

void stopping() {
    send("STOPPING=1\nSTATUS=draining connections");
}

void forget() {
    ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace sy::server::notify
