#include "switchyard/server/runtime.hpp"

#include <malloc.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <latch>
#include <thread>

#include <fmt/format.h>
#include "sd_notify.hpp"
#include "switchyard/backplane/backplane.hpp"

#include "rate_limit.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/core/loop_group.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/tls.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/server/http3.hpp"
#include "switchyard/server/system_topics.hpp"
#include "switchyard/session/http1_session.hpp"
#include "switchyard/session/shutdown.hpp"
#include "switchyard/session/tls_dispatch.hpp"

namespace sy::server {

namespace {

constexpr std::string_view k_refusal =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections, retry\r\n";

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    return set;
}

// HTTPS listeners: TLS, then ALPN picks h2_session or http1_session (session/tls_dispatch).
// The tls_server is built here, before any fork, so prefork children share the ticket secret.
void add_tls_listener(runtime& rt, const server_config& cfg, std::unique_ptr<net::tls_server>& out,
                      std::vector<std::function<void()>>& reload_hooks) {
    net::tls_settings ts;
    ts.cert_file = cfg.tls.cert;
    ts.key_file = cfg.tls.key;
    for (const auto& spec : cfg.tls.sni) {
        net::tls_certificate c;
        if (!net::parse_sni_spec(spec, c))
            throw config_error("tls.sni: expected NAME:CERT:KEY, got '" + spec + "'");
        ts.sni.push_back(std::move(c));
    }
    ts.ticket_rotation = std::chrono::seconds(cfg.tls.ticket_rotation_s);
    auto srv = net::tls_server::create(std::move(ts));
    if (!srv) throw config_error(srv.error());
    out = std::move(*srv);
    net::tls_server* tls = out.get();
    const millis handshake_timeout(cfg.tls.handshake_timeout_ms);
    rt.add_listener("https", cfg.tls.listen,
                    [tls, handshake_timeout](loop_state& ls, net::accepted_socket&& s) {
                        auto peer = s.peer.to_string();
                        net::tls_stream stream = tls->make_stream(std::move(s.fd), &ls.tls);
                        if (stream.fd() < 0) return;
                        auto handler = std::make_unique<session::tls_dispatch>(
                            *ls.http, peer, stream.info(), handshake_timeout);
                        net::connection::create(*ls.loop, std::move(stream), std::move(handler),
                                                ls.conn_opts, std::move(s.slot), &ls.conns);
                    });
    reload_hooks.push_back([tls] {
        if (auto r = tls->reload(); r) {
            log::info("SIGHUP: TLS certificates reloaded");
        } else {
            log::error("SIGHUP: TLS reload failed, keeping the current certificates: {}",
                       r.error());
        }
    });
}

unsigned worker_count(const server_config& cfg) {
    if (cfg.model == execution_model::single) return 1;
    if (cfg.workers > 0) return static_cast<unsigned>(cfg.workers);
    return std::max(1u, std::thread::hardware_concurrency());
}

/// The poller `io` names. "auto" takes io_uring where the kernel lets this process set up a ring
/// and otherwise says once why it runs on epoll; "io_uring" fails at start-up instead (exit 2).
core::poller_kind choose_io(const std::string& io) {
    if (io == "epoll") return core::poller_kind::epoll;
    std::string why;
    if (core::io_uring_usable(&why)) return core::poller_kind::io_uring;
    if (io == "io_uring") throw config_error("io = io_uring: io_uring unavailable (" + why + ")");
    log::warn("io = auto: io_uring unavailable ({}); using epoll", why);
    return core::poller_kind::epoll;
}

}  // namespace

struct runtime::impl {
    std::unique_ptr<core::loop_group> group;     // worker loops (every model)
    std::unique_ptr<core::loop_group> acceptor;  // the acceptor model's accepting loop
    std::unique_ptr<loop_state> acceptor_state;
    std::atomic<unsigned> next_worker{0};
    pthread_t main_thread{};
    std::vector<net::unique_fd> inherited;            // prefork: sockets bound by the parent
    std::vector<net::address> bound;                  // prefork: their addresses
    std::unique_ptr<net::tls_server> tls;             // https listeners (tls.listen)
    std::vector<std::function<void()>> reload_hooks;  // SIGHUP, main thread
    core::poller_kind io = core::poller_kind::epoll;  // every loop's poller (choose_io)
};

