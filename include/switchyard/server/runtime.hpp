// runtime: runs the configured execution model and owns everything per loop.
//
//   single     one loop thread; listeners and connections on it
//   acceptor   one acceptor thread owns the listeners and posts each accepted socket to one of
//              N worker loops, round robin; workers never accept
//   reuseport  N loops, each with its own SO_REUSEPORT listening socket on the same address;
//              the kernel spreads connections
//   prefork    N processes, each one loop accepting on the listening socket inherited from the
//              parent; the parent only forks, restarts a child that dies, and forwards signals
//
// Thread: construct and run() on the main thread. run() blocks SIGINT/SIGTERM/SIGHUP in every
// thread and waits for them on the main thread: SIGTERM/SIGINT close the listeners, tell every
// connection (session::graceful_shutdown: each protocol's own "going away"), let in-flight
// requests finish (limits.shutdown_grace_ms), then close what is left.
// Introspection (metrics, debug) is callable from any loop thread while running.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/auth/policy.hpp"
#include "switchyard/base/metrics.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/core/thread_pool.hpp"
#include "switchyard/http/router.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/datagram.hpp"
#include "switchyard/net/listener.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/session/http_context.hpp"

namespace sy::hub {
class broker;
}
namespace sy::backplane {
class backplane;
}
namespace sy::session {
class amqp_server;
}

namespace sy::server {

struct loop_state;
class runtime;

/// One UDP address on one loop: its socket (this loop's member of the address's SO_REUSEPORT
/// group) and the first-byte demultiplexer every datagram_route on the address claimed ranges
/// of. Loop thread only; lives from before the loop starts until the shutdown's last step
/// (after every datagram flow closed, before the on_loop_stop hooks).
class datagram_endpoint {
  public:
    datagram_endpoint(runtime& rt, loop_state& ls, unsigned id) : rt_(rt), ls_(ls), id_(id) {}
    /// The same on every loop for one address (an index into runtime::datagram_addresses()).
    unsigned id() const { return id_; }
    loop_state& owner() { return ls_; }
    net::udp_socket& socket() { return *socket_; }
    /// Sends from this loop's socket (queued, flushed before the loop sleeps; see udp_socket).
    bool send_to(byte_view data, const net::address& to, const net::send_meta& m = {}) {
        return socket_->send_to(data, to, m);
    }
    /// Hands a copy of d to endpoint id() of loop `loop` (loop::post): there it is dispatched by
    /// first byte like a datagram that socket received, and replies leave from that loop's
    /// socket (same address and port). Used when a datagram reached a loop that does not own its
    /// flow (QUIC connection IDs name their owner loop). false if loop is out of range.
    bool forward(unsigned loop, const net::datagram& d);

