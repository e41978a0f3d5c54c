// poller: the narrow readiness interface the loop drives, with two implementations behind the same
// operations (create_poller picks one): epoll (src/core/epoll_poller.cpp) and io_uring
// (src/core/uring_poller.cpp: one-shot IORING_OP_POLL_ADD per registration, re-armed after each
// event, so the semantics below hold unchanged; submissions and the wait are one io_uring_enter).
//
// Thread: a poller belongs to one loop and is used from that loop's thread only.
// Registration: `add(fd, interest, handler)` stores the handler pointer with the fd; wait() returns
// (handler, events) pairs. The handler must stay alive until `remove(fd)` AND the end of the
// dispatch batch that may still hold it (the loop's deferred-close rule, see loop.hpp).
// Level-triggered: an fd stays reported while the condition holds, so interest is narrowed with
// modify() (e.g. writable is armed only after the kernel returned EAGAIN).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "switchyard/base/result.hpp"
#include "switchyard/core/error.hpp"

namespace sy::core {

/// Interest and event bits (the poller translates them to epoll/io_uring flags).
namespace ev {
inline constexpr std::uint32_t none = 0;
inline constexpr std::uint32_t readable = 1u << 0;     ///< data or a pending accept
inline constexpr std::uint32_t writable = 1u << 1;     ///< send buffer has room
inline constexpr std::uint32_t peer_closed = 1u << 2;  ///< peer sent FIN (EPOLLRDHUP)
inline constexpr std::uint32_t hangup = 1u << 3;       ///< both directions closed (event only)
inline constexpr std::uint32_t error = 1u << 4;        ///< socket error pending (event only)
/// add() only: among the pollers (processes) that share this fd, wake one per event
/// (EPOLLEXCLUSIVE). Such a registration cannot be modify()'d: remove() and add() again.
inline constexpr std::uint32_t exclusive = 1u << 5;
}  // namespace ev

/// Something registered with the poller. on_io runs on the loop thread with the ev:: bits seen.
class io_handler {
  public:
    virtual void on_io(std::uint32_t events) = 0;

  protected:
    ~io_handler() = default;
};

struct poll_event {
    io_handler* handler;
    std::uint32_t events;
};

class poller {
  public:
    virtual ~poller() = default;

    virtual result<void, os_error> add(int fd, std::uint32_t interest, io_handler* h) = 0;
    virtual result<void, os_error> modify(int fd, std::uint32_t interest, io_handler* h) = 0;
    /// Removes fd. Call before closing it (a closed fd leaves epoll on its own only when no dup
    /// of it remains, so removal is explicit).
    virtual result<void, os_error> remove(int fd) = 0;
    /// The caller closes fd right after this call instead of remove()ing it; fd was added and
    /// has no dup. epoll drops a closed fd by itself (no syscall); io_uring cancels its poll,
    /// which holds the file open (the socket would not close and the fd's number, once reused,
    /// would still be registered).
    virtual void forget(int fd) = 0;
    /// Waits up to timeout_ms (-1 = forever, 0 = poll) and fills out; returns the count (0 on
    /// timeout or EINTR).
    virtual int wait(std::span<poll_event> out, int timeout_ms) = 0;
    virtual const char* name() const = 0;
    /// The fd a parent poller could watch (epoll fd), -1 if none.
    virtual int native_handle() const = 0;
};

enum class poller_kind { epoll, io_uring };

/// Creates a poller. Throws std::system_error at start-up if the kernel refuses (io_uring: the
/// error of io_uring_queue_init, e.g. EPERM under a seccomp filter, ENOSYS on an old kernel).
std::unique_ptr<poller> create_poller(poller_kind kind = poller_kind::epoll);

/// Whether an io_uring poller can be created here: reads /proc/sys/kernel/io_uring_disabled and
/// sets up (and tears down) a small ring. On false, *why (if given) says what refused it, as
/// "io_uring_queue_init: Operation not permitted". Any thread; a few syscalls (start-up only).
bool io_uring_usable(std::string* why = nullptr);

}  // namespace sy::core