std::string announce_line(const listener_info& l) {
    return "switchyard listening on " + l.scheme + "://" + l.address;
}

namespace {
// A config without [auth] behaves as before it existed; say so once when that is reachable from
// other hosts.
void warn_if_open(const server_config& cfg) {
    if (auth_enabled(cfg.auth)) return;
    for (const auto* list : {&cfg.listen, &cfg.tls.listen}) {
        for (const auto& l : *list) {
            auto a = net::address::parse(l);
            if (!a || a->is_loopback()) continue;  // a bad address is reported by the listener
            log::warn("no [auth]: anyone reaching {} may publish and subscribe to every topic", l);
            return;
        }
    }
}

// limits.connection_rate_per_ip, every listener's admission step (HTTP, HTTPS with h1 and h2,
// AMQP...), on the loop that will own the connection, before any byte is read or a TLS handshake
// costs anything. Over it a plain HTTP listener's connection gets a complete HTTP/1.1 429 with
// Retry-After; any other listener's (TLS: the client expects a ServerHello, not text) is closed
// without a byte. Either way the fd's destructor closes it.
bool connection_rate_ok(loop_state& ls, const net::address& peer_addr, int fd, bool http_reply) {
    rate_tables* t = ls.loop->slot<rate_tables>();
    if (!t || t->connection_rate_per_ip == 0) return true;
    const std::string text = peer_addr.to_string();
    const std::string_view peer = text;
    const std::size_t colon = peer.rfind(':');
    const std::string_view ip = colon == std::string_view::npos ? peer : peer.substr(0, colon);
    std::int64_t retry = 0;
    if (t->connections.allow(ip, ls.loop->now_ms(), t->connection_rate_per_ip, retry)) return true;
    if (!http_reply) return false;
    const std::string reply = fmt::format(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n",
        retry);
    // A fresh socket's send buffer is empty: the whole reply fits or the peer is already gone.
    (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return false;
}

}  // namespace

runtime::runtime(server_config cfg, http::router& router)
    : cfg_(std::move(cfg)),
      router_(router),
      limit_(cfg_.limits.max_connections),
      impl_(std::make_unique<impl>()) {
    register_runtime_metrics(*this);
    auth_ = make_auth_policy(cfg_.auth);
    warn_if_open(cfg_);
    http_opts_.limits.max_request_line = static_cast<std::uint32_t>(cfg_.limits.max_request_line);
    http_opts_.limits.max_head_bytes = static_cast<std::uint32_t>(cfg_.limits.max_header_bytes);
    http_opts_.limits.max_headers = static_cast<std::uint32_t>(cfg_.limits.max_headers);
    http_opts_.limits.max_body_bytes = cfg_.limits.max_body;
    http_opts_.header_timeout = millis(cfg_.limits.header_timeout_ms);
    http_opts_.body_timeout = millis(cfg_.limits.body_timeout_ms);
    http_opts_.idle_timeout = millis(cfg_.limits.idle_timeout_ms);
    http_opts_.access_log = cfg_.access_log;
    add_listener("http", cfg_.listen,
                 [this](loop_state& ls, net::accepted_socket&& s) { on_accept(ls, std::move(s)); });
    if (!cfg_.tls.listen.empty()) {
        add_tls_listener(*this, cfg_, impl_->tls, impl_->reload_hooks);
        if (cfg_.tls.http3) install_http3(*this, cfg_);
    } else if (!cfg_.tls.cert.empty() || !cfg_.tls.key.empty() || !cfg_.tls.sni.empty()) {
        log::warn("tls.cert/tls.key/tls.sni are set but tls.listen is empty: no HTTPS listener");
    }
}

const net::tls_server* runtime::tls() const {
    return impl_->tls.get();
}

net::tls_server* runtime::shared_tls() {
    return impl_->tls.get();
}

void runtime::on_reload(std::function<void()> fn) {
    impl_->reload_hooks.push_back(std::move(fn));
}

runtime::~runtime() {
    if (impl_->group) impl_->group->stop();
    if (impl_->acceptor) impl_->acceptor->stop();
    if (pool_) pool_->stop();
    // Loop-owned objects (listeners, timers, hub shards) go before the loops themselves.
    for (auto& l : loops_) {
        l->conns.close_all(net::close_mode::immediate);
        l->flows.close_all();
        l->endpoints.clear();
        l->listeners.clear();
        l->http.reset();
    }
    if (impl_->acceptor_state) impl_->acceptor_state->listeners.clear();
    hub_.reset();
    loops_.clear();
}

loop_state* current_loop_state() {
    core::loop* l = core::loop::current();
    return l ? l->slot<loop_state>() : nullptr;
}

loop_state* runtime::current_loop() {
    return current_loop_state();
}

void runtime::setup_loop(loop_state& ls) {
    ls.conn_opts.max_input = cfg_.limits.input_buffer_max;
    ls.conn_opts.high_watermark = cfg_.limits.output_high_water;
    ls.conn_opts.low_watermark = cfg_.limits.output_low_water;
    ls.conn_opts.write_timeout = millis(cfg_.limits.write_timeout_ms);
    ls.conn_opts.counters = &ls.io;
    ls.conn_opts.tcp_nodelay = false;  // the listener already set TCP_NODELAY on accept
    ls.conn_opts.coalesce.delay_ns = static_cast<std::int64_t>(cfg_.push.write_delay_us) * 1000;
    ls.conn_opts.coalesce.max_frames = cfg_.push.max_coalesce_frames;
    ls.conn_opts.coalesce.max_bytes = cfg_.push.max_coalesce_bytes;
    // Quiet = the loop slept longer than one write delay (plus epoll's 1 ms rounding, so a sleep
    // until a hold's own deadline does not count): holding would not have joined another message.
    ls.loop->set_idle_mark_ns(ls.conn_opts.coalesce.delay_ns + 1'000'000);
    ls.http = std::make_unique<session::http_context>(*ls.loop, http_opts_, router_);
    ls.auth = auth_;
    rate_tables& rates = ls.loop->emplace_slot<rate_tables>();
    rates.connection_rate_per_ip = cfg_.limits.connection_rate_per_ip;
    rates.publish_rate = cfg_.limits.publish_rate;
}

void runtime::on_accept(loop_state& ls, net::accepted_socket&& s) {
    auto peer = s.peer.to_string();
    auto handler = std::make_unique<session::http1_session>(*ls.http, peer);
    net::connection::create(*ls.loop, net::tcp_stream(std::move(s.fd)), std::move(handler),
                            ls.conn_opts, std::move(s.slot), &ls.conns);
}

void runtime::add_listener(std::string scheme, std::vector<std::string> addresses,
                           accept_handler h) {
    kinds_.push_back({std::move(scheme), std::move(addresses), std::move(h)});
}

void runtime::on_loop_start(std::function<void(loop_state&)> fn) {
    start_hooks_.push_back(std::move(fn));
}

void runtime::on_loop_stop(std::function<void(loop_state&)> fn) {
    stop_hooks_.push_back(std::move(fn));
}

namespace {
net::listener_options listener_opts(const server_config& cfg, net::connection_limit* limit) {
    net::listener_options lo;
    lo.backlog = static_cast<int>(cfg.backlog);
    const bool shared = cfg.model == execution_model::reuseport || cfg.reuseport;
    lo.sharing = shared ? net::port_sharing::claim : net::port_sharing::exclusive;
    lo.defer_accept_seconds = cfg.defer_accept ? 1 : 0;
    lo.accept_batch = static_cast<unsigned>(cfg.limits.accept_batch);
    lo.limit = limit;
    return lo;
}

/// The start-up error for an address that cannot be bound: "listen HOST:PORT: address already in
/// use" when another process holds it (the same words in every model).
config_error listen_error(const std::string& text, const core::os_error& e) {
    return config_error("listen " + text + ": " + net::bind_error_text(e));
}
}  // namespace

void runtime::open_listeners() {
    std::size_t inherited = 0;
    for (const auto& k : kinds_) {
        open_kind(k, inherited);
        inherited += k.addresses.size();
    }
}

void runtime::open_kind(const listener_kind& k, std::size_t first_inherited) {
    net::listener_options lo = listener_opts(cfg_, &limit_);
    lo.exclusive_wakeup = cfg_.model == execution_model::prefork;  // one socket, N processes
    auto refuse = [this](net::accepted_socket&& s) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        // Best effort, never blocks: the socket is new, its send buffer is empty. (An HTTP
        // answer; other protocols see a clean close after it.)
        (void)::send(s.fd.get(), k_refusal.data(), k_refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    };
    const bool prefork = cfg_.model == execution_model::prefork;
    const accept_handler* kind_handler = &k.handler;
    const bool http_reply = k.scheme == "http";
    // The admission step of every listener, then the kind's handler (on the owning loop).
    auto admit = [kind_handler, http_reply](loop_state& w, net::accepted_socket&& s) {
        if (!connection_rate_ok(w, s.peer, s.fd.get(), http_reply)) return;
        (*kind_handler)(w, std::move(s));
    };
    for (std::size_t a = 0; a < k.addresses.size(); ++a) {
        auto addr = net::address::parse(k.addresses[a]);
        if (!addr) throw config_error("listen: cannot parse address '" + k.addresses[a] + "'");
        listener_info info{k.scheme, "", -1, {}, static_cast<int>(cfg_.backlog)};
        // Which loops get a listening socket for this address.
        std::vector<loop_state*> owners;
        if (cfg_.model == execution_model::acceptor) {
            owners.push_back(impl_->acceptor_state.get());
        } else if (lo.sharing != net::port_sharing::exclusive && !prefork) {
            for (auto& l : loops_) owners.push_back(l.get());
        } else {
            owners.push_back(loops_[0].get());
        }
        for (loop_state* ls : owners) {
            // The first socket of the address claims it (fails if anyone else holds it), the
            // other loops' sockets join its group.
            net::listener_options own = lo;
            if (ls != owners.front() && lo.sharing == net::port_sharing::claim)
                own.sharing = net::port_sharing::join;
            auto accept_cb = [this, ls, admit](net::accepted_socket&& s) {
                accepted_.fetch_add(1, std::memory_order_relaxed);
                if (impl_->acceptor_state && ls == impl_->acceptor_state.get()) {
                    unsigned i = impl_->next_worker++ % static_cast<unsigned>(loops_.size());
                    loop_state* w = loops_[i].get();
                    w->loop->post(
                        [w, admit, s = std::move(s)]() mutable { admit(*w, std::move(s)); });
                } else {
                    admit(*ls, std::move(s));
                }
            };
            result<std::unique_ptr<net::listener>, core::os_error> l =
                prefork ? net::listener::adopt(*ls->loop,
                                               std::move(impl_->inherited[first_inherited + a]),
                                               own, accept_cb, refuse)
                        : net::listener::open(*ls->loop, *addr, own, accept_cb, refuse);
            if (!l) throw listen_error(k.addresses[a], l.error());
            if (addr->port() == 0) addr = (*l)->local_address();  // reuseport: same port for all
            info.address = (*l)->local_address().to_string();
            tcp_ports_.push_back({k.scheme, k.addresses[a], (*l)->local_address().port()});
            info.fds.push_back((*l)->fd());
            ls->listeners.push_back(std::move(*l));
        }
        info.fd = info.fds.front();
        listener_infos_.push_back(std::move(info));
    }
}

void runtime::announce() {
    for (const auto& l : listener_infos_) std::printf("%s\n", announce_line(l).c_str());
    std::fflush(stdout);
}

int runtime::run() {
    impl_->main_thread = pthread_self();
    // Output buffers are allocated and freed every loop turn; glibc would hand the freed top of
    // each thread's heap back to the kernel every turn (madvise) and page-fault it in again on
    // the next. Measured +20-60% pipelined req/s with trimming off (docs/benchmarks.md).
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    std::signal(SIGPIPE, SIG_IGN);   // sendfile cannot use MSG_NOSIGNAL
    impl_->io = choose_io(cfg_.io);  // once: prefork children inherit the choice
    sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread created from here
    if (cfg_.model == execution_model::prefork) return run_prefork();
    return run_threads();
}

void runtime::request_stop() {
    pthread_kill(impl_->main_thread, SIGTERM);
}

int runtime::run_threads() {
    const unsigned n = worker_count(cfg_);
    core::loop_group::options go;
    go.threads = n;
    go.pin_cpus = cfg_.pin;
    go.loop_options.poller = impl_->io;
    impl_->group = std::make_unique<core::loop_group>(go);
    for (unsigned i = 0; i < n; ++i) {
        auto ls = std::make_unique<loop_state>();
        ls->index = i;
        ls->loop = &impl_->group->at(i);
        ls->loop->set_slot(ls.get());  // runtime::current_loop() finds it from the loop
        setup_loop(*ls);
        loops_.push_back(std::move(ls));
    }
    if (cfg_.model == execution_model::acceptor) {
        core::loop_group::options ao;
        ao.threads = 1;
        ao.name = "sy-accept";
        ao.loop_options.poller = impl_->io;
        impl_->acceptor = std::make_unique<core::loop_group>(ao);
        impl_->acceptor_state = std::make_unique<loop_state>();
        impl_->acceptor_state->index = n;
        impl_->acceptor_state->loop = &impl_->acceptor->at(0);
        impl_->acceptor_state->loop->set_slot(impl_->acceptor_state.get());
    }
    if (impl_->inherited.empty() && udp_fds_.empty() && cfg_.model == execution_model::prefork)
        return 1;
    make_hub();
    open_listeners();
    open_datagram_endpoints();
    if (!prefork_parent_ && cfg_.model != execution_model::prefork) announce();
    core::thread_pool::options po;
    po.threads = cfg_.limits.pool_threads;
    po.max_queue = cfg_.limits.pool_queue;
    pool_ = std::make_unique<core::thread_pool>(po);

    impl_->group->start([this](std::size_t i, core::loop&) {
        for (auto& fn : start_hooks_) fn(*loops_[i]);
    });
    if (impl_->acceptor) impl_->acceptor->start(nullptr);
    log::info("switchyard: model {} with {} loop(s) on {}", to_string(cfg_.model), n,
              impl_->group->at(0).io().name());
    notify::ready();  // listeners open and loops started (a prefork child has no NOTIFY_SOCKET)

    sigset_t set = handled_signals();
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig == SIGHUP) {
            notify::reloading();
            for (auto& fn : impl_->reload_hooks) fn();
            notify::ready();
        }
    }
    notify::stopping();
    shutdown_loops();
    return 0;
}

