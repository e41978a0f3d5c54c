// AMQP listener wiring (see server/amqp.hpp).
#include "switchyard/server/amqp.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "switchyard/base/log.hpp"
#include "switchyard/session/amqp_server.hpp"

namespace sy::server {

namespace {

/// The broker's figures as the metrics see them: written only by the broker loop (a refresh
/// posted there at each scrape), read by the scraping loop; relaxed, each figure on its own. The
/// per-queue list is swapped whole under a lock held only by a refresh and a render.
struct amqp_snapshot {
    std::atomic<std::uint64_t> published{0}, delivered{0}, acknowledged{0}, redelivered{0},
        confirmed{0}, ready{0}, unacked{0}, consumers{0}, queues{0}, connections{0}, channels{0};
    void store(session::amqp_figures&& f) {
        published.store(f.published, std::memory_order_relaxed);
        delivered.store(f.delivered, std::memory_order_relaxed);
        acknowledged.store(f.acknowledged, std::memory_order_relaxed);
        redelivered.store(f.redelivered, std::memory_order_relaxed);
        confirmed.store(f.confirmed, std::memory_order_relaxed);
        ready.store(f.ready, std::memory_order_relaxed);
        unacked.store(f.unacked, std::memory_order_relaxed);
        consumers.store(f.consumers, std::memory_order_relaxed);
        queues.store(f.queues, std::memory_order_relaxed);
        connections.store(f.connections, std::memory_order_relaxed);
        channels.store(f.channels, std::memory_order_relaxed);
        std::lock_guard lk(mu);
        per_queue = std::move(f.per_queue);
    }
    std::mutex mu;  // per_queue only; scrape paths, never a message path
    std::vector<session::amqp_queue_figures> per_queue;
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
    o.publish_rate = c.publish_rate;
    o.publish_burst = c.publish_burst;
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

/// "switchyard@<host>": the node name rabbitmq_identity_info carries (RabbitMQ's is
/// "rabbit@<host>"); the cluster is the node itself.
std::string node_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "switchyard@localhost";
    return fmt::format("switchyard@{}", host);
}

using field = std::atomic<std::uint64_t> amqp_snapshot::*;

/// One figure under RabbitMQ's Prometheus name (its type, HELP text and labels, as
/// rabbitmq_prometheus 3.10 serves them) and, where it had one before, switchyard's own sy_amqp_*
/// name: both families are made from this one row and read the same snapshot field.
struct amqp_family {
    const char* rabbit;
    const char* sy;  // nullptr: none
    metrics::kind type;
    const char* help;
    field get;
    const char* labels;  // "": none; "protocol"; "protocol,queue_type"; "queue": per queue
};

constexpr amqp_family k_amqp_families[] = {
    {"rabbitmq_queue_messages_ready", "sy_amqp_messages_ready", metrics::kind::gauge,
     "Messages ready to be delivered to consumers", &amqp_snapshot::ready, "queue"},
    {"rabbitmq_queue_messages_unacked", "sy_amqp_messages_unacked", metrics::kind::gauge,
     "Messages delivered to consumers but not yet acknowledged", &amqp_snapshot::unacked, "queue"},
    {"rabbitmq_queue_consumers", nullptr, metrics::kind::gauge, "Consumers on a queue",
     &amqp_snapshot::consumers, "queue"},
    {"rabbitmq_queues", nullptr, metrics::kind::gauge, "Queues available", &amqp_snapshot::queues,
     ""},
    {"rabbitmq_connections", "sy_amqp_connections", metrics::kind::gauge,
     "Connections currently open", &amqp_snapshot::connections, ""},
    {"rabbitmq_channels", "sy_amqp_channels", metrics::kind::gauge, "Channels currently open",
     &amqp_snapshot::channels, ""},
    {"rabbitmq_consumers", "sy_amqp_consumers", metrics::kind::gauge,
     "Consumers currently connected", &amqp_snapshot::consumers, ""},
    {"rabbitmq_global_messages_received_total", "sy_amqp_published_total", metrics::kind::counter,
     "Total number of messages received from publishers", &amqp_snapshot::published, "protocol"},
    {"rabbitmq_global_messages_delivered_total", "sy_amqp_delivered_total", metrics::kind::counter,
     "Total number of messages delivered to consumers", &amqp_snapshot::delivered,
     "protocol,queue_type"},
    {"rabbitmq_global_messages_acknowledged_total", nullptr, metrics::kind::counter,
     "Total number of messages acknowledged by consumers", &amqp_snapshot::acknowledged,
     "protocol,queue_type"},
    {"rabbitmq_global_messages_redelivered_total", nullptr, metrics::kind::counter,
     "Total number of messages redelivered to consumers", &amqp_snapshot::redelivered,
     "protocol,queue_type"},
    {"rabbitmq_global_messages_confirmed_total", nullptr, metrics::kind::counter,
     "Total number of messages confirmed to publishers", &amqp_snapshot::confirmed, "protocol"},
};

/// The per-queue value of a snapshot field (a field rabbitmq_queue_* families read).
std::uint64_t queue_value(const session::amqp_queue_figures& q, field f) {
    if (f == &amqp_snapshot::ready) return q.ready;
    if (f == &amqp_snapshot::unacked) return q.unacked;
    return q.consumers;
}

void add_amqp_family(metrics::registry& m, const std::shared_ptr<amqp_state>& st,
                     const amqp_family& f) {
    using metrics::kind;
    const std::string_view labels = f.labels;
    metrics::family_spec spec{f.rabbit, f.type, f.help, {}, false};
    if (labels == "queue") {
        spec.labels = {"vhost", "queue"};
        m.add(std::move(spec), [st, get = f.get](metrics::emitter& e) {
            if (!e.per_object()) return e.add((st->figures.*get).load(std::memory_order_relaxed));
            std::lock_guard lk(st->figures.mu);
            for (const auto& q : st->figures.per_queue)
                e.add({q.vhost, q.name}, queue_value(q, get));
        });
    } else if (labels.empty()) {
        m.add_value(std::move(spec), [st, get = f.get] {
            return (st->figures.*get).load(std::memory_order_relaxed);
        });
    } else {
        // Only classic queues exist here: one sample, labelled as RabbitMQ labels its classic
        // queues' series.
        const bool by_type = labels == "protocol,queue_type";
        spec.labels = by_type ? std::vector<std::string>{"protocol", "queue_type"}
                              : std::vector<std::string>{"protocol"};
        m.add(std::move(spec), [st, get = f.get, by_type](metrics::emitter& e) {
            const std::uint64_t v = (st->figures.*get).load(std::memory_order_relaxed);
            if (by_type) return e.add({"amqp091", "rabbit_classic_queue"}, v);
            e.add({"amqp091"}, v);
        });
    }
    if (f.sy) {
        m.add_value({f.sy, f.type, f.help, {}, false}, [st, get = f.get] {
            return (st->figures.*get).load(std::memory_order_relaxed);
        });
    }
}

/// rabbitmq_* and sy_amqp_* families, read from the snapshot; each scrape first posts to the
/// broker loop to refresh it (the broker is loop 0's alone: nothing else may walk its queues).
void register_amqp_metrics(runtime& rt, const std::shared_ptr<amqp_state>& st) {
    auto& m = rt.metrics();
    const std::size_t max_queues = rt.config().metrics.per_object_max;
    m.add_refresh([st, &rt, max_queues](std::function<void()> done) {
        loop_state* origin = current_loop_state();
        if (!origin) return done();
        rt.loop_at(0).loop->post([st, origin, max_queues, done = std::move(done)]() mutable {
            if (st->server) st->figures.store(st->server->figures(max_queues));
            origin->loop->post(std::move(done));
        });
    });
    const std::string node = node_name();
    m.add({"rabbitmq_identity_info",
           metrics::kind::untyped,
           "RabbitMQ node & cluster identity info",
           {"rabbitmq_node", "rabbitmq_cluster", "rabbitmq_cluster_permanent_id"},
           false},
          [node](metrics::emitter& e) {
              e.add({node, node, node}, 1);
          });
    for (const amqp_family& f : k_amqp_families) add_amqp_family(m, st, f);
}

}  // namespace

void install_amqp(app& app) {
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
            auto o = opts;
            o.policy = [&ls] { return ls.auth; };  // loop 0's, replaced there on a JWKS refresh
            st->server = std::make_unique<session::amqp_server>(*ls.loop, std::move(o), ls.shard,
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
