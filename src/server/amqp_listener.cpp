// AMQP listener wiring (see server/amqp.hpp).
#include "switchyard/server/amqp.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <memory>

#include <fmt/format.h>

#include "switchyard/base/log.hpp"
#include "switchyard/session/amqp_server.hpp"

namespace sy::server {

namespace {

/// The broker's figures as the metrics see them: written only by the broker loop (a refresh
/// posted there at each scrape), read by the scraping loop; relaxed, each figure on its own.
struct amqp_snapshot {
    std::atomic<std::uint64_t> published{0}, delivered{0}, ready{0}, unacked{0}, consumers{0},
        connections{0}, channels{0};
    void store(const session::amqp_figures& f) {
        published.store(f.published, std::memory_order_relaxed);
        delivered.store(f.delivered, std::memory_order_relaxed);
        ready.store(f.ready, std::memory_order_relaxed);
        unacked.store(f.unacked, std::memory_order_relaxed);
        consumers.store(f.consumers, std::memory_order_relaxed);
        connections.store(f.connections, std::memory_order_relaxed);
        channels.store(f.channels, std::memory_order_relaxed);
    }
};

struct amqp_state {
    std::unique_ptr<session::amqp_server> server;  // broker loop thread only
    loop_state* owner = nullptr;
    amqp_snapshot figures;
};

session::amqp_options options_of(const amqp_config& c) {
    session::amqp_options o;
    o.users = amqp_users_of(c);
    if (!c.vhosts.empty()) o.vhosts = c.vhosts;
    o.heartbeat_s = static_cast<std::uint16_t>(c.heartbeat_s);
    o.handshake_timeout_ms = c.handshake_timeout_ms;
    o.frame_max = static_cast<std::uint32_t>(c.frame_max);
    o.channel_max = static_cast<std::uint16_t>(c.channel_max);
    o.max_message = c.max_message;
    o.memory_limit = c.memory_limit;
    o.store_dir = c.store_dir;
    o.fsync = c.fsync;
    o.fsync_interval_ms = c.fsync_interval_ms;
    return o;
}

// Creates and checks amqp.store_dir on the main thread before any loop runs, so a wrong
// directory is a start-up error (exit 2) rather than an exception thrown on the broker loop's
// thread when the store opens (which would abort the process).
void check_store_dir(const std::string& dir) {
    if (dir.empty()) return;
    ::mkdir(dir.c_str(), 0755);  // one level, as the store does; EEXIST is checked below
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        throw config_error(fmt::format("amqp.store_dir: {}: {}", dir,
                                       errno == ENOENT ? "no such directory" : strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode))
        throw config_error(fmt::format("amqp.store_dir: {}: not a directory", dir));
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        throw config_error(fmt::format("amqp.store_dir: {}: not writable", dir));
    }
}

/// sy_amqp_* families, read from the snapshot; each scrape first posts to the broker loop to
/// refresh it (the broker is loop 0's alone: nothing else may walk its queues).
void register_amqp_metrics(runtime& rt, const std::shared_ptr<amqp_state>& st) {
    using metrics::kind;
    auto& m = rt.metrics();
    m.add_refresh([st, &rt](std::function<void()> done) {
        loop_state* origin = current_loop_state();
        if (!origin) return done();
        rt.loop_at(0).loop->post([st, origin, done = std::move(done)]() mutable {
            if (st->server) st->figures.store(st->server->figures());
            origin->loop->post(std::move(done));
        });
    });
    auto add = [&m, &st](std::string name, kind type, std::string help,
                         std::atomic<std::uint64_t> amqp_snapshot::*field) {
        m.add_value({std::move(name), type, std::move(help), {}, false},
                    [st, field] { return (st->figures.*field).load(std::memory_order_relaxed); });
    };
    add("sy_amqp_published_total", kind::counter, "Messages published to the AMQP broker.",
        &amqp_snapshot::published);
    add("sy_amqp_delivered_total", kind::counter,
        "Messages delivered to AMQP consumers and basic.get (redeliveries included).",
        &amqp_snapshot::delivered);
    add("sy_amqp_messages_ready", kind::gauge, "Messages waiting in AMQP queues.",
        &amqp_snapshot::ready);
    add("sy_amqp_messages_unacked", kind::gauge, "Messages delivered, not yet acknowledged.",
        &amqp_snapshot::unacked);
    add("sy_amqp_consumers", kind::gauge, "AMQP consumers over every queue.",
        &amqp_snapshot::consumers);
    add("sy_amqp_connections", kind::gauge, "AMQP connections open.", &amqp_snapshot::connections);
    add("sy_amqp_channels", kind::gauge, "AMQP channels open.", &amqp_snapshot::channels);
}

}  // namespace

std::vector<session::amqp_user> amqp_users_of(const amqp_config& c) {
    std::vector<session::amqp_user> users;
    for (const auto& u : c.users) {
        auto colon = u.find(':');
        session::amqp_user au;
        au.name = u.substr(0, colon);
        au.password = colon == std::string::npos ? std::string() : u.substr(colon + 1);
        au.loopback_only = au.name == "guest";
        users.push_back(std::move(au));
    }
    return users;
}

void install_amqp(sy::app& app) {
    app.on_runtime([](runtime& rt) {
        const amqp_config& ac = rt.config().amqp;
        if (ac.listen.empty()) return;
        check_store_dir(ac.store_dir);
        auto st = std::make_shared<amqp_state>();
        auto opts = options_of(ac);
        register_amqp_metrics(rt, st);
        rt.on_loop_start([st, opts](loop_state& ls) {
            if (ls.index != 0) return;
            st->owner = &ls;
            st->server = std::make_unique<session::amqp_server>(*ls.loop, opts, ls.shard,
                                                                ls.conn_opts, &ls.conns);
            ls.broker = &st->server->broker();
            ls.amqp = st->server.get();
            ls.when_durable = [srv = st->server.get()](std::function<void()> fn) {
                srv->when_durable(std::move(fn));
            };
        });
        rt.on_loop_stop([st](loop_state& ls) {
            if (&ls == st->owner && st->server) st->server->stop();
        });
        rt.add_listener("amqp", ac.listen, [st, &rt](loop_state&, net::accepted_socket&& s) {
            loop_state& owner = rt.loop_at(0);
            const bool lb = s.peer.is_loopback();
            auto peer = s.peer.to_string();
            owner.loop->post([st, sock = std::make_shared<net::accepted_socket>(std::move(s)),
                              peer = std::move(peer), lb]() mutable {
                if (!st->server) return;
                st->server->accept(std::move(sock->fd), std::move(peer), lb, std::move(sock->slot));
            });
        });
    });
}

}  // namespace sy::server