void runtime::make_hub() {
    hub::hub_settings hs;
    hs.defaults.history_count = cfg_.hub.history_count;
    hs.defaults.history_age_ms = cfg_.hub.history_age_ms;
    hs.defaults.output_cap_bytes = cfg_.hub.subscriber_output_cap;
    auto policy = hub::parse_slow_policy(cfg_.hub.slow_policy);
    if (!policy)
        throw config_error("hub.slow_policy: unknown policy '" + cfg_.hub.slow_policy + "'");
    hs.defaults.slow = *policy;
    // sys.*: server::system_topics only; jobs.*: the jobs API's events (server/jobs.cpp).
    hs.reserved_prefixes = {std::string(k_system_prefix), "jobs."};
    hs.rules = topic_rules_;
    backplane_ = make_backplane(*this, cfg_);
    if (backplane_) {
        backplane_->install(
            hs, [this](unsigned i, sy::task t) { loops_[i]->loop->post(std::move(t)); });
    } else if (cfg_.model == execution_model::prefork) {
        log::info("prefork without backplane.url: each process has its own hub (docs/scaling.md)");
    }
    // Tasks between two shards must stay in order (the hub's resume relies on it): loop::post
    // is FIFO per producer, and each shard posts from its own thread. The hub's task is the
    // loop's task (sy::task), handed over as it is: no second wrapper, no second allocation.
    hub_ = std::make_unique<hub::hub>(
        hs, static_cast<unsigned>(loops_.size()),
        [this](unsigned shard, sy::task t) { loops_[shard]->loop->post(std::move(t)); });
    for (auto& l : loops_) l->shard = &hub_->shard(l->index);
    if (backplane_) {  // its links live on loop 0, like the broker
        backplane_->attach(*hub_);
        on_loop_start([this](loop_state& ls) {
            if (ls.index == 0) backplane_->start(*ls.loop);
        });
        on_loop_stop([this](loop_state& ls) {
            if (ls.index == 0) backplane_->stop();
        });
    }
}

