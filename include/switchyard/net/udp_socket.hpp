// udp_socket: a bound UDP socket on one loop with batched I/O.
//
// Receive: each readable event drains up to options.batch datagrams per recvmmsg call (at most
// options.max_batches calls per event), handing each batch to the callback as a span of datagram
// views. The views point into the socket's receive slab and are valid only during the callback.
// Send: send_to() copies the datagram into a queue flushed with sendmmsg (batch at a time) before
// the loop sleeps. If the kernel pushes back (EAGAIN), writable is armed and the queue waits, up to
// options.max_send_queue datagrams; beyond that new datagrams are dropped and counted (UDP is
// lossy anyway; the counter makes it visible).
// Per-datagram metadata (options): the destination address (IP_PKTINFO / IPV6_RECVPKTINFO, so a
// wildcard-bound socket can answer from the address the peer used), the ECN codepoint
// (IP_RECVTOS / IPV6_RECVTCLASS), and GRO (UDP_GRO: the kernel hands over a train of same-size
// datagrams from one peer as one buffer; the socket splits it back into views). On send, a
// datagram may carry an ECN codepoint, a source address, and a GSO segment size (UDP_SEGMENT:
// one buffer leaves as a train of datagrams); where the kernel has no GSO the socket splits the
// train itself, so callers need not probe.
// Thread: the loop's thread only.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

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
    const address* local =
        nullptr;             ///< where it was sent to (pktinfo; port = the socket's), or null
    std::uint8_t ecn = 0;    ///< ECN codepoint of the IP header (RFC 3168: 0..3); 0 without ecn
    bool forwarded = false;  ///< handed over from another loop (server::datagram_endpoint)
};

/// Optional attributes of one queued datagram (or GSO train).
struct send_meta {
    std::uint8_t ecn = 0;           ///< ECN codepoint to set (0 = Not-ECT)
    std::uint16_t segment = 0;      ///< GSO: data is datagrams of this size (the last may be
                                    ///< shorter), at most 64 of them; 0 = one datagram
    const address* from = nullptr;  ///< source IP (IP_PKTINFO) for a wildcard-bound socket
};

struct udp_stats;

struct udp_options {
    unsigned batch = 32;                ///< datagrams per recvmmsg / sendmmsg
    unsigned max_batches = 4;           ///< recvmmsg calls per readable event (fairness)
    std::size_t max_datagram = 2048;    ///< receive size per datagram (larger ones are truncated)
    std::size_t max_send_queue = 4096;  ///< datagrams waiting; beyond it they are dropped
    /// SO_REUSEPORT (one socket per loop): the first socket of an address claims it, the others
    /// join (see bind_address).
    port_sharing sharing = port_sharing::exclusive;
    int recv_buffer = 0;   ///< SO_RCVBUF (0 = kernel default)
    int send_buffer = 0;   ///< SO_SNDBUF
    bool pktinfo = false;  ///< report each datagram's destination address (datagram::local)
    bool ecn = false;      ///< report each datagram's ECN codepoint (datagram::ecn)
    /// UDP_GRO where the kernel has it: trains of up to max_datagram bytes are received whole and
    /// split here (set max_datagram to 65535 to profit).
    bool gro = false;
    /// Counters to add to instead of the socket's own (several sockets of one loop sharing one
    /// set, which then outlives them); written on the loop thread only.
    udp_stats* shared_stats = nullptr;
};

/// Written on the socket's loop only (the socket, and its users through counters()).
struct udp_stats {
    core::counter rx_datagrams, rx_batches, rx_truncated, rx_gro_trains;
    core::counter rx_empty, rx_unclaimed;  ///< dropped by a datagram_demux
    core::counter rx_forwarded;            ///< handed over from another loop (runtime)
    core::counter tx_datagrams, tx_batches, tx_dropped, tx_errors, tx_gso_trains;
};

/// Linux reuseport steering for QUIC (SO_ATTACH_REUSEPORT_CBPF on any member of fd's
/// SO_REUSEPORT group): a datagram whose destination connection ID is server-chosen (cid_len
/// bytes; a short header, or a long header whose DCID has that length) goes to the group member
/// whose index is the ID's first byte, so a client that changed address or port still reaches
/// the socket (loop, prefork child) that owns its connection. Every other datagram (client-chosen
/// IDs, non-QUIC first bytes, an index beyond the group) keeps the kernel's 4-tuple hash. Members
/// are indexed in bind order, so the caller binds member i for the owner named i.
result<void, os_error> steer_by_connection_id(int fd, std::uint8_t cid_len);

class udp_socket final : private core::io_handler, private core::before_sleep_hook {
  public:
    using receive_fn = std::function<void(udp_socket&, std::span<const datagram>)>;

    static result<std::unique_ptr<udp_socket>, os_error> bind(core::loop& l, const address& addr,
                                                              const udp_options& o,
                                                              receive_fn on_receive);
    ~udp_socket() override;
    udp_socket(const udp_socket&) = delete;
    udp_socket& operator=(const udp_socket&) = delete;

    /// Queues one datagram, or a GSO train when meta.segment is set (copied). false if dropped
    /// (queue full).
    bool send_to(byte_view data, const address& to, const send_meta& meta = {});
    /// Sends the queue now rather than before sleeping.
    void flush();
    std::size_t queued() const { return send_.size(); }

    const address& local_address() const { return local_; }
    int fd() const { return fd_.get(); }
    const udp_stats& stats() const { return *stats_; }
    udp_stats& counters() { return *stats_; }  ///< loop thread: for the socket's users to count
    /// Whether the kernel took UDP_SEGMENT / UDP_GRO on this socket.
    bool has_gso() const { return gso_; }
    bool has_gro() const { return gro_; }
    /// A socket bound elsewhere (the prefork parent's): registered on l like bind()'s.
    static result<std::unique_ptr<udp_socket>, os_error> adopt(core::loop& l, unique_fd fd,
                                                               const udp_options& o,
                                                               receive_fn on_receive);

  private:
    udp_socket(core::loop& l, unique_fd fd, const udp_options& o, receive_fn f);
    void on_io(std::uint32_t events) override;
    void before_sleep() override { flush(); }
    void receive();
    void enable_options();
    void read_control(const msghdr& h, unsigned i, std::uint16_t& gro_size, std::uint8_t& ecn);
    void push_views(unsigned i, std::size_t len, std::uint16_t gro_size, std::uint8_t ecn);
    bool queue_one(byte_view data, const address& to, const send_meta& meta, std::uint16_t seg);
    std::size_t build_control(std::size_t i, std::uint8_t* buf) const;

    struct pending {
        std::size_t offset;
        std::size_t length;
        address to;
        address from;  // family 0 = none
        std::uint16_t segment = 0;
        std::uint8_t ecn = 0;
    };

    core::loop& loop_;
    unique_fd fd_;
    address local_;
    udp_options opts_;
    receive_fn on_receive_;
    std::vector<std::uint8_t> slab_;  // batch * max_datagram receive space
    std::vector<address> peers_;
    std::vector<address> locals_;
    std::vector<datagram> views_;  // the batch handed out; grows with GRO trains, reused
    std::vector<mmsghdr> msgs_;    // recvmmsg / sendmmsg headers, batch of them
    std::vector<iovec> iov_;
    std::vector<std::uint8_t> control_;  // k_control bytes per message
    bool gso_ = false;
    bool gro_ = false;
    byte_buffer send_bytes_;
    std::vector<pending> send_;
    std::size_t send_head_ = 0;
    bool want_write_ = false;
    udp_stats own_stats_;
    udp_stats* stats_ = &own_stats_;
};

}  // namespace sy::net
