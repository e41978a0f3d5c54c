// epoll implementation of sy::core::poller (level-triggered).
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "poller_impl.hpp"

namespace sy::core {

std::string os_error::message() const {
    std::string m = what;
    m += ": ";
    m += std::strerror(code);
    return m;
}

os_error last_os_error(const char* what) {
    return os_error{errno, what};
}

namespace {

std::uint32_t to_epoll(std::uint32_t interest) {
    std::uint32_t e = 0;
    if (interest & ev::readable) e |= EPOLLIN;
    if (interest & ev::writable) e |= EPOLLOUT;
    if (interest & ev::peer_closed) e |= EPOLLRDHUP;
    if (interest & ev::exclusive) e |= EPOLLEXCLUSIVE;
    return e;
}

std::uint32_t from_epoll(std::uint32_t e) {
    std::uint32_t r = 0;
    if (e & (EPOLLIN | EPOLLPRI)) r |= ev::readable;
    if (e & EPOLLOUT) r |= ev::writable;
    if (e & EPOLLRDHUP) r |= ev::peer_closed;
    if (e & EPOLLHUP) r |= ev::hangup;
    if (e & EPOLLERR) r |= ev::error;
    return r;
}

class epoll_poller final : public poller {
  public:
    epoll_poller() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
    ~epoll_poller() override { ::close(fd_); }

    result<void, os_error> add(int fd, std::uint32_t interest, io_handler* h) override {
        return ctl(EPOLL_CTL_ADD, fd, interest, h, "epoll_ctl(ADD)");
    }
    result<void, os_error> modify(int fd, std::uint32_t interest, io_handler* h) override {
        return ctl(EPOLL_CTL_MOD, fd, interest, h, "epoll_ctl(MOD)");
    }
    result<void, os_error> remove(int fd) override {
        if (::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr) < 0)
            return unexpected(last_os_error("epoll_ctl(DEL)"));
        return {};
    }

    void forget(int) override {}  // closing the last reference leaves the epoll set

    int wait(std::span<poll_event> out, int timeout_ms) override {
        // The epoll_event array lives on the stack in chunks so out can be any size.
        constexpr int chunk = 256;
        epoll_event evs[chunk];
        int max = static_cast<int>(out.size() < chunk ? out.size() : chunk);
        int n = ::epoll_wait(fd_, evs, max, timeout_ms);
        if (n < 0) return 0;  // EINTR: treat as a spurious wakeup
        for (int i = 0; i < n; ++i) {
            out[i] =
                poll_event{static_cast<io_handler*>(evs[i].data.ptr), from_epoll(evs[i].events)};
        }
        return n;
    }

    const char* name() const override { return "epoll"; }
    int native_handle() const override { return fd_; }

  private:
    result<void, os_error> ctl(int op, int fd, std::uint32_t interest, io_handler* h,
                               const char* what) {
        epoll_event e{};
        e.events = to_epoll(interest);
        e.data.ptr = h;
        if (::epoll_ctl(fd_, op, fd, &e) < 0) return unexpected(last_os_error(what));
        return {};
    }

    int fd_;
};

}  // namespace

std::unique_ptr<poller> create_poller(poller_kind kind) {
    switch (kind) {
        case poller_kind::epoll:
            return std::make_unique<epoll_poller>();
        case poller_kind::io_uring:
            return make_uring_poller();
    }
    return std::make_unique<epoll_poller>();
}

}  // namespace sy::core