void runtime::shutdown_loops() {
    log::info("shutting down: draining connections for up to {} ms", cfg_.limits.shutdown_grace_ms);
    // 1. At once, on every loop: stop accepting (the listening sockets close: new connections
    //    are refused) and tell every connection, whatever its protocol (session::graceful_shutdown:
    //    HTTP finishes or answers what waits through http::response::on_shutdown, h2 GOAWAY,
    //    WebSocket 1001, SSE end of stream, AMQP connection.close 320).
    // Datagram flows hear the same notification; their sockets stay open until step 3.
    auto stop_accepting = [](loop_state& ls) {
        ls.listeners.clear();
        ls.flows.drain();
    };
    if (impl_->acceptor_state) {
        auto* as = impl_->acceptor_state.get();
        as->loop->post([as, stop_accepting] { stop_accepting(*as); });
    }
    for (auto& l : loops_) {
        loop_state* ls = l.get();
        ls->loop->post([ls, stop_accepting] {
            stop_accepting(*ls);
            ls->conns.drain([](net::connection& c) { session::shutdown_connection(c); });
        });
    }
    // 2. Until every connection is gone or the grace period is over.
    auto open_connections = [this] {
        std::uint64_t open = 0;
        for (auto& l : loops_) open += l->io.opened.get() - l->io.closed.get();
        return open;
    };
    const auto deadline = mono_clock::now() + millis(cfg_.limits.shutdown_grace_ms);
    while (open_connections() > 0 && mono_clock::now() < deadline) {
        std::this_thread::sleep_for(millis(20));
    }
    // 3. Close what is left, then (once every loop did: what closing posted to other loops is
    //    queued before) the stop hooks, which may free state those connections used.
    run_everywhere([](loop_state& ls) {
        ls.conns.close_all(net::close_mode::immediate);
        ls.flows.close_all();
    });
    run_everywhere([](loop_state& ls) { close_endpoints(ls); });
    run_everywhere([this](loop_state& ls) {
        for (auto& fn : stop_hooks_) fn(ls);
    });
    if (impl_->acceptor) impl_->acceptor->stop();
    impl_->group->stop();
    if (pool_) pool_->stop();
    // Loop-owned objects go away on this thread now that no loop runs.
    for (auto& l : loops_) {
        l->listeners.clear();
        l->endpoints.clear();
        l->http.reset();
        l->shard = nullptr;
    }
    hub_.reset();
}

