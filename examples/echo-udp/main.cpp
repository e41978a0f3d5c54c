// echo-udp: a UDP echo server on the runtime's datagram endpoints, with batched system calls.
//
//   build/bin/echo-udp --listen 127.0.0.1:7001 --workers 2 [--model
//   single|reuseport|acceptor|prefork]
//
// The runtime gives each worker loop its own SO_REUSEPORT socket bound to the same address (under
// prefork, the parent binds one per child): the kernel spreads datagrams across the sockets by a
// hash of the sender's address and port, so one sender always lands on the same loop and no
// socket is shared between threads. The echo is one datagram_route claiming every first byte.
// Each readable event drains up to 32 datagrams per recvmmsg(2) call (net::udp_socket); the
// replies are queued and leave in one sendmmsg(2) per batch when the loop is about to sleep.
// So under load one pair of system calls moves dozens of datagrams instead of one each.
// If the kernel's send buffer is full, replies wait in the socket's queue; beyond its cap they
// are dropped and counted (UDP may drop anyway; the counter makes it visible at exit).
// An empty datagram has no first byte to route by: it is dropped (sy_udp_dropped_total{empty}).
//
// Datagrams up to --max-datagram bytes (default 65,507, the largest UDP payload over IPv4) are
// received whole; a larger one is cut to that size by the kernel (MSG_TRUNC), echoed cut, and
// counted in the exit summary's "truncated".
//
// Flags: --listen (repeatable), --workers, --model, --pin and --log-level from the server's
// option table, and --max-datagram (`--help` lists them). Announced as "switchyard listening on
// udp://HOST:PORT"; port 0 picks one port, shared by every worker's socket. The exit summary
// (stderr) sums every loop's counters (not under prefork: the children exit inside the runtime).
#include <cstdio>
#include <string>
#include <vector>

#include "switchyard/http/router.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/server/runtime.hpp"

namespace {

constexpr std::uint64_t k_max_udp_payload = 65507;  // 65535 - 8 (UDP) - 20 (IPv4) bytes

sy::server::cli_program echo_program(std::uint64_t& max_datagram) {
    sy::server::cli_program p;
    p.name = "echo-udp";
    p.description =
        "echo-udp: a UDP echo server, one SO_REUSEPORT socket per loop, recvmmsg/sendmmsg "
        "batches";
    p.keys = {{"listen", "HOST:PORT to echo UDP datagrams on (repeatable; port 0 picks one)"},
              {"workers", "event loops, one socket each (0 = cores)"},
              {"model"},
              {"pin"},
              {"log_level"}};
    p.extra.push_back({"--max-datagram",
                       "receive buffer per datagram (bytes); a larger datagram is truncated to "
                       "it and counted",
                       &max_datagram, 1, 65535});
    return p;
}

void print_summary(sy::server::runtime& rt, std::uint64_t max_datagram) {
    std::uint64_t rx = 0, tx = 0, dropped = 0, batches = 0, truncated = 0;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        const auto& u = rt.loop_at(i).udp;
        rx += u.rx_datagrams.get();
        batches += u.rx_batches.get();
        truncated += u.rx_truncated.get();
        tx += u.tx_datagrams.get();
        dropped += u.tx_dropped.get();
    }
    std::fprintf(stderr,
                 "echo-udp: %llu datagrams in (%llu recvmmsg batches), %llu truncated to %llu "
                 "bytes, %llu out, %llu dropped\n",
                 static_cast<unsigned long long>(rx), static_cast<unsigned long long>(batches),
                 static_cast<unsigned long long>(truncated),
                 static_cast<unsigned long long>(max_datagram), static_cast<unsigned long long>(tx),
                 static_cast<unsigned long long>(dropped));
}

// Runs the echo until SIGINT/SIGTERM; returns the exit status.
int run(int argc, char** argv) {
    sy::server::server_config cfg;
    cfg.listen = {"127.0.0.1:7001"};
    std::uint64_t max_datagram = k_max_udp_payload;
    int code = 0;
    if (!sy::server::parse_command_line(cfg, argc, argv, code, echo_program(max_datagram))) {
        return code;
    }
    // --listen names the UDP addresses here; the runtime opens no TCP listener.
    std::vector<std::string> addresses = std::move(cfg.listen);
    cfg.listen.clear();
    sy::http::router router;  // unused: no HTTP listener
    sy::server::runtime rt(cfg, router);

    sy::server::datagram_route echo;
    echo.scheme = "udp";
    echo.first_bytes = {{0, 255}};
    echo.udp.recv_buffer = 1 << 20;  // room for bursts while a loop is busy
    echo.udp.max_datagram = static_cast<std::size_t>(max_datagram);
    echo.handler = [](sy::server::datagram_endpoint& ep, const sy::net::datagram& d) {
        ep.send_to(d.data, *d.peer);  // copied into the send queue
    };
    rt.add_datagram_route(std::move(addresses), std::move(echo));
    code = rt.run();
    if (!rt.is_prefork_parent()) print_summary(rt, max_datagram);
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    return sy::server::guard_startup("echo-udp", [&] { return run(argc, argv); });
}
