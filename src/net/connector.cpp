// connector: non-blocking connect(2) with a deadline (see the header).
#include "switchyard/net/connector.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "switchyard/net/socket.hpp"

namespace sy::net {

std::unique_ptr<connector> connector::start(core::loop& l, const address& addr, millis timeout,
                                            std::unique_ptr<connection_handler> handler,
                                            const connection_options& options,
                                            connect_callback done, const tls_client* tls) {
    std::unique_ptr<connector> c(new connector(l, std::move(handler), options, std::move(done)));
    c->tls_ = tls;
    connector* self = c.get();
    c->fd_ = unique_fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int err = 0;
    if (c->fd_.get() < 0) {
        err = errno;
    } else if (::connect(c->fd_.get(), addr.sa(), addr.len()) != 0 && errno != EINPROGRESS) {
        err = errno;
    } else if (auto r = l.io().add(c->fd_.get(), core::ev::writable, c.get()); !r) {
        err = r.error().code;
    } else {
        c->registered_ = true;
    }
    if (err != 0) {
        // Reported from the loop, not inside start(): the caller's state is settled by then.
        c->early_error_ = err;
        c->timer_ = l.add_timer(millis(0), [self] {
            self->timer_ = {};
            self->finish(unexpected(core::os_error{self->early_error_, "connect"}));
        });
        return c;
    }
    c->timer_ = l.add_timer(timeout, [self] {
        self->timer_ = {};
        self->finish(unexpected(core::os_error{ETIMEDOUT, "connect"}));
    });
    return c;
}

connector::~connector() {
    stop_watching();
}

void connector::stop_watching() {
    if (registered_) {
        (void)loop_.io().remove(fd_.get());
        registered_ = false;
    }
    if (loop_.timer_pending(timer_)) loop_.cancel_timer(timer_);
    timer_ = {};
}

void connector::on_io(std::uint32_t) {
    if (finished_) return;  // finished earlier in this batch
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
        finish(unexpected(core::os_error{err, "connect"}));
        return;
    }
    stop_watching();  // before the fd moves out
    finish(std::move(fd_));
}

void connector::finish(result<unique_fd, core::os_error> r) {
    stop_watching();
    connect_callback done = std::move(done_);
    std::unique_ptr<connection_handler> handler = std::move(handler_);
    fd_ = unique_fd();
    finished_ = true;  // done may destroy *this: nothing is touched after it
    if (!r) {
        done(unexpected(r.error()));
        return;
    }
    const int fd = r->get();
    if (options_.tcp_nodelay) (void)set_nodelay(fd);
    connection* conn =
        tls_ ? connection::create(loop_, tls_->make_stream(std::move(*r)), std::move(handler),
                                  options_)
             : connection::create(loop_, tcp_stream(std::move(*r)), std::move(handler), options_);
    if (!conn) {
        done(unexpected(core::os_error{EBADF, "connect"}));
        return;
    }
    done(conn);
}

}  // namespace sy::net