  private:
    friend class runtime;
    runtime& rt_;
    loop_state& ls_;
    unsigned id_;
    std::unique_ptr<net::udp_socket> socket_;
    net::datagram_demux demux_;
};

/// A protocol served over UDP on some addresses (runtime::add_datagram_route).
struct datagram_route {
    std::string scheme;  ///< announced: "switchyard listening on <scheme>://HOST:PORT"
    /// First bytes claimed (net::k_stun_bytes, net::k_quic_short_bytes + k_quic_long_bytes).
    std::vector<net::first_byte_range> first_bytes;
    /// Optional: refuses a datagram of the claimed ranges that is not this protocol's (it then
    /// goes to the fallback route). STUN: the magic cookie.
    net::datagram_demux::check check = nullptr;
    /// Also take every byte no route claims and what a check refused (one route per address):
    /// QUIC, whose greased packets (RFC 9287) may start with any byte.
    bool fallback = false;
    /// Each datagram whose first byte is claimed, on the loop that received it (or the loop it
    /// was forwarded to). The views live for the call; ep.send_to answers.
    std::function<void(datagram_endpoint& ep, const net::datagram& d)> handler;
    /// Main thread, once per address after its sockets are bound (before the loops start): the
    /// bound "HOST:PORT" (port 0 resolved). E.g. HTTP/3 announcing its port in Alt-Svc.
    std::function<void(const std::string& bound)> on_bound;
    /// A TCP listener scheme ("https"): an address "HOST:0" binds the port that listener of the
    /// same address text got, so both protocols share one port number. Empty: a port of its own.
    std::string port_of;
    /// Socket options this protocol needs; one address's socket gets the union of its routes'
    /// (largest max_datagram and batch, every flag). sharing and shared_stats are the runtime's.
    net::udp_options udp;
    /// QUIC: the length of server-chosen connection IDs whose first byte names the owner (member
    /// index = process_index() * loop_count() + loop index). When every route of an address sets
    /// it, its SO_REUSEPORT group steers by that byte (net::steer_by_connection_id), so a client
    /// that changed address reaches its owner directly, across prefork processes too. 0: none.
    std::uint8_t steer_cid_len = 0;
};

/// Everything one loop owns. Touched only on that loop's thread, except the counters (any
/// thread reads them) and `listen_fds` (read-only after start).
struct loop_state {
    unsigned index = 0;
    core::loop* loop = nullptr;
    net::io_counters io;
    net::tls_loop_counters tls;  ///< this loop's TLS handshakes and connections (https listeners)
    net::connection_options conn_opts;
    net::connection_list conns;
    std::unique_ptr<session::http_context> http;
    hub::hub_shard* shard = nullptr;  ///< this loop's part of the hub (nullptr: acceptor loop)
    std::vector<std::unique_ptr<net::listener>> listeners;
    /// UDP endpoints (one per datagram address, index = datagram_endpoint::id), none on the
    /// acceptor loop; and the datagram flows (QUIC connections...) of this loop, counted in `io`
    /// and the connection limit like TCP connections.
    std::vector<std::unique_ptr<datagram_endpoint>> endpoints;
    net::datagram_flow_list flows;
    net::udp_stats udp;  ///< every endpoint socket of this loop adds here (any thread reads)
    /// The AMQP broker when this loop owns one (loop 0 with amqp.listen; set by install_amqp):
    /// the jobs API queues into it, so AMQP consumers are job workers. nullptr otherwise.
    hub::broker* broker = nullptr;
    /// [auth]'s policy as this loop sees it (server/auth.hpp); never null once the loop runs.
    std::shared_ptr<const auth::policy> auth;
    /// The AMQP server on its loop (loop 0 with amqp.listen; set by install_amqp): its
    /// connections, channels and consumers for the management API. nullptr otherwise.
    session::amqp_server* amqp = nullptr;
    /// With broker: runs fn once what the broker's store accepted so far is on disk.
    std::function<void(std::function<void()>)> when_durable;
};

/// What a listener does with an accepted socket, on the loop that will own the connection.
using accept_handler = std::function<void(loop_state&, net::accepted_socket&&)>;

/// A listening address as announced and reported in /debug/listeners.
struct listener_info {
    std::string scheme;    // "http"
    std::string address;   // "127.0.0.1:8080" (the real port)
    int fd = -1;           // one of the sockets (reuseport: loop 0's)
    std::vector<int> fds;  // every socket for this address (reuseport: one per loop)
    int backlog = 0;
    std::string transport = "tcp";  // "udp": a datagram address (add_datagram_route)
};

class runtime {
  public:
    runtime(server_config cfg, http::router& router);
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Before run(): serve another protocol on these addresses with the same execution model
    /// (AMQP, TLS...). Announced as "switchyard listening on <scheme>://host:port".
    void add_listener(std::string scheme, std::vector<std::string> addresses, accept_handler h);
    /// Before run(): serve a datagram protocol on these UDP addresses ("HOST:0" takes the port of
    /// route.port_of's listener of the same text, if any). One socket per worker loop
    /// in every model (SO_REUSEPORT group; under prefork the parent binds one per child), routes
    /// naming the same address share its socket and split it by first byte (the claims must not
    /// overlap: a config_error at start). Announced and listed in /debug/listeners with
    /// transport "udp". Flows the route creates join loop_state::flows.
    void add_datagram_route(std::vector<std::string> addresses, datagram_route route);
    /// Before run(): fn runs on each loop's thread when it starts (create per-loop state).
    void on_loop_start(std::function<void(loop_state&)> fn);
    /// Before run(): fn runs on each loop's thread at shutdown, after the grace period, once every
    /// connection of every loop is closed (and what closing them posted to other loops is queued
    /// ahead of fn), before the loops stop: per-loop state connections used may be freed here.
    void on_loop_stop(std::function<void(loop_state&)> fn);
    /// Before run(): fn runs on the main thread (each process under prefork) on SIGHUP (TLS
    /// certificate reload). fn must only publish new state safely to the loops (atomics, post).
    void on_reload(std::function<void()> fn);
    /// Before run(): hub policy rules ahead of the defaults (routes' history and slow policy).
    void add_topic_rules(std::vector<hub::topic_rule> rules) {
        for (auto& r : rules) topic_rules_.push_back(std::move(r));
    }

