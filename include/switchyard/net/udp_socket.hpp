// udp_socket: a bound UDP socket on one loop with batched I/O.
//
// Receive: each readable event drains up to options.batch datagrams per recvmmsg call (at most
// options.max_batches calls per event), handing each batch to the callback as a span of datagram
// views. The views point into the socket's receive slab and are valid only during the callback.
// Send: send_to() copies the datagram into a queue flushed with sendmmsg (batch at a time) before
// the loop sleeps. If the kernel pushes back (EAGAIN), writable is armed and the queue waits, up to
// options.max_send_queue datagrams; beyond that new datagrams are dropped and counted (UDP is
// lossy anyway; the counter makes it visible).
// Thread: the loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/socket.hpp"

namespace sy::net {

struct datagram {
    byte_view data;
    const address* peer;  ///< valid during the callback
};

struct udp_options {
    unsigned batch = 32;                ///< datagrams per recvmmsg / sendmmsg
    unsigned max_batches = 4;           ///< recvmmsg calls per readable event (fairness)
    std::size_t max_datagram = 2048;    ///< receive size per datagram (larger ones are truncated)
    std::size_t max_send_queue = 4096;  ///< datagrams waiting; beyond it they are dropped
    /// SO_REUSEPORT (one socket per loop): the first socket of an address claims it, the others
    /// join (see bind_address).
    port_sharing sharing = port_sharing::exclusive;
    int recv_buffer = 0;  ///< SO_RCVBUF (0 = kernel default)
    int send_buffer = 0;  ///< SO_SNDBUF
};

struct udp_stats {
    core::counter rx_datagrams, rx_batches, rx_truncated;
    core::counter tx_datagrams, tx_batches, tx_dropped, tx_errors;
};

class udp_socket final : private core::io_handler, private core::before_sleep_hook {
  public:
    using receive_fn = std::function<void(udp_socket&, std::span<const datagram>)>;

    static result<std::unique_ptr<udp_socket>, os_error> bind(core::loop& l, const address& addr,
                                                              const udp_options& o,
                                                              receive_fn on_receive);
    ~udp_socket() override;
    udp_socket(const udp_socket&) = delete;
    udp_socket& operator=(const udp_socket&) = delete;

    /// Queues one datagram (copied). false if dropped (queue full).
    bool send_to(byte_view data, const address& to);
    /// Sends the queue now rather than before sleeping.
    void flush();
    std::size_t queued() const { return send_.size(); }

    const address& local_address() const { return local_; }
    int fd() const { return fd_.get(); }
    const udp_stats& stats() const { return stats_; }

  private:
    udp_socket(core::loop& l, unique_fd fd, const udp_options& o, receive_fn f);
    void on_io(std::uint32_t events) override;
    void before_sleep() override { flush(); }
    void receive();

    struct pending {
        std::size_t offset;
        std::size_t length;
        address to;
    };

    core::loop& loop_;
    unique_fd fd_;
    address local_;
    udp_options opts_;
    receive_fn on_receive_;
    std::vector<std::uint8_t> slab_;  // batch * max_datagram receive space
    std::vector<address> peers_;
    std::vector<datagram> views_;
    byte_buffer send_bytes_;
    std::vector<pending> send_;
    std::size_t send_head_ = 0;
    bool want_write_ = false;
    udp_stats stats_;
};

}  // namespace sy::net
