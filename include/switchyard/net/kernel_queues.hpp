// Kernel queues made visible: plain snapshots the server renders as Prometheus or JSON.
//
//   listen_queue(fd)      accept queue length and limit of a LISTEN socket (TCP_INFO: for
//                         listeners tcpi_unacked = current queue, tcpi_sacked = backlog limit)
//   host_listen_stats()   TcpExt ListenOverflows / ListenDrops from /proc/net/netstat (host-wide)
//   tcp_conn_info(fd)     per connection: SIOCOUTQ (unsent + unacked), SIOCOUTQNSD (unsent),
//                         SIOCINQ (unread), rtt, rttvar, cwnd, retransmits (TCP_INFO)
// Each is one or two syscalls; callable from any thread (they only read kernel state).
#pragma once

#include <cstdint>

#include "switchyard/base/result.hpp"
#include "switchyard/core/error.hpp"

namespace sy::net {

struct listen_queue_info {
    std::uint32_t length = 0;  ///< connections completed, waiting for accept()
    std::uint32_t limit = 0;   ///< effective backlog (min(backlog, somaxconn))
};

struct host_listen_counters {
    std::uint64_t listen_overflows = 0;  ///< accept queue was full (SYN/ACK dropped)
    std::uint64_t listen_drops = 0;      ///< all listen-related drops
};

struct tcp_conn_info {
    std::uint32_t send_queue = 0;  ///< SIOCOUTQ: bytes not yet acked by the peer
    std::uint32_t unsent = 0;      ///< SIOCOUTQNSD: bytes not yet sent
    std::uint32_t recv_queue = 0;  ///< SIOCINQ: bytes received, not read by us
    std::uint32_t rtt_us = 0;
    std::uint32_t rttvar_us = 0;
    std::uint32_t snd_cwnd = 0;     ///< segments
    std::uint32_t retransmits = 0;  ///< current unrecovered retransmits
    std::uint32_t total_retrans = 0;
    std::uint8_t state = 0;  ///< TCP_ESTABLISHED, ...
};

result<listen_queue_info, core::os_error> listen_queue(int listen_fd);
result<host_listen_counters, core::os_error> host_listen_stats();
result<tcp_conn_info, core::os_error> tcp_info_of(int fd);

}  // namespace sy::net