    /// Runs until SIGTERM/SIGINT (or request_stop()); returns the process exit code.
    int run();
    /// Thread-safe: begins the same shutdown as SIGTERM.
    void request_stop();

    const server_config& config() const { return cfg_; }
    /// The HTTP sessions' options: may be changed before the loops start only (on_bound).
    session::http_options& http_options() { return http_opts_; }
    std::size_t loop_count() const { return loops_.size(); }
    loop_state& loop_at(std::size_t i) { return *loops_[i]; }
    const std::vector<listener_info>& listeners() const { return listener_infos_; }
    /// The datagram addresses as given (index = datagram_endpoint::id).
    const std::vector<std::string>& datagram_addresses() const { return dgram_addresses_; }
    /// The hub (one shard per loop; under prefork, per process). Valid while running.
    hub::hub& hub() { return *hub_; }
    core::thread_pool& pool() { return *pool_; }
    /// [auth]'s policy (server/auth.hpp; disabled without [auth]), made at construction. The
    /// AMQP side verifies PLAIN passwords that are JWTs with it (loop_state::auth on a loop).
    const std::shared_ptr<const auth::policy>& auth_policy() const { return auth_; }
    /// Before run() (main thread): replaces the policy the loops start with (auth.jwks_url's
    /// first key set, server/jwks.cpp). Later key sets reach each loop by a post.
    void set_auth_policy(std::shared_ptr<const auth::policy> p) { auth_ = std::move(p); }
    /// The Redis backplane (backplane.url), nullptr without one. Valid while running.
    backplane::backplane* backplane() const { return backplane_.get(); }
    /// The https listeners' TLS server (reload counters), nullptr without tls.listen.
    const net::tls_server* tls() const;
    /// The same TLS server, for another TLS listener on its certificates (stun.tls_listen).
    net::tls_server* shared_tls();
    net::connection_limit& connection_limit() { return limit_; }
    /// Every metric family (docs/metrics.md): the runtime's own are registered at construction,
    /// components add theirs before run() (app::on_runtime). Rendered by GET /metrics.
    metrics::registry& metrics() { return metrics_; }
    /// The loop_state of the calling loop thread (nullptr elsewhere): current_loop_state().
    loop_state* current_loop();
    /// Posts fn to every loop; when all ran, done() runs on the calling loop (loop thread only).
    void for_each_loop(std::function<void(loop_state&)> fn, std::function<void()> done);
    /// Loop thread: stop accepting on every listener of every loop for ms milliseconds
    /// (the kernel keeps queueing up to the backlog): used to show the accept queue filling.
    void stall_accept(std::uint64_t ms);

    /// Connections accepted / refused over the limit, every listener (any thread).
    std::uint64_t accepted_total() const { return accepted_.load(std::memory_order_relaxed); }
    std::uint64_t refused_total() const { return refused_.load(std::memory_order_relaxed); }

