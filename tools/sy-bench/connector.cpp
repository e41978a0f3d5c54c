#include "connector.hpp"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace sy::bench {

namespace {

class connector final : public core::io_handler {
  public:
    connector(core::loop& l, int fd, connect_done done)
        : loop_(l), fd_(fd), done_(std::move(done)) {}

    void arm(millis timeout) {
        if (auto r = loop_.io().add(fd_, core::ev::writable, this); !r) {
            finish(-1, EBADF);
            return;
        }
        registered_ = true;
        timer_ = loop_.add_timer(timeout, [this] {
            timer_armed_ = false;
            finish(-1, ETIMEDOUT);
        });
        timer_armed_ = true;
    }

    void on_io(std::uint32_t) override {
        if (done_called_) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        finish(err ? -1 : fd_, err);
    }

    void finish(int fd, int err) {
        if (done_called_) return;
        done_called_ = true;
        if (timer_armed_) loop_.cancel_timer(timer_);
        if (registered_) (void)loop_.io().remove(fd_);
        if (fd < 0) ::close(fd_);
        auto done = std::move(done_);
        loop_.destroy_later(std::unique_ptr<connector>(this));
        done(fd, err);
    }

  private:
    core::loop& loop_;
    int fd_;
    connect_done done_;
    core::timer_id timer_{};
    bool registered_ = false;
    bool timer_armed_ = false;
    bool done_called_ = false;
};

}  // namespace

void async_connect(core::loop& l, const net::address& dst, const net::address* src, millis timeout,
                   connect_done done) {
    int fd = ::socket(dst.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        done(-1, errno);
        return;
    }
    if (src) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd, src->sa(), src->len()) != 0) {
            int e = errno;
            ::close(fd);
            done(-1, e);
            return;
        }
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, dst.sa(), dst.len()) == 0) {
        done(fd, 0);
        return;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        ::close(fd);
        done(-1, e);
        return;
    }
    (new connector(l, fd, std::move(done)))->arm(timeout);
}

}  // namespace sy::bench
