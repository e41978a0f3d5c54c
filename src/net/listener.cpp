#include "switchyard/net/listener.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sy::net {

namespace {

result<void, os_error> set_int_opt(int fd, int level, int name, int v, const char* what) {
    if (::setsockopt(fd, level, name, &v, sizeof v) < 0)
        return unexpected(core::last_os_error(what));
    return {};
}

result<unique_fd, os_error> make_listen_socket(const address& addr, const listener_options& o) {
    unique_fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return unexpected(core::last_os_error("socket"));
    if (addr.is_v6()) {
        auto r = set_int_opt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, o.ipv6_only ? 1 : 0,
                             "setsockopt(IPV6_V6ONLY)");
        if (!r) return unexpected(r.error());
    }
    if (o.defer_accept_seconds > 0) {
        auto r = set_int_opt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, o.defer_accept_seconds,
                             "setsockopt(TCP_DEFER_ACCEPT)");
        if (!r) return unexpected(r.error());
    }
    if (auto r = bind_address(fd.get(), addr, o.sharing, o.backlog); !r)
        return unexpected(r.error());
    return fd;
}

}  // namespace

result<unique_fd, os_error> bind_listen_socket(const address& addr, const listener_options& o) {
    return make_listen_socket(addr, o);
}

result<std::unique_ptr<listener>, os_error> listener::open(core::loop& l, const address& addr,
                                                           const listener_options& o,
                                                           accept_fn on_accept,
                                                           accept_fn on_refused) {
    auto fd = make_listen_socket(addr, o);
    if (!fd) return unexpected(fd.error());
    return adopt(l, std::move(*fd), o, std::move(on_accept), std::move(on_refused));
}

result<std::unique_ptr<listener>, os_error> listener::adopt(core::loop& l, unique_fd fd,
                                                            const listener_options& o,
                                                            accept_fn on_accept,
                                                            accept_fn on_refused) {
    if (auto r = set_nonblocking(fd.get()); !r) return unexpected(r.error());
    // Linux copies TCP_NODELAY from the listening socket to every accepted one: one
    // setsockopt here instead of one per connection (kept per accept if this fails).
    const bool nodelay_inherited = o.tcp_nodelay && set_nodelay(fd.get()).has_value();
    address local;
    *local.len_ptr() = address::capacity();
    if (::getsockname(fd.get(), local.sa(), local.len_ptr()) < 0)
        return unexpected(core::last_os_error("getsockname"));
    std::unique_ptr<listener> lst(
        new listener(l, std::move(fd), o, std::move(on_accept), std::move(on_refused)));
    lst->local_ = local;
    lst->nodelay_inherited_ = nodelay_inherited;
    if (auto r = lst->watch(true); !r) return unexpected(r.error());
    return lst;
}

listener::listener(core::loop& l, unique_fd fd, const listener_options& o, accept_fn a, accept_fn r)
    : loop_(l),
      fd_(std::move(fd)),
      spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      opts_(o),
      on_accept_(std::move(a)),
      on_refused_(std::move(r)) {}

listener::~listener() {
    loop_.cancel_timer(resume_timer_);
    if (registered_) (void)loop_.io().remove(fd_.get());
}

result<void, os_error> listener::watch(bool on) {
    if (!opts_.exclusive_wakeup) {
        if (registered_) return loop_.io().modify(fd_.get(), on ? core::ev::readable : 0, this);
        registered_ = true;
        return loop_.io().add(fd_.get(), on ? core::ev::readable : 0, this);
    }
    // EPOLLEXCLUSIVE registrations cannot be modified: out and in again.
    if (on == registered_) return {};
    registered_ = on;
    if (!on) return loop_.io().remove(fd_.get());
    return loop_.io().add(fd_.get(), core::ev::readable | core::ev::exclusive, this);
}

void listener::pause() {
    if (paused_) return;
    paused_ = true;
    if (!emfile_paused_) (void)watch(false);
}

void listener::resume() {
    if (!paused_) return;
    paused_ = false;
    if (!emfile_paused_) (void)watch(true);
}

void listener::on_io(std::uint32_t) {
    if (paused_ || emfile_paused_) return;
    for (unsigned i = 0; i < opts_.accept_batch; ++i) {
        accepted_socket s;
        *s.peer.len_ptr() = address::capacity();
        int fd = ::accept4(fd_.get(), s.peer.sa(), s.peer.len_ptr(), SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;  // that one is gone
            if (e == EMFILE || e == ENFILE) {
                handle_emfile();
                return;
            }
            stats_.errors.add();
            return;
        }
        s.fd.reset(fd);
        if (opts_.tcp_nodelay && !nodelay_inherited_) (void)set_nodelay(fd);
        if (opts_.limit) {
            s.slot = opts_.limit->try_acquire();
            if (!s.slot.held()) {
                stats_.refused.add();
                if (on_refused_) on_refused_(std::move(s));
                continue;  // s closes the fd if the callback did not take it
            }
        }
        stats_.accepted.add();
        on_accept_(std::move(s));
    }
}

void listener::handle_emfile() {
    stats_.emfile.add();
    // Shed the connection at the head of the queue instead of leaving it to time out, then back
    // off: descriptors come back as connections close.
    if (spare_) {
        spare_.reset();
        int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
        spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    emfile_paused_ = true;
    (void)watch(false);
    resume_timer_ = loop_.add_timer(opts_.emfile_pause, [this] {
        emfile_paused_ = false;
        if (!paused_) (void)watch(true);
    });
}

}  // namespace sy::net
