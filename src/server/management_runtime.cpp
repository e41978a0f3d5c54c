// The management API's runtime resources: connections of every protocol (each loop lists its
// own; loop 0 adds what the AMQP server knows of its connections), hub topics (the hub's
// list_topics, with rates from loop 0's sampler), listeners and their kernel accept queues,
// loops, the node; and the public JSON gatherers of server/management.hpp.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "management_internal.hpp"
#include "switchyard/backplane/backplane.hpp"
#include "switchyard/backplane/presence.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/session/amqp_server.hpp"
#include "switchyard/session/shutdown.hpp"
#include "switchyard/version.hpp"

namespace sy::server::mgmt {

namespace {

std::int64_t wall_ms() {
    return std::chrono::duration_cast<millis>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string local_of(const net::connection& c) {
    net::address a;
    *a.len_ptr() = net::address::capacity();
    if (::getsockname(c.fd(), a.sa(), a.len_ptr()) != 0) return {};
    return a.to_string();
}

std::string peer_of(const net::connection& c) {
    net::address a;
    *a.len_ptr() = net::address::capacity();
    if (::getpeername(c.fd(), a.sa(), a.len_ptr()) != 0) return {};
    return a.to_string();
}

// The listener a connection came in on: the announced address with the same port.
std::string listener_of(runtime& rt, std::uint16_t port) {
    for (const auto& l : rt.listeners()) {
        if (split_host_port(l.address).second == port) return l.scheme + "://" + l.address;
    }
    return {};
}

// Switchyard's own connection fields (every protocol): listener, loop, the server's output
// queue and the kernel's queues and RTT (TCP_INFO).
void kernel_fields(item& it, runtime& rt, const loop_state& ls, const net::connection& c,
                   std::uint16_t port) {
    auto ti = net::tcp_info_of(c.fd());
    it.str("listener", listener_of(rt, port)).num("loop", std::uint64_t{ls.index});
    it.num("output_queued", std::uint64_t{c.queued_bytes()});
    it.num("send_queue", std::uint64_t{ti ? ti->send_queue : 0});
    it.num("send_unsent", std::uint64_t{ti ? ti->unsent : 0});
    it.num("recv_queue", std::uint64_t{ti ? ti->recv_queue : 0});
    it.num("rtt_us", std::uint64_t{ti ? ti->rtt_us : 0});
}

item plain_connection(runtime& rt, const loop_state& ls, net::connection& c) {
    const std::string peer = peer_of(c), local = local_of(c);
    auto [peer_host, peer_port] = split_host_port(peer);
    auto [host, port] = split_host_port(local);
    const std::string_view proto = c.handler() ? c.handler()->protocol() : "TCP";
    item it;
    it.num("connected_at", wall_ms() - (ls.loop->now_ms() - c.opened_ms()));
    it.str("host", host).str("name", connection_name(peer, local)).str("node", node_name());
    it.str("peer_host", peer_host)
        .num("peer_port", unsigned{peer_port})
        .num("port", unsigned{port});
    it.str("protocol", proto).num("recv_oct", c.bytes_in()).num("send_oct", c.bytes_out());
    it.boolean("ssl", listener_of(rt, port).starts_with("https://"));
    it.str("state", c.is_open() ? "running" : "closing");
    it.str("type", "network");
    kernel_fields(it, rt, ls, c, port);
    return it;
}

/// max: at most this many (0: all); the rest are not even looked at (no TCP_INFO for them).
item_list loop_connections(runtime& rt, loop_state& ls, std::size_t max = 0) {
    std::map<const net::connection*, item> amqp;
    if (ls.amqp) amqp = amqp_connection_items(ls);
    item_list out;
    out.reserve(ls.conns.size());
    ls.conns.for_each([&](net::connection& c) {
        if (max && out.size() >= max) return;
        auto it = amqp.find(&c);
        if (it == amqp.end()) return out.push_back(plain_connection(rt, ls, c));
        const field* p = it->second.find("port");
        kernel_fields(it->second, rt, ls, c, p ? static_cast<std::uint16_t>(p->number) : 0);
        out.push_back(std::move(it->second));
    });
    return out;
}

// Per-loop results gathered into one slot per loop (each loop writes only its own), merged
// on the calling loop once all ran (runtime::for_each_loop orders the writes before done).
template <typename Fn>
void per_loop(runtime& rt, Fn fn, std::function<void(item_list)> done) {
    auto parts = std::make_shared<std::vector<item_list>>(rt.loop_count());
    rt.for_each_loop([parts, fn](loop_state& ls) { (*parts)[ls.index] = fn(ls); },
                     [parts, done = std::move(done)] {
                         item_list all;
                         std::size_t n = 0;
                         for (const auto& p : *parts) n += p.size();
                         all.reserve(n);
                         for (auto& p : *parts) {
                             for (auto& i : p) all.push_back(std::move(i));
                         }
                         done(std::move(all));
                     });
}

/// c: the figures of every node (a backplane): subscribers is their sum, last_id Redis'.
item topic_item(const hub::topic_info& t, const rate_sampler::topic_sample* r,
                const backplane::topic_nodes* c = nullptr) {
    std::string by;
    json::writer w(by);
    w.begin_object();
    for (std::size_t k = 0; k < hub::subscriber_transport_count; ++k) {
        w.member(hub::to_string(static_cast<hub::subscriber_transport>(k)), t.subscribers_by[k]);
    }
    w.end_object();
    item it;
    counter_with_rate(it, "deliveries", t.stats.deliveries, r ? r->delivery_rate : 0);
    it.num("history", t.stats.history_count).num("last_id", c ? c->last_id : t.stats.last_id);
    it.str("name", t.name).str("node", node_name());
    it.num("over_cap", t.stats.over_cap);
    counter_with_rate(it, "publishes", t.stats.publishes, r ? r->publish_rate : 0);
    std::uint64_t sum = t.stats.subscribers;
    if (c) {
        std::string nodes;
        json::writer n(nodes);
        n.begin_object();
        sum = 0;
        for (const auto& [node, count] : c->nodes) {
            n.member(node, count);
            sum += count;
        }
        n.end_object();
        it.num("epoch", c->epoch).num("local_subscribers", t.stats.subscribers);
        it.raw("nodes", std::move(nodes));
    }
    it.num("subscribers", sum).raw("subscribers_by_transport", std::move(by));
    return it;
}

void sample_topics(rate_sampler& rs, const std::vector<hub::topic_info>& topics,
                   std::int64_t now_ms) {
    const std::int64_t dt = now_ms - rs.topics_at_ms;
    std::map<std::string, rate_sampler::topic_sample, std::less<>> next;
    for (const auto& t : topics) {
        rate_sampler::topic_sample s;
        s.publishes = t.stats.publishes;
        s.deliveries = t.stats.deliveries;
        auto it = rs.topics.find(t.name);
        if (it != rs.topics.end() && rs.topics_at_ms != 0 && dt > 0) {
            const double k = 1000.0 / static_cast<double>(dt);
            if (s.publishes >= it->second.publishes)
                s.publish_rate = static_cast<double>(s.publishes - it->second.publishes) * k;
            if (s.deliveries >= it->second.deliveries)
                s.delivery_rate = static_cast<double>(s.deliveries - it->second.deliveries) * k;
        }
        next.emplace(t.name, s);
    }
    rs.topics = std::move(next);
    rs.topics_at_ms = now_ms;
}

}  // namespace

void gather_connections(runtime& rt, std::function<void(item_list)> done, std::size_t max) {
    per_loop(
        rt, [&rt, max](loop_state& ls) { return loop_connections(rt, ls, max); },
        [max, done = std::move(done)](item_list all) {
            if (max && all.size() > max) all.resize(max);
            done(std::move(all));
        });
}

// The list is taken on loop 0 (its shard asks every shard), where the sampler keeps the
// previous pass for the rates; the answer is posted back to the caller's loop.
void gather_topics(runtime& rt, std::function<void(item_list)> done) {
    loop_state* origin = current_loop_state();
    loop_state* zero = &rt.loop_at(0);
    zero->loop->post([zero, origin, done = std::move(done)]() mutable {
        zero->shard->list_topics(
            [zero, origin, done = std::move(done)](std::vector<hub::topic_info> topics) mutable {
                const rate_sampler* rs = zero->loop->slot<rate_sampler>();
                item_list out;
                for (const auto& t : topics) {
                    const rate_sampler::topic_sample* r = nullptr;
                    if (rs) {
                        auto it = rs->topics.find(t.name);
                        if (it != rs->topics.end()) r = &it->second;
                    }
                    out.push_back(topic_item(t, r));
                }
                origin->loop->post([done = std::move(done), out = std::move(out)]() mutable {
                    done(std::move(out));
                });
            });
    });
}

void gather_topic(runtime& rt, std::string name, std::function<void(item_list)> done) {
    backplane::backplane* bp = rt.backplane();
    if (!bp || rt.hub().settings().reserved(name)) return gather_topics(rt, std::move(done));
    loop_state* origin = current_loop_state();
    loop_state* zero = &rt.loop_at(0);
    zero->loop->post([bp, zero, origin, name = std::move(name), done = std::move(done)]() mutable {
        zero->shard->list_topics([bp, zero, origin, name = std::move(name), done = std::move(done)](
                                     std::vector<hub::topic_info> topics) mutable {
            hub::topic_info mine;  // known on another node only: this node's figures are 0
            mine.name = name;
            for (auto& t : topics) {
                if (t.name == name) mine = std::move(t);
            }
            // On loop 0 (the figures' answer too), where the sampler keeps the rates.
            auto finish = [zero, origin, mine = std::move(mine), done = std::move(done)](
                              std::optional<backplane::topic_nodes> c) mutable {
                const rate_sampler* rs = zero->loop->slot<rate_sampler>();
                const rate_sampler::topic_sample* r = nullptr;
                if (rs) {
                    auto it = rs->topics.find(mine.name);
                    if (it != rs->topics.end()) r = &it->second;
                }
                item_list out;
                out.push_back(topic_item(mine, r, c ? &*c : nullptr));
                origin->loop->post([done = std::move(done), out = std::move(out)]() mutable {
                    done(std::move(out));
                });
            };
            if (backplane::redis_presence* p = bp->presence()) {
                return p->topic_figures(name, std::move(finish));
            }
            finish(std::nullopt);
        });
    });
}

void sample_hub(loop_state& zero) {
    zero.shard->list_topics([&zero](std::vector<hub::topic_info> topics) {
        if (rate_sampler* rs = zero.loop->slot<rate_sampler>())
            sample_topics(*rs, topics, zero.loop->now_ms());
    });
}

item_list listener_items(runtime& rt) {
    item_list out;
    auto host = net::host_listen_stats();
    for (const auto& l : rt.listeners()) {
        std::uint64_t depth = 0, limit = 0;
        std::string sockets;
        json::writer w(sockets);
        w.begin_array();
        for (int fd : l.fds) {
            auto q = net::listen_queue(fd);
            depth += q ? q->length : 0;
            limit += q ? q->limit : 0;
            w.begin_object()
                .member("accept_queue_depth", std::uint64_t{q ? q->length : 0})
                .member("accept_queue_limit", std::uint64_t{q ? q->limit : 0})
                .end_object();
        }
        w.end_array();
        auto [ip, port] = split_host_port(l.address);
        item it;
        it.num("accept_queue_depth", depth).num("accept_queue_limit", limit);
        it.str("address", l.address).num("backlog", std::int64_t{l.backlog});
        it.num("host_listen_drops", host ? host->listen_drops : 0);
        it.num("host_listen_overflows", host ? host->listen_overflows : 0);
        it.str("ip_address", ip).str("name", l.scheme + "://" + l.address).str("node", node_name());
        it.num("port", unsigned{port}).str("protocol", l.scheme).raw("sockets", std::move(sockets));
        out.push_back(std::move(it));
    }
    return out;
}

void gather_loops(runtime& rt, std::function<void(item_list)> done) {
    per_loop(
        rt,
        [](loop_state& ls) {
            const core::loop_stats& s = ls.loop->stats();
            item it;
            it.num("connections", std::uint64_t{ls.conns.size()});
            it.num("hub_subscriptions",
                   std::uint64_t{ls.shard ? ls.shard->subscription_count() : 0});
            it.num("index", std::uint64_t{ls.index});
            it.real("lag_max_ms", static_cast<double>(s.timer_lag_max_ns.get()) / 1e6);
            it.real("lag_ms", static_cast<double>(s.timer_lag_last_ns.get()) / 1e6);
            it.str("name", "loop " + std::to_string(ls.index));
            it.num("tasks_run", s.tasks_run.get()).num("turns", s.turns.get());
            return item_list{std::move(it)};
        },
        std::move(done));
}

item node_item(runtime& rt) {
    static const std::int64_t started = wall_ms();
    std::uint64_t fds = 0;
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0, rss = 0;
    statm >> pages >> rss;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        fds += rt.loop_at(i).io.opened.get() - rt.loop_at(i).io.closed.get();
    }
    item it;
    it.num("mem_used", rss * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
    it.str("name", node_name()).str("os_pid", std::to_string(::getpid()));
    it.num("processors", std::uint64_t{std::thread::hardware_concurrency()});
    it.boolean("running", true).num("sockets_used", fds);
    it.num("uptime", wall_ms() - started);
    return it;
}

void close_connection(runtime& rt, std::string name, std::string reason,
                      std::function<void(bool)> done) {
    auto found = std::make_shared<std::atomic<bool>>(false);
    rt.for_each_loop(
        [name = std::move(name), reason = std::move(reason), found](loop_state& ls) {
            std::vector<net::connection*> hits;
            ls.conns.for_each([&](net::connection& c) {
                if (connection_name(peer_of(c), local_of(c)) == name) hits.push_back(&c);
            });
            for (net::connection* c : hits) {
                found->store(true, std::memory_order_relaxed);
                // AMQP: connection.close 320 with the reason, as RabbitMQ; other protocols end
                // the way they end at shutdown (WebSocket 1001, SSE end, h2 GOAWAY).
                bool amqp = false;
                if (ls.amqp) {
                    for (const auto& a : ls.amqp->connections()) {
                        if (a.conn != c) continue;
                        amqp = ls.amqp->close_connection(a.id, reason);
                    }
                }
                if (!amqp) session::shutdown_connection(*c);
            }
        },
        [found, done = std::move(done)] { done(found->load(std::memory_order_relaxed)); });
}

}  // namespace sy::server::mgmt

namespace sy::server {

namespace {
std::string render_items(mgmt::item_list l) {
    std::string out;
    mgmt::render_list(std::move(l), {}, out);
    return out;
}
}  // namespace

void management_queues_json(runtime& rt, json_done done) {
    loop_state* origin = current_loop_state();
    loop_state* zero = &rt.loop_at(0);
    zero->loop->post([&rt, zero, origin, done = std::move(done)]() mutable {
        std::string out = mgmt::queues_json(rt, *zero);
        origin->loop->post(
            [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
    });
}

void management_topics_json(runtime& rt, json_done done, std::size_t max_items) {
    mgmt::gather_topics(rt, [max_items, done = std::move(done)](mgmt::item_list l) {
        if (max_items && l.size() > max_items) {
            // The most published first, then back in name order.
            auto publishes = [](const mgmt::item& i) {
                const mgmt::field* f = i.find("publishes");
                return f ? f->number : 0.0;
            };
            std::stable_sort(l.begin(), l.end(), [&](const mgmt::item& x, const mgmt::item& y) {
                return publishes(x) > publishes(y);
            });
            l.resize(max_items);
            std::stable_sort(l.begin(), l.end(), [](const mgmt::item& x, const mgmt::item& y) {
                const mgmt::field* a = x.find("name");
                const mgmt::field* b = y.find("name");
                return a && b && a->text < b->text;
            });
        }
        done(render_items(std::move(l)));
    });
}

void management_connections_json(runtime& rt, json_done done, std::size_t max_items) {
    mgmt::gather_connections(
        rt, [done = std::move(done)](mgmt::item_list l) { done(render_items(std::move(l))); },
        max_items);
}

void management_listeners_json(runtime& rt, json_done done) {
    std::string out = render_items(mgmt::listener_items(rt));
    loop_state* origin = current_loop_state();
    origin->loop->post(
        [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
}

void add_management_topics(system_topics& sys) {
    using reply_fn = system_topics::reply_fn;
    // A reply_fn is move-only and the gatherers take a std::function: hold it by a shared_ptr.
    auto wrap = [](reply_fn r) {
        return [r = std::make_shared<reply_fn>(std::move(r))](std::string json) {
            (*r)(std::move(json));
        };
    };
    sys.add("queues",
            [wrap](runtime& rt, reply_fn r) { management_queues_json(rt, wrap(std::move(r))); });
    sys.add("topics", [wrap](runtime& rt, reply_fn r) {
        management_topics_json(rt, wrap(std::move(r)), rt.config().management.sys_list_max);
    });
    sys.add("connections", [wrap](runtime& rt, reply_fn r) {
        management_connections_json(rt, wrap(std::move(r)), rt.config().management.sys_list_max);
    });
}

}  // namespace sy::server
