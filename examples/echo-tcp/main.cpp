// echo-tcp: the raw TCP echo server every backend course starts with, done right.
//
//   build/bin/echo-tcp --listen 127.0.0.1:7000 --model reuseport --workers 2
//
// What "right" means here, and where it comes from:
//   - many clients at once: every execution model of the server runtime (single, acceptor,
//     reuseport, prefork; --model) with one epoll loop per thread, no thread per client;
//   - backpressure: write() only queues; when a client sends faster than it reads, the queued
//     output crosses limits.output_high_water, the connection stops reading from that client
//     (its TCP window closes, so the client blocks, not our memory), and reading resumes below
//     limits.output_low_water. The counters show it: on_backpressure/on_drain below;
//   - half-close: a client that shuts down its sending side still gets every echoed byte, then
//     our FIN (the connection's default on_peer_closed is a graceful close: flush, then FIN).
//
// Flags are a subset of the server's own (the same table as switchyard's TOML keys; `--help`
// lists them): --listen, --model, --workers, --backlog, --output-high-water,
// --write-timeout-ms, ... The listener is announced as "switchyard listening on
// tcp://HOST:PORT" (port 0 picks one).
#include <atomic>
#include <cstdio>
#include <memory>

#include "switchyard/http/router.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/server/runtime.hpp"

namespace {

// Process-wide, for the exit summary only (relaxed: statistics, not synchronisation).
std::atomic<std::uint64_t> g_backpressure{0};

/// One per connection; all calls on the connection's loop thread.
class echo_handler final : public sy::net::connection_handler {
  public:
    void on_data(sy::net::connection& c, sy::byte_buffer& in) override {
        // Queue a copy and consume: the bytes go out in the loop's before-sleep flush, together
        // with whatever else arrived this turn (one writev).
        c.write(in.readable());
        in.consume(in.readable().size());
    }
    // Reading is already paused by the connection when we get here; nothing else to do for an
    // echo (a chat server would drop or disconnect a slow member instead).
    void on_backpressure(sy::net::connection&) override {
        g_backpressure.fetch_add(1, std::memory_order_relaxed);
    }
};

// The flags this program offers: the runtime's listener, model and connection settings (the
// HTTP, hub, TLS and AMQP ones would do nothing here).
sy::server::cli_program echo_program() {
    sy::server::cli_program p;
    p.name = "echo-tcp";
    p.description =
        "echo-tcp: a TCP echo server on the switchyard runtime (every execution model, "
        "backpressure by output watermarks, half-close kept)";
    p.keys = {{"listen", "HOST:PORT to echo TCP on (repeatable; port 0 picks one)"},
              {"model"},
              {"workers"},
              {"pin"},
              {"backlog"},
              {"reuseport"},
              {"defer_accept"},
              {"log_level"},
              {"limits.max_connections"},
              {"limits.write_timeout_ms"},
              {"limits.output_high_water"},
              {"limits.output_low_water"},
              {"limits.input_buffer_max"},
              {"limits.accept_batch"},
              {"limits.shutdown_grace_ms"}};
    return p;
}

int run(int argc, char** argv) {
    sy::server::server_config cfg;
    cfg.listen = {"127.0.0.1:7000"};
    int code = 0;
    if (!sy::server::parse_command_line(cfg, argc, argv, code, echo_program())) return code;
    // --listen names the echo addresses: no HTTP listener in this program.
    std::vector<std::string> addresses = std::move(cfg.listen);
    cfg.listen.clear();
    sy::http::router unused_router;
    sy::server::runtime rt(cfg, unused_router);
    rt.add_listener("tcp", addresses, [](sy::server::loop_state& ls, sy::net::accepted_socket&& s) {
        sy::net::connection::create(*ls.loop, sy::net::tcp_stream(std::move(s.fd)),
                                    std::make_unique<echo_handler>(), ls.conn_opts,
                                    std::move(s.slot), &ls.conns);
    });
    code = rt.run();
    std::fprintf(stderr, "echo-tcp: %llu backpressure pauses\n",
                 static_cast<unsigned long long>(g_backpressure.load()));
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    return sy::server::guard_startup("echo-tcp", [&] { return run(argc, argv); });
}