void runtime::run_everywhere(const std::function<void(loop_state&)>& fn) {
    std::latch done(static_cast<std::ptrdiff_t>(loops_.size()));
    for (auto& l : loops_) {
        loop_state* ls = l.get();
        ls->loop->post([ls, &fn, &done] {
            fn(*ls);
            done.count_down();
        });
    }
    done.wait();
}

void runtime::for_each_loop(std::function<void(loop_state&)> fn, std::function<void()> done) {
    // `done` may hold what only the calling loop may touch (an http::response): the last loop
    // to finish moves it into the post back, so it is run and destroyed on the calling loop
    // alone, whichever loop drops the shared state last.
    struct state {
        std::function<void(loop_state&)> fn;
        std::function<void()> done;
        std::atomic<std::size_t> remaining;
    };
    loop_state* origin = current_loop_state();
    auto st = std::make_shared<state>();
    st->fn = std::move(fn);
    st->done = std::move(done);
    st->remaining.store(loops_.size(), std::memory_order_relaxed);
    for (auto& l : loops_) {
        loop_state* ls = l.get();
        ls->loop->post([ls, origin, st] {
            st->fn(*ls);
            // acq_rel: every loop's writes made in fn happen before done runs.
            if (st->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                origin->loop->post([d = std::move(st->done)]() mutable { d(); });
            }
        });
    }
}