    /// The process role under prefork (parent or a child); workers otherwise.
    bool is_prefork_parent() const { return prefork_parent_; }
    /// prefork: this child's index (0..workers-1); 0 in the threads models and the parent.
    unsigned process_index() const { return process_index_; }

  private:
    struct impl;
    int run_threads();
    int run_prefork();
    void open_listeners();
    void make_hub();
    void announce();
    void setup_loop(loop_state& ls);
    void on_accept(loop_state& ls, net::accepted_socket&& s);
    struct listener_kind {
        std::string scheme;
        std::vector<std::string> addresses;
        accept_handler handler;
    };
    void open_kind(const listener_kind& k, std::size_t first_inherited);
    struct dgram_kind {
        std::vector<std::string> addresses;
        datagram_route route;
    };
    void open_datagram_endpoints();
    net::udp_options endpoint_options(std::size_t id) const;
    std::string port_scheme(std::size_t id) const;
    void steer_group(std::size_t id, int fd) const;
    void bind_prefork_udp(unsigned children);
    void keep_prefork_udp(unsigned child, unsigned children);
    /// Shutdown's last step on a loop: flush and close its endpoints (before on_loop_stop).
    static void close_endpoints(loop_state& ls);
    void shutdown_loops();
    /// Main thread: runs fn on every worker loop and waits until all ran.
    void run_everywhere(const std::function<void(loop_state&)>& fn);

    server_config cfg_;
    http::router& router_;
    session::http_options http_opts_;
    net::connection_limit limit_;
    metrics::registry metrics_;
    std::vector<std::unique_ptr<loop_state>> loops_;
    std::vector<listener_info> listener_infos_;
    std::unique_ptr<core::thread_pool> pool_;
    std::unique_ptr<hub::hub> hub_;
    std::shared_ptr<const auth::policy> auth_;
    std::unique_ptr<backplane::backplane> backplane_;  // server/backplane.cpp makes it
    std::vector<hub::topic_rule> topic_rules_;         // add_topic_rules: first match wins
    std::vector<listener_kind> kinds_;
    std::vector<dgram_kind> dgram_kinds_;
    std::vector<std::string> dgram_addresses_;  // distinct, in order of first mention
    // prefork: the parent's UDP sockets, [address * children + child]; a child's own, [address]
    std::vector<net::unique_fd> udp_fds_;
    // TCP addresses as given and the port each got: a datagram address of the same text with
    // port 0 takes that port (HTTP/3 on the port of its HTTPS listener).
    struct tcp_port {
        std::string scheme, text;
        std::uint16_t port;
    };
    std::vector<tcp_port> tcp_ports_;
    std::uint16_t tcp_port_of(const std::string& scheme, const std::string& text) const;
    std::vector<std::function<void(loop_state&)>> start_hooks_;
    std::vector<std::function<void(loop_state&)>> stop_hooks_;
    std::unique_ptr<impl> impl_;
    bool prefork_parent_ = false;
    unsigned process_index_ = 0;
    // Written by accepting threads (one per listener loop): relaxed atomic adds, not per message.
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> refused_{0};
};

/// backplane.url set: the backplane (settings from cfg, metrics registered in rt's registry);
/// otherwise nullptr. Start-up only (throws config_error). server/backplane.cpp.
std::unique_ptr<backplane::backplane> make_backplane(runtime& rt, const server_config& cfg);

/// Registers the runtime's own families (connections, HTTP, listeners, loops, TLS): metrics.cpp.
void register_runtime_metrics(runtime& rt);

/// The loop_state of the calling loop thread, nullptr off the loops: the state is a slot of the
/// core::loop (core::loop::current()->slot<loop_state>()), set when the runtime creates the loop.
loop_state* current_loop_state();

/// Formats the first line(s) a server prints: "switchyard listening on http://127.0.0.1:8080".
std::string announce_line(const listener_info& l);

}  // namespace sy::server
