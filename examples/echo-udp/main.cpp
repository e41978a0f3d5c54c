// echo-udp: a UDP echo server with batched system calls.
//
//   build/bin/echo-udp --listen 127.0.0.1:7001 --workers 2
//
// One loop per worker thread, each with its own SO_REUSEPORT socket bound to the same address:
// the kernel spreads datagrams across the sockets by a hash of the sender's address and port, so
// one sender always lands on the same loop and no socket is shared between threads.
// Each readable event drains up to 32 datagrams per recvmmsg(2) call (net::udp_socket); the
// replies are queued and leave in one sendmmsg(2) per batch when the loop is about to sleep.
// So under load one pair of system calls moves dozens of datagrams instead of one each.
// If the kernel's send buffer is full, replies wait in the socket's queue; beyond its cap they
// are dropped and counted (UDP may drop anyway; the counter makes it visible at exit).
//
// Datagrams up to --max-datagram bytes (default 65,507, the largest UDP payload over IPv4) are
// received whole; a larger one is cut to that size by the kernel (MSG_TRUNC), echoed cut, and
// counted in the exit summary's "truncated".
//
// Flags: --listen (repeatable), --workers, --pin and --log-level from the server's option table,
// and --max-datagram (`--help` lists them). Announced as "switchyard listening on
// udp://HOST:PORT"; port 0 picks one port, shared by every worker's socket.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "switchyard/core/loop_group.hpp"
#include "switchyard/net/udp_socket.hpp"
#include "switchyard/server/config.hpp"

namespace {

void echo_batch(sy::net::udp_socket& s, std::span<const sy::net::datagram> batch) {
    for (const auto& d : batch) s.send_to(d.data, *d.peer);  // copied into the send queue
}

constexpr std::uint64_t k_max_udp_payload = 65507;  // 65535 - 8 (UDP) - 20 (IPv4) bytes

sy::server::cli_program echo_program(std::uint64_t& max_datagram) {
    sy::server::cli_program p;
    p.name = "echo-udp";
    p.description =
        "echo-udp: a UDP echo server, one SO_REUSEPORT socket per loop, recvmmsg/sendmmsg "
        "batches";
    p.keys = {{"listen", "HOST:PORT to echo UDP datagrams on (repeatable; port 0 picks one)"},
              {"workers", "event loops, one socket each (0 = cores)"},
              {"pin"},
              {"log_level"}};
    p.extra.push_back({"--max-datagram",
                       "receive buffer per datagram (bytes); a larger datagram is truncated to "
                       "it and counted",
                       &max_datagram, 1, 65535});
    return p;
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
    const std::size_t workers =
        cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());

    // Block the stop signals before any thread starts (threads inherit the mask); main waits
    // for them with sigwait below.
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);

    sy::core::loop_group::options go;
    go.threads = workers;
    go.pin_cpus = cfg.pin;
    go.name = "sy-udp";
    sy::core::loop_group group(go);
    // Declared after the group: destroyed first, after the loops stopped (see below).
    std::vector<std::unique_ptr<sy::net::udp_socket>> sockets;

    sy::net::udp_options uo;
    uo.recv_buffer = 1 << 20;  // room for bursts while a loop is busy
    uo.max_datagram = static_cast<std::size_t>(max_datagram);
    for (const auto& text : cfg.listen) {
        auto addr = sy::net::address::parse(text);
        if (!addr) throw sy::server::config_error("listen: cannot parse address '" + text + "'");
        // Binding and registering before the loops run is allowed (loop.hpp thread contract).
        for (std::size_t i = 0; i < workers; ++i) {
            // The first worker's socket claims the address (refused if anyone holds it), the
            // others join its SO_REUSEPORT group.
            uo.sharing = i == 0 ? sy::net::port_sharing::claim : sy::net::port_sharing::join;
            auto s = sy::net::udp_socket::bind(group.at(i), *addr, uo, echo_batch);
            if (!s) {
                throw sy::server::config_error("listen " + text + ": " +
                                               sy::net::bind_error_text(s.error()));
            }
            if (addr->port() == 0) addr->set_port((*s)->local_address().port());
            sockets.push_back(std::move(*s));
        }
        std::printf("switchyard listening on udp://%s\n", addr->to_string().c_str());
    }
    std::fflush(stdout);
    group.start();

    int sig = 0;
    while (sigwait(&stop_set, &sig) != 0) {
    }
    group.stop();  // joins the loop threads; the sockets are then touched by main only

    std::uint64_t rx = 0, tx = 0, dropped = 0, batches = 0, truncated = 0;
    for (const auto& s : sockets) {
        rx += s->stats().rx_datagrams.get();
        batches += s->stats().rx_batches.get();
        truncated += s->stats().rx_truncated.get();
        tx += s->stats().tx_datagrams.get();
        dropped += s->stats().tx_dropped.get();
    }
    std::fprintf(stderr,
                 "echo-udp: %llu datagrams in (%llu recvmmsg batches), %llu truncated to %llu "
                 "bytes, %llu out, %llu dropped\n",
                 static_cast<unsigned long long>(rx), static_cast<unsigned long long>(batches),
                 static_cast<unsigned long long>(truncated),
                 static_cast<unsigned long long>(max_datagram), static_cast<unsigned long long>(tx),
                 static_cast<unsigned long long>(dropped));
    sockets.clear();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return sy::server::guard_startup("echo-udp", [&] { return run(argc, argv); });
}
