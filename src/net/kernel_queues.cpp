#include "switchyard/net/kernel_queues.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sy::net {

result<listen_queue_info, core::os_error> listen_queue(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return unexpected(core::last_os_error("getsockopt(TCP_INFO)"));
    if (ti.tcpi_state != TCP_LISTEN) return unexpected(core::os_error{EINVAL, "not listening"});
    return listen_queue_info{ti.tcpi_unacked, ti.tcpi_sacked};
}

result<host_listen_counters, core::os_error> host_listen_stats() {
    // Two lines per group: "TcpExt: name name ..." then "TcpExt: value value ...".
    std::ifstream in("/proc/net/netstat");
    if (!in) return unexpected(core::os_error{errno ? errno : ENOENT, "open /proc/net/netstat"});
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream ns(names), vs(values);
        std::string n, v;
        host_listen_counters out;
        while (ns >> n && vs >> v) {
            if (n == "ListenOverflows") out.listen_overflows = std::stoull(v);
            if (n == "ListenDrops") out.listen_drops = std::stoull(v);
        }
        return out;
    }
    return unexpected(core::os_error{ENOENT, "TcpExt not found"});
}

result<tcp_conn_info, core::os_error> tcp_info_of(int fd) {
    tcp_conn_info out;
    int v = 0;
    if (::ioctl(fd, SIOCOUTQ, &v) == 0) out.send_queue = static_cast<std::uint32_t>(v);
    if (::ioctl(fd, SIOCOUTQNSD, &v) == 0) out.unsent = static_cast<std::uint32_t>(v);
    if (::ioctl(fd, SIOCINQ, &v) == 0) out.recv_queue = static_cast<std::uint32_t>(v);
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return unexpected(core::last_os_error("getsockopt(TCP_INFO)"));
    out.rtt_us = ti.tcpi_rtt;
    out.rttvar_us = ti.tcpi_rttvar;
    out.snd_cwnd = ti.tcpi_snd_cwnd;
    out.retransmits = ti.tcpi_retransmits;
    out.total_retrans = ti.tcpi_total_retrans;
    out.state = ti.tcpi_state;
    return out;
}

}  // namespace sy::net