void runtime::stall_accept(std::uint64_t ms) {
    auto pause = [ms](loop_state& ls) {
        for (auto& l : ls.listeners) l->pause();
        ls.loop->add_timer(millis(ms), [&ls] {
            for (auto& l : ls.listeners) l->resume();
        });
    };
    if (impl_->acceptor_state) {
        auto* as = impl_->acceptor_state.get();
        as->loop->post([as, pause] { pause(*as); });
    }
    for (auto& l : loops_) {
        loop_state* ls = l.get();
        ls->loop->post([ls, pause] { pause(*ls); });
    }
}

int runtime::run_prefork() {
    // The parent binds every address once; children inherit the sockets and accept on them.
    net::listener_options lo = listener_opts(cfg_, nullptr);
    lo.sharing = cfg_.reuseport ? net::port_sharing::claim : net::port_sharing::exclusive;
    std::vector<net::unique_fd> fds;
    for (const auto& k : kinds_) {
        for (const auto& text : k.addresses) {
            auto addr = net::address::parse(text);
            if (!addr) throw config_error("listen: cannot parse address '" + text + "'");
            auto fd = net::bind_listen_socket(*addr, lo);
            if (!fd) throw listen_error(text, fd.error());
            net::address local;
            *local.len_ptr() = net::address::capacity();
            ::getsockname(fd->get(), local.sa(), local.len_ptr());
            tcp_ports_.push_back({k.scheme, text, local.port()});
            listener_infos_.push_back({k.scheme,
                                       local.to_string(),
                                       fd->get(),
                                       {fd->get()},
                                       static_cast<int>(cfg_.backlog)});
            fds.push_back(std::move(*fd));
        }
    }
    const unsigned n = std::max(1u, cfg_.workers > 0 ? static_cast<unsigned>(cfg_.workers)
                                                     : std::thread::hardware_concurrency());
    bind_prefork_udp(n);
    announce();
    prefork_parent_ = true;
    std::vector<pid_t> children(n, -1);
    auto spawn = [&](unsigned i) -> bool {
        pid_t pid = fork();
        if (pid < 0) return false;
        if (pid == 0) {
            notify::forget();  // the parent is the service's main PID
            prefork_parent_ = false;
            process_index_ = i;
            for (auto& fd : fds) impl_->inherited.emplace_back(::dup(fd.get()));
            fds.clear();
            keep_prefork_udp(i, n);
            cfg_.workers = 1;
            cfg_.model = execution_model::prefork;
            listener_infos_.clear();
            if (cfg_.pin) core::pin_current_thread(i);
            int code = 2;
            try {
                code = run_threads();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "switchyard: prefork child %u: %s\n", i, e.what());
            }
            std::exit(code);
        }
        children[i] = pid;
        return true;
    };
    for (unsigned i = 0; i < n; ++i) spawn(i);
    log::info("switchyard: prefork with {} processes", n);
    notify::ready();  // the sockets are bound; children accept as soon as each loop runs

    sigset_t set = handled_signals();
    bool stopping = false;
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGTERM || sig == SIGINT) {
            notify::stopping();
            stopping = true;
            for (pid_t p : children) {
                if (p > 0) ::kill(p, SIGTERM);
            }
            // The parent's copies would keep the sockets listening (connections queued, never
            // accepted) after the children closed theirs: close them so connects are refused.
            fds.clear();
            break;
        }
        if (sig == SIGHUP) {
            // Each child reloads on its own; the parent does not wait for them.
            notify::reloading();
            for (pid_t p : children) {
                if (p > 0) ::kill(p, SIGHUP);
            }
            notify::ready();
        }
        if (sig == SIGCHLD) {
            int status = 0;
            pid_t dead;
            while ((dead = ::waitpid(-1, &status, WNOHANG)) > 0) {
                for (unsigned i = 0; i < n; ++i) {
                    if (children[i] != dead) continue;
                    children[i] = -1;
                    // Exit 2 is a start-up error: the same configuration would fail again, so
                    // the child is not restarted (nginx: "exited with fatal code 2 and cannot be
                    // respawned"); a crash or a kill is restarted.
                    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
                        log::error(
                            "prefork: child {} (pid {}) failed to start (exit 2); "
                            "not restarted",
                            i, dead);
                        continue;
                    }
                    log::warn("prefork: child {} (pid {}) exited ({}); restarting", i, dead,
                              status);
                    if (!stopping) {
                        std::this_thread::sleep_for(millis(50));  // no fork storm
                        spawn(i);
                    }
                }
            }
            if (std::all_of(children.begin(), children.end(), [](pid_t p) { return p < 0; })) {
                log::error("prefork: no child could start; exiting");
                return 2;
            }
        }
    }
    const auto deadline = mono_clock::now() + millis(cfg_.limits.shutdown_grace_ms + 2000);
    for (pid_t& p : children) {
        while (p > 0) {
            int status = 0;
            pid_t r = ::waitpid(p, &status, WNOHANG);
            if (r == p || r < 0) {
                p = -1;
                break;
            }
            if (mono_clock::now() > deadline) {
                ::kill(p, SIGKILL);
                ::waitpid(p, &status, 0);
                p = -1;
                break;
            }
            std::this_thread::sleep_for(millis(20));
        }
    }
    return 0;
}

}  // namespace sy::server
