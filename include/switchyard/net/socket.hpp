// Socket plumbing shared by listener, connection and udp_socket: an owning fd, the process-wide
// connection limit, and small option setters.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "switchyard/base/fd.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/net/address.hpp"

namespace sy::net {

using core::os_error;

/// Owned file descriptor: the one in base/fd.hpp.
using sy::unique_fd;

class connection_limit;

/// One unit of a connection_limit, held by an accepted socket and then by its connection;
/// released when destroyed. Empty when no limit applies. Move-only, any thread.
class connection_slot {
  public:
    connection_slot() = default;
    connection_slot(connection_slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
    connection_slot& operator=(connection_slot&& o) noexcept;
    connection_slot(const connection_slot&) = delete;
    connection_slot& operator=(const connection_slot&) = delete;
    ~connection_slot() { release(); }
    bool held() const { return owner_ != nullptr; }
    void release();

  private:
    friend class connection_limit;
    explicit connection_slot(connection_limit* o) : owner_(o) {}
    connection_limit* owner_ = nullptr;
};

/// Maximum open connections per process, shared by every loop (one atomic counter).
/// Thread-safe. Must outlive every slot it handed out.
class connection_limit {
  public:
    explicit connection_limit(std::uint64_t max) : max_(max) {}
    /// A held slot, or an empty one when max() connections are open.
    connection_slot try_acquire() {
        std::uint64_t cur = current_.load(std::memory_order_relaxed);
        do {
            if (cur >= max_.load(std::memory_order_relaxed)) return {};
        } while (!current_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
        return connection_slot(this);
    }
    std::uint64_t current() const { return current_.load(std::memory_order_relaxed); }
    std::uint64_t max() const { return max_.load(std::memory_order_relaxed); }
    void set_max(std::uint64_t m) { max_.store(m, std::memory_order_relaxed); }

  private:
    friend class connection_slot;
    std::atomic<std::uint64_t> current_{0};
    std::atomic<std::uint64_t> max_;
};

inline connection_slot& connection_slot::operator=(connection_slot&& o) noexcept {
    if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
    }
    return *this;
}
inline void connection_slot::release() {
    if (owner_) {
        owner_->current_.fetch_sub(1, std::memory_order_relaxed);
        owner_ = nullptr;
    }
}

/// How a listening (or UDP) socket takes its address. SO_REUSEPORT lets any socket of the same
/// uid that sets it join the address's group, so a group is only this process's if its first
/// socket took the address alone: see bind_address.
enum class port_sharing {
    exclusive,  ///< no SO_REUSEPORT: the only socket on the address
    claim,      ///< the first socket of this process's group: takes the address alone, then
                ///< sets SO_REUSEPORT so its siblings can join
    join,       ///< a later socket of the group, after a sibling's claim (same process, or the
                ///< prefork parent's inherited socket); never the first on an address
};

/// Binds fd (a fresh socket) to addr under the sharing rule; listens with backlog when
/// backlog >= 0 (stream sockets; pass -1 for datagram sockets). Stream sockets get SO_REUSEADDR
/// (a restart binds over the last run's TIME_WAIT and draining connections); datagram sockets
/// never do (on UDP it would let any socket share the address). Fails with EADDRINUSE when
/// another socket, of any process, holds the address (a claim or exclusive bind).
result<void, os_error> bind_address(int fd, const address& addr, port_sharing sharing, int backlog);

/// The text for a failed bind_address: "address already in use" for EADDRINUSE (whether bind or
/// listen saw it), else e.message().
std::string bind_error_text(const os_error& e);

result<void, os_error> set_nodelay(int fd, bool on = true);
result<void, os_error> set_nonblocking(int fd);
/// SO_LINGER {1, 0}: the next close() sends RST instead of FIN (abortive close).
result<void, os_error> set_linger_zero(int fd);

}  // namespace sy::net
