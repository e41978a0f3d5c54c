// sys.stats: one JSON object per tick, built from the metrics registry (families summed over
// the loops when collected) and the per-loop figures; rates are counter deltas over the time
// since the provider's previous call. Never walks connections. Fields: docs/dashboard.md.
#include <chrono>
#include <initializer_list>

#include "switchyard/base/json.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/server/system_topics.hpp"

namespace sy::server {

namespace {

/// What the previous sample saw (for the rates). Touched by one provider call at a time.
struct stats_memory {
    std::int64_t at_ns = 0;
    std::uint64_t requests = 0, deliveries = 0, publishes = 0, overflows = 0;
    std::vector<std::uint64_t> busy_ns;  // per loop
};

std::int64_t now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

std::int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Sum of every sample of the first family that exists among names (the AMQP families may be
/// registered under RabbitMQ's names or switchyard's). 0 when none is registered.
std::uint64_t family_sum(runtime& rt, std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
        std::uint64_t sum = 0;
        if (rt.metrics().collect(n, [&sum](const std::vector<std::string>&, metrics::value v) {
                sum += v.is_seconds ? static_cast<std::uint64_t>(v.seconds) : v.n;
            })) {
            return sum;
        }
    }
    return 0;
}

double rate(std::uint64_t now, std::uint64_t before, double dt_s) {
    return dt_s > 0 && now >= before ? static_cast<double>(now - before) / dt_s : 0.0;
}

void write_connections(json::writer& w, runtime& rt) {
    const std::uint64_t open = family_sum(rt, {"sy_connections_open"});
    const std::uint64_t amqp = family_sum(rt, {"rabbitmq_connections", "sy_amqp_connections"});
    // TCP connections by protocol; WebSocket and SSE are sessions (an h2 connection carries
    // several), counted beside them.
    w.key("connections")
        .begin_object()
        .member("open", open)
        .member("http", open >= amqp ? open - amqp : std::uint64_t{0})
        .member("amqp", amqp)
        .member("websocket", family_sum(rt, {"sy_ws_open"}))
        .member("sse", family_sum(rt, {"sy_sse_open"}))
        .end_object();
}

void write_amqp(json::writer& w, runtime& rt) {
    w.key("amqp")
        .begin_object()
        .member("ready",
                family_sum(rt, {"rabbitmq_queue_messages_ready", "sy_amqp_messages_ready"}))
        .member("unacked",
                family_sum(rt, {"rabbitmq_queue_messages_unacked", "sy_amqp_messages_unacked"}))
        .member("consumers", family_sum(rt, {"rabbitmq_queue_consumers", "sy_amqp_consumers"}))
        .member("channels", family_sum(rt, {"rabbitmq_channels", "sy_amqp_channels"}))
        .end_object();
}

/// Each listening address as /debug/listeners has it; depth and limit summed over its sockets
/// (a reuseport address has one queue per loop).
void write_listeners(json::writer& w, runtime& rt) {
    w.key("listeners").begin_array();
    for (const auto& l : rt.listeners()) {
        std::uint64_t depth = 0, limit = 0;
        for (int fd : l.fds) {
            if (auto q = net::listen_queue(fd)) {
                depth += q->length;
                limit += q->limit;
            }
        }
        w.begin_object()
            .member("scheme", l.scheme)
            .member("address", l.address)
            .member("backlog", l.backlog)
            .member("sockets", std::uint64_t{l.fds.size()})
            .member("accept_queue_depth", depth)
            .member("accept_queue_limit", limit)
            .end_object();
    }
    w.end_array();
}

void write_loops(json::writer& w, runtime& rt, stats_memory& mem, double dt_s) {
    mem.busy_ns.resize(rt.loop_count(), 0);
    w.key("loops").begin_array();
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        const core::loop_stats& s = rt.loop_at(i).loop->stats();
        const std::uint64_t busy = s.busy_ns.get();
        const double busy_frac = dt_s > 0 ? rate(busy, mem.busy_ns[i], dt_s) / 1e9 : 0.0;
        mem.busy_ns[i] = busy;
        w.begin_object()
            .member("loop", std::uint64_t{i})
            .member("lag_ms", static_cast<double>(s.timer_lag_last_ns.get()) / 1e6)
            .member("lag_max_ms", static_cast<double>(s.timer_lag_max_ns.get()) / 1e6)
            .member("busy", busy_frac)
            .end_object();
    }
    w.end_array();
}

std::string render_stats(runtime& rt, stats_memory& mem) {
    const std::int64_t t = now_ns();
    const double dt_s = mem.at_ns ? static_cast<double>(t - mem.at_ns) / 1e9 : 0.0;
    const std::uint64_t requests = family_sum(rt, {"sy_http_requests_total"});
    const std::uint64_t deliveries =
        family_sum(rt, {"sy_push_deliveries_total"}) +
        family_sum(rt, {"rabbitmq_global_messages_delivered_total", "sy_amqp_delivered_total"});
    const std::uint64_t publishes =
        rt.hub().totals().publishes +
        family_sum(rt, {"rabbitmq_global_messages_received_total", "sy_amqp_published_total"});
    const auto host = net::host_listen_stats();
    const std::uint64_t overflows = host ? host->listen_overflows : 0;

    std::string out;
    json::writer w(out);
    w.begin_object()
        .member("time_ms", wall_ms())
        .member("interval_s", dt_s)
        .member("loops_count", std::uint64_t{rt.loop_count()});
    write_connections(w, rt);
    w.member("requests_per_s", rate(requests, mem.requests, dt_s))
        .member("deliveries_per_s", rate(deliveries, mem.deliveries, dt_s))
        .member("publishes_per_s", rate(publishes, mem.publishes, dt_s));
    w.key("totals")
        .begin_object()
        .member("requests", requests)
        .member("deliveries", deliveries)
        .member("publishes", publishes)
        .end_object();
    write_amqp(w, rt);
    write_listeners(w, rt);
    w.member("listen_overflows", overflows)
        .member("listen_overflows_per_s", rate(overflows, mem.overflows, dt_s))
        .member("listen_drops", std::uint64_t{host ? host->listen_drops : 0});
    write_loops(w, rt, mem, dt_s);
    w.end_object();
    mem.at_ns = t;
    mem.requests = requests;
    mem.deliveries = deliveries;
    mem.publishes = publishes;
    mem.overflows = overflows;
    return out;
}

}  // namespace

system_topics::provider_fn stats_provider() {
    auto mem = std::make_shared<stats_memory>();
    return [mem](runtime& rt, system_topics::reply_fn reply) {
        // Figures one loop owns (the AMQP broker's) are refreshed first, as a /metrics scrape
        // does; the reply follows on the loop the refresh finishes on.
        auto r = std::make_shared<system_topics::reply_fn>(std::move(reply));
        rt.metrics().refresh([&rt, mem, r] { (*r)(render_stats(rt, *mem)); });
    };
}

}  // namespace sy::server
