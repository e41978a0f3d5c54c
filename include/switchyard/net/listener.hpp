// listener: a listening TCP socket on one loop that accepts connections.
//
// Each readable event accepts with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) until EAGAIN or
// options.accept_batch sockets (so one busy listener cannot starve the loop; the level-triggered
// poller reports it again next turn). Accepted sockets get TCP_NODELAY (option).
// What happens to an accepted socket is the callback's decision: wrap it in a connection on this
// loop, or post it (accepted_socket is move-only) to another loop for round-robin.
//
// Connection limit: with options.limit set, each accepted socket must take a slot; when none is
// left the refuse callback gets the socket instead (default: close it at once; a server can write
// an "HTTP/1.1 503" first). The slot travels inside accepted_socket into the connection.
//
// EMFILE/ENFILE: the listener keeps one spare fd (/dev/null); when out of descriptors it frees the
// spare, accepts and immediately closes the pending connection (the client sees a clean close, not
// a hang), reopens the spare, and pauses accepting for options.emfile_pause.
//
// Thread: the loop's thread only (create, callbacks, pause/resume, destruction).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/net/socket.hpp"

namespace sy::net {

struct accepted_socket {
    unique_fd fd;
    address peer;
    connection_slot slot;  ///< empty when no limit applies (or in the refuse callback)
};

struct listener_options {
    int backlog = 1024;  ///< capped by net.core.somaxconn
    /// SO_REUSEPORT (one listener per loop, the kernel balances): the first socket of an address
    /// claims it, the others join (see bind_address). SO_REUSEADDR is always on.
    port_sharing sharing = port_sharing::exclusive;
    int defer_accept_seconds = 0;  ///< TCP_DEFER_ACCEPT: wake only when data arrived (0 = off)
    bool tcp_nodelay = true;
    bool ipv6_only = true;       ///< for [::] addresses
    unsigned accept_batch = 64;  ///< accepts per readable event
    /// One socket shared by several processes (prefork): each event wakes one of them
    /// (EPOLLEXCLUSIVE) instead of all (the thundering herd).
    bool exclusive_wakeup = false;
    millis emfile_pause{100};
    connection_limit* limit = nullptr;  ///< process-wide max connections (shared by loops)
};

struct listener_stats {
    core::counter accepted;
    core::counter refused;  ///< over the connection limit
    core::counter emfile;   ///< out of descriptors events
    core::counter errors;   ///< other accept errors
};

/// socket + options + bind + listen, without a loop (prefork parents bind before forking).
result<unique_fd, os_error> bind_listen_socket(const address& addr, const listener_options& o);

class listener final : private core::io_handler {
  public:
    using accept_fn = std::function<void(accepted_socket&&)>;

    /// Binds, listens and registers with l. on_refused may be empty (close at once).
    static result<std::unique_ptr<listener>, os_error> open(core::loop& l, const address& addr,
                                                            const listener_options& o,
                                                            accept_fn on_accept,
                                                            accept_fn on_refused = {});
    /// Registers an already bound and listening socket (prefork: the parent binds, each child
    /// adopts its inherited copy). Options apply to accepting only (backlog etc. were set at
    /// bind_listen_socket).
    static result<std::unique_ptr<listener>, os_error> adopt(core::loop& l, unique_fd fd,
                                                             const listener_options& o,
                                                             accept_fn on_accept,
                                                             accept_fn on_refused = {});
    ~listener();
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    /// The bound address (the real port when port 0 was asked).
    const address& local_address() const { return local_; }
    std::uint16_t port() const { return local_.port(); }
    int fd() const { return fd_.get(); }

    /// Stop/start accepting (the kernel keeps queueing up to the backlog meanwhile).
    void pause();
    void resume();
    bool paused() const { return paused_; }

    /// Accept queue depth and limit (TCP_INFO on the listening socket).
    result<listen_queue_info, os_error> queue_info() const { return listen_queue(fd_.get()); }
    const listener_stats& stats() const { return stats_; }

  private:
    listener(core::loop& l, unique_fd fd, const listener_options& o, accept_fn a, accept_fn r);
    void on_io(std::uint32_t events) override;
    void handle_emfile();
    /// Readable interest on or off (first call: the poller add; see exclusive_wakeup).
    result<void, os_error> watch(bool on);

    core::loop& loop_;
    unique_fd fd_;
    unique_fd spare_;
    address local_;
    bool nodelay_inherited_ = false;
    bool registered_ =
        false;  // in the poller  // TCP_NODELAY set on the listening socket (Linux copies it)
    listener_options opts_;
    accept_fn on_accept_;
    accept_fn on_refused_;
    core::timer_id resume_timer_;
    bool paused_ = false;
    bool emfile_paused_ = false;
    listener_stats stats_;
};

}  // namespace sy::net
