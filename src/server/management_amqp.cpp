// The management API's broker objects, read on loop 0 (the broker's loop): overview, vhosts,
// queues, exchanges, bindings, channels, consumers, definitions, in RabbitMQ 3.10's shapes, and
// the rate sampler. Writes are in management_write.cpp.
#include <algorithm>

#include "management_internal.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/server/http3.hpp"
#include "switchyard/session/amqp_server.hpp"
#include "switchyard/version.hpp"

namespace sy::server::mgmt {

// ---- rates -------------------------------------------------------------------------------------

namespace {

double per_second(std::uint64_t now, std::uint64_t before, std::int64_t ms) {
    if (ms <= 0 || now < before) return 0;
    return static_cast<double>(now - before) * 1000.0 / static_cast<double>(ms);
}

// RabbitMQ's *_details rate of a gauge (messages...): its change per second, negative too.
double gauge_rate(std::uint64_t now, std::uint64_t before, std::int64_t ms) {
    if (ms <= 0) return 0;
    return (static_cast<double>(now) - static_cast<double>(before)) * 1000.0 /
           static_cast<double>(ms);
}

void advance(queue_sample& s, const hub::queue_counters& k, std::uint64_t ready,
             std::uint64_t unacked, std::int64_t now_ms) {
    if (s.at_ms != 0) {
        const std::int64_t dt = now_ms - s.at_ms;
        s.rate.publish = per_second(k.publish, s.counters.publish, dt);
        s.rate.deliver_get = per_second(k.deliver_get(), s.counters.deliver_get(), dt);
        s.rate.ack = per_second(k.ack, s.counters.ack, dt);
        s.rate.redeliver = per_second(k.redeliver, s.counters.redeliver, dt);
        s.rate.messages = gauge_rate(ready + unacked, s.ready + s.unacked, dt);
        s.rate.messages_ready = gauge_rate(ready, s.ready, dt);
        s.rate.messages_unacknowledged = gauge_rate(unacked, s.unacked, dt);
    }
    s.counters = k;
    s.ready = ready;
    s.unacked = unacked;
    s.at_ms = now_ms;
}

void add_counters(hub::queue_counters& sum, const hub::queue_counters& k) {
    sum.publish += k.publish;
    sum.deliver += k.deliver;
    sum.deliver_no_ack += k.deliver_no_ack;
    sum.get += k.get;
    sum.get_no_ack += k.get_no_ack;
    sum.ack += k.ack;
    sum.redeliver += k.redeliver;
}

}  // namespace

void rate_sampler::sample(const hub::broker& b, std::int64_t now_ms) {
    std::map<const hub::broker_queue*, queue_sample> next;
    hub::queue_counters sum;
    std::uint64_t ready = 0, unacked = 0;
    for (const auto& [vname, vh] : b.vhosts()) {
        for (const auto& [qname, q] : vh.queues) {
            auto it = queues.find(q.get());
            queue_sample s = it == queues.end() ? queue_sample{} : it->second;
            advance(s, q->counters(), q->ready_count(), q->unacked_count(), now_ms);
            next.emplace(q.get(), s);
            add_counters(sum, q->counters());
            ready += q->ready_count();
            unacked += q->unacked_count();
        }
    }
    queues = std::move(next);
    // Totals over queues that exist now; a deleted queue's counts leave the sum (RabbitMQ's
    // totals are per existing object too), so a rate never goes below zero for it.
    if (sum.publish < totals.counters.publish || sum.deliver_get() < totals.counters.deliver_get())
        totals.at_ms = 0;
    advance(totals, sum, ready, unacked, now_ms);
}

const rates& rate_sampler::of(const hub::broker_queue& q) const {
    static const rates none;
    auto it = queues.find(&q);
    return it == queues.end() ? none : it->second.rate;
}

rate_sampler* sampler_of(runtime& rt) {
    return rt.loop_count() ? rt.loop_at(0).loop->slot<rate_sampler>() : nullptr;
}

void start_sampler(loop_state& ls, std::uint64_t interval_ms) {
    rate_sampler* rs = ls.loop->slot<rate_sampler>();
    if (!rs) return;
    if (ls.broker) rs->sample(*ls.broker, ls.loop->now_ms());
    if (ls.shard) sample_hub(ls);
    rs->timer = ls.loop->add_timer(millis(interval_ms),
                                   [&ls, interval_ms] { start_sampler(ls, interval_ms); });
}

void stop_sampler(loop_state& ls) {
    if (rate_sampler* rs = ls.loop->slot<rate_sampler>()) ls.loop->cancel_timer(rs->timer);
    ls.loop->set_slot<rate_sampler>(nullptr);
}

// ---- shared pieces -----------------------------------------------------------------------------

namespace {

std::string message_stats_json(const hub::queue_counters& k, const rates& r) {
    std::string out;
    json::writer w(out);
    w.begin_object();
    counter_with_rate(w, "ack", k.ack, r.ack);
    counter_with_rate(w, "deliver", k.deliver, 0);
    counter_with_rate(w, "deliver_get", k.deliver_get(), r.deliver_get);
    counter_with_rate(w, "deliver_no_ack", k.deliver_no_ack, 0);
    counter_with_rate(w, "get", k.get, 0);
    counter_with_rate(w, "get_no_ack", k.get_no_ack, 0);
    counter_with_rate(w, "publish", k.publish, r.publish);
    counter_with_rate(w, "redeliver", k.redeliver, r.redeliver);
    w.end_object();
    return out;
}

void message_counts(item& it, std::uint64_t ready, std::uint64_t unacked, const rates& r) {
    counter_with_rate(it, "messages", ready + unacked, r.messages);
    counter_with_rate(it, "messages_ready", ready, r.messages_ready);
    counter_with_rate(it, "messages_unacknowledged", unacked, r.messages_unacknowledged);
}

std::string queue_args_json(const hub::queue_args& a) {
    std::string out;
    json::writer w(out);
    w.begin_object();
    if (a.dead_letter_exchange) w.member("x-dead-letter-exchange", *a.dead_letter_exchange);
    if (a.dead_letter_routing_key)
        w.member("x-dead-letter-routing-key", *a.dead_letter_routing_key);
    if (a.expires_ms) w.member("x-expires", *a.expires_ms);
    if (a.max_length) w.member("x-max-length", *a.max_length);
    if (a.max_length_bytes) w.member("x-max-length-bytes", *a.max_length_bytes);
    if (a.max_priority) w.member("x-max-priority", unsigned{*a.max_priority});
    if (a.message_ttl_ms) w.member("x-message-ttl", *a.message_ttl_ms);
    if (a.overflow == hub::overflow_policy::reject_publish)
        w.member("x-overflow", "reject-publish");
    w.end_object();
    return out;
}

}  // namespace

std::pair<std::string, std::uint16_t> split_host_port(std::string_view hp) {
    auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return {std::string(hp), 0};
    std::string host(hp.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    for (char c : hp.substr(colon + 1)) port = port * 10 + static_cast<unsigned>(c - '0');
    return {host, static_cast<std::uint16_t>(port)};
}

std::string connection_name(std::string_view peer, std::string_view local) {
    return std::string(peer) + " -> " + std::string(local);
}

std::string binding_props_key(const hub::broker_binding& b) {
    if (b.args.empty()) return b.key.empty() ? "~" : b.key;
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the canonical arguments
    for (unsigned char c : b.args_key) h = (h ^ c) * 1099511628211ull;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = b.key + "~";
    for (int i = 60; i >= 0; i -= 4) out.push_back(hex[(h >> i) & 0xf]);
    return out;
}

std::string binding_args_json(const hub::broker_binding& b) {
    std::string out;
    json::writer w(out);
    w.begin_object();
    for (const auto& [k, v] : b.args) w.member(k, v);
    w.end_object();
    return out;
}

item binding_item(std::string_view vhost, std::string_view source, const hub::broker_binding& b) {
    item it;
    it.str("source", source).str("vhost", vhost).str("destination", b.queue);
    it.str("destination_type", b.to_exchange ? "exchange" : "queue").str("routing_key", b.key);
    it.raw("arguments", binding_args_json(b)).str("properties_key", binding_props_key(b));
    return it;
}

hub::broker_binding default_binding(const std::string& queue) {
    hub::broker_binding b;
    b.queue = queue;
    b.key = queue;
    return b;
}

item queue_item(const hub::broker_vhost& vh, const hub::broker_queue& q, const rates& r) {
    item it;
    it.raw("arguments", queue_args_json(q.args)).boolean("auto_delete", q.auto_delete);
    it.num("consumers", std::uint64_t{q.consumer_count()}).boolean("durable", q.durable);
    it.boolean("exclusive", q.exclusive_owner != 0);
    it.num("message_bytes_ready", q.ready_bytes());
    it.raw("message_stats", message_stats_json(q.counters(), r));
    message_counts(it, q.ready_count(), q.unacked_count(), r);
    it.str("name", q.name()).str("node", node_name()).str("state", "running");
    it.str("type", "classic").str("vhost", vh.name);
    return it;
}

item exchange_item(const hub::broker_vhost& vh, const hub::broker_exchange& e) {
    item it;
    it.raw("arguments", "{}").boolean("auto_delete", e.auto_delete).boolean("durable", e.durable);
    it.boolean("internal", e.internal).str("name", e.name);
    it.str("type", hub::to_string(e.type)).str("vhost", vh.name);
    return it;
}

namespace {

// Vhosts the call may name: one (seg[1] given) or all.
std::vector<const hub::broker_vhost*> vhosts_of(loop_state& ls, const call& c, bool& missing) {
    std::vector<const hub::broker_vhost*> out;
    missing = false;
    if (!ls.broker) return out;
    if (c.seg.size() >= 2) {
        const hub::broker_vhost* vh = ls.broker->vhost(c.seg[1]);
        if (!vh) missing = true;
        if (vh) out.push_back(vh);
        return out;
    }
    for (const auto& [n, vh] : ls.broker->vhosts()) out.push_back(&vh);
    return out;
}

item_list binding_items(const hub::broker_vhost& vh) {
    item_list out;
    for (const auto& [qname, q] : vh.queues) {
        out.push_back(binding_item(vh.name, "", default_binding(qname)));
    }
    for (const auto& [ename, e] : vh.exchanges) {
        for (const auto& b : e.bindings) out.push_back(binding_item(vh.name, ename, b));
    }
    return out;
}

struct amqp_view {
    std::vector<session::amqp_connection_info> conns;
    std::map<std::uint64_t, const session::amqp_connection_info*> by_id;
};
amqp_view amqp_connections(loop_state& ls) {
    amqp_view v;
    if (!ls.amqp) return v;
    v.conns = ls.amqp->connections();
    for (const auto& c : v.conns) v.by_id[c.id] = &c;
    return v;
}

item channel_item(const session::amqp_connection_info& c, const session::amqp_channel_info& ch) {
    const std::string cname = connection_name(c.peer, c.local);
    auto [peer_host, peer_port] = split_host_port(c.peer);
    std::string details;
    json::writer(details)
        .begin_object()
        .member("name", cname)
        .member("peer_host", peer_host)
        .member("peer_port", unsigned{peer_port})
        .end_object();
    item it;
    it.num("acks_uncommitted", ch.acks_uncommitted).boolean("confirm", ch.confirm);
    it.raw("connection_details", std::move(details));
    it.num("consumer_count", std::uint64_t{ch.consumer_count});
    it.num("global_prefetch_count", std::uint64_t{ch.global_prefetch_count});
    it.num("messages_unacknowledged", std::uint64_t{ch.messages_unacknowledged});
    it.num("messages_uncommitted", ch.messages_uncommitted);
    it.num("messages_unconfirmed", ch.messages_unconfirmed);
    it.str("name", cname + " (" + std::to_string(ch.number) + ")").str("node", node_name());
    it.num("number", std::uint64_t{ch.number});
    it.num("prefetch_count", std::uint64_t{ch.prefetch_count}).str("state", "running");
    it.boolean("transactional", ch.transactional).str("user", c.user).str("vhost", c.vhost);
    return it;
}

item consumer_item(const session::amqp_consumer_info& k, const session::amqp_connection_info* c) {
    std::string details, queue;
    json::writer w(details);
    w.begin_object();
    if (c) {
        const std::string cname = connection_name(c->peer, c->local);
        auto [peer_host, peer_port] = split_host_port(c->peer);
        w.member("connection_name", cname)
            .member("name", cname + " (" + std::to_string(k.channel) + ")")
            .member("node", node_name())
            .member("number", unsigned{k.channel})
            .member("peer_host", peer_host)
            .member("peer_port", unsigned{peer_port})
            .member("user", c->user);
    }
    w.end_object();
    json::writer(queue)
        .begin_object()
        .member("name", k.queue)
        .member("vhost", k.vhost)
        .end_object();
    item it;
    it.raw("arguments", "{}").boolean("ack_required", k.ack_required).boolean("active", k.active);
    it.str("activity_status", k.active ? "up" : "waiting");
    it.raw("channel_details", std::move(details)).str("consumer_tag", k.tag);
    it.boolean("exclusive", k.exclusive).num("prefetch_count", std::uint64_t{k.prefetch_count});
    it.raw("queue", std::move(queue));
    return it;
}

item_list consumer_items(loop_state& ls, std::string_view vhost, std::string_view queue = {}) {
    item_list out;
    if (!ls.amqp) return out;
    amqp_view v = amqp_connections(ls);
    for (const auto& k : ls.amqp->consumers()) {
        if (!vhost.empty() && k.vhost != vhost) continue;
        if (!queue.empty() && k.queue != queue) continue;
        auto it = v.by_id.find(k.connection_id);
        out.push_back(consumer_item(k, it == v.by_id.end() ? nullptr : it->second));
    }
    return out;
}

std::string list_json(item_list l) {
    std::string out;
    render_list(std::move(l), {}, out);
    return out;
}

}  // namespace

item_list amqp_queue_items(loop_state& ls, const rate_sampler* rs, std::string_view vhost) {
    item_list out;
    if (!ls.broker) return out;
    for (const auto& [vname, vh] : ls.broker->vhosts()) {
        if (!vhost.empty() && vname != vhost) continue;
        std::vector<const hub::broker_queue*> qs;
        for (const auto& [qname, q] : vh.queues) qs.push_back(q.get());
        std::sort(qs.begin(), qs.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
        static const rates none;
        for (const auto* q : qs) out.push_back(queue_item(vh, *q, rs ? rs->of(*q) : none));
    }
    return out;
}

std::map<const net::connection*, item> amqp_connection_items(loop_state& ls) {
    std::map<const net::connection*, item> out;
    amqp_view v = amqp_connections(ls);
    for (const auto& c : v.conns) {
        if (!c.conn) continue;
        auto [peer_host, peer_port] = split_host_port(c.peer);
        auto [host, port] = split_host_port(c.local);
        item it;
        it.str("auth_mechanism", c.auth_mechanism).num("channel_max", unsigned{c.channel_max});
        it.num("channels", std::uint64_t{c.channels.size()});
        it.num("connected_at", c.connected_at_ms).num("frame_max", std::uint64_t{c.frame_max});
        it.str("host", host).str("name", connection_name(c.peer, c.local)).str("node", node_name());
        it.str("peer_host", peer_host).num("peer_port", unsigned{peer_port});
        it.num("port", unsigned{port}).str("protocol", "AMQP 0-9-1");
        it.num("recv_oct", c.conn->bytes_in()).num("send_oct", c.conn->bytes_out());
        it.boolean("ssl", false).str("state", c.state).num("timeout", unsigned{c.heartbeat_s});
        it.str("type", "network").str("user", c.user).str("vhost", c.vhost);
        out.emplace(c.conn, std::move(it));
    }
    return out;
}

// ---- the GET endpoints -------------------------------------------------------------------------

namespace {

std::string overview_json(runtime& rt, loop_state& ls) {
    const rate_sampler* rs = sampler_of(rt);
    std::uint64_t queues = 0, exchanges = 0, consumers = 0, channels = 0;
    if (ls.broker) {
        for (const auto& [n, vh] : ls.broker->vhosts()) {
            queues += vh.queues.size();
            exchanges += vh.exchanges.size();
            for (const auto& [qn, q] : vh.queues) consumers += q->consumer_count();
        }
    }
    if (ls.amqp) {
        for (const auto& c : ls.amqp->connections()) channels += c.channels.size();
    }
    std::uint64_t conns = 0;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        const auto& io = rt.loop_at(i).io;
        conns += io.opened.get() - io.closed.get();
    }
    static const queue_sample none;
    const queue_sample& t = rs ? rs->totals : none;
    std::string out;
    json::writer w(out);
    w.begin_object().member("cluster_name", node_name());
    w.key("exchange_types").begin_array();
    for (const char* ty : {"direct", "fanout", "headers", "topic"}) {
        w.begin_object().member("name", ty).member("enabled", true).end_object();
    }
    w.end_array().key("listeners").begin_array();
    for (const auto& l : rt.listeners()) {
        auto [host, port] = split_host_port(l.address);
        w.begin_object().member("node", node_name()).member("protocol", l.scheme);
        w.member("ip_address", host).member("port", unsigned{port}).end_object();
    }
    w.end_array().key("message_stats").raw(message_stats_json(t.counters, t.rate));
    write_quic_overview(rt, w);
    w.member("node", node_name()).key("object_totals").begin_object();
    w.member("channels", channels).member("connections", conns).member("consumers", consumers);
    w.member("exchanges", exchanges).member("queues", queues).end_object();
    w.member("product_name", "switchyard").member("product_version", std::string(sy::k_version));
    w.key("queue_totals").begin_object();
    counter_with_rate(w, "messages", t.ready + t.unacked, t.rate.messages);
    counter_with_rate(w, "messages_ready", t.ready, t.rate.messages_ready);
    counter_with_rate(w, "messages_unacknowledged", t.unacked, t.rate.messages_unacknowledged);
    w.end_object().end_object();
    return out;
}

item vhost_item(const hub::broker_vhost& vh, const rate_sampler* rs) {
    hub::queue_counters sum;
    std::uint64_t ready = 0, unacked = 0;
    for (const auto& [n, q] : vh.queues) {
        add_counters(sum, q->counters());
        ready += q->ready_count();
        unacked += q->unacked_count();
    }
    rates r;  // the sum of the queues' rates
    if (rs) {
        for (const auto& [n, q] : vh.queues) {
            const rates& x = rs->of(*q);
            r.publish += x.publish;
            r.deliver_get += x.deliver_get;
            r.ack += x.ack;
            r.redeliver += x.redeliver;
            r.messages += x.messages;
            r.messages_ready += x.messages_ready;
            r.messages_unacknowledged += x.messages_unacknowledged;
        }
    }
    std::string cluster;
    json::writer(cluster).begin_object().member(node_name(), "running").end_object();
    item it;
    it.raw("cluster_state", std::move(cluster)).raw("message_stats", message_stats_json(sum, r));
    message_counts(it, ready, unacked, r);
    it.str("name", vh.name).raw("tags", "[]").boolean("tracing", false);
    return it;
}

std::string definitions_json(loop_state& ls, const call& c) {
    std::string out;
    json::writer w(out);
    w.begin_object().member("product_name", "switchyard");
    w.member("product_version", std::string(sy::k_version));
    w.key("users").begin_array().begin_object().member("name", c.user);
    w.key("tags").begin_array().value("administrator").end_array().end_object().end_array();
    w.key("vhosts").begin_array();
    if (ls.broker) {
        for (const auto& [n, vh] : ls.broker->vhosts())
            w.begin_object().member("name", n).end_object();
    }
    w.end_array().key("queues").begin_array();
    std::string exchanges = "[", bindings = "[";
    if (ls.broker) {
        for (const auto& [n, vh] : ls.broker->vhosts()) {
            for (const auto& [qn, q] : vh.queues) {
                w.begin_object().member("name", qn).member("vhost", n);
                w.member("durable", q->durable).member("auto_delete", q->auto_delete);
                w.key("arguments").raw(queue_args_json(q->args)).end_object();
            }
            for (const auto& [en, e] : vh.exchanges) {
                for (const auto& b : e.bindings) {
                    if (bindings.size() > 1) bindings.push_back(',');
                    item it = binding_item(n, en, b);
                    bindings += it.render({"source", "vhost", "destination", "destination_type",
                                           "routing_key", "arguments"});
                }
                if (e.builtin) continue;
                if (exchanges.size() > 1) exchanges.push_back(',');
                exchanges += exchange_item(vh, e).render(
                    {"name", "vhost", "type", "durable", "auto_delete", "internal", "arguments"});
            }
        }
    }
    w.end_array().key("exchanges").raw(exchanges + "]").key("bindings").raw(bindings + "]");
    w.key("parameters").raw("[]").key("policies").raw("[]").end_object();
    return out;
}

bool get_only(const call& c, reply& out) {
    if (c.method == http::method::get || c.method == http::method::head) return true;
    out = error_reply(405, "Method Not Allowed", "Method Not Allowed");
    out.allow = "GET, HEAD";
    return false;
}

}  // namespace

namespace {

// One GET of the broker's objects: what serve_amqp's branches share.
struct get_ctx {
    loop_state& ls;
    const call& c;
    reply& out;
    const rate_sampler* rs;
    void list(item_list l) {
        out.status = 200;
        if (auto err = render_list(std::move(l), c.query, out.body))
            out = error_reply(400, "bad_request", *err);
    }
};

// GET /api/queues... (false: not a queue read; the writes are tried next).
bool serve_queues(get_ctx& g) {
    loop_state& ls = g.ls;
    const call& c = g.c;
    reply& out = g.out;
    const rate_sampler* rs = g.rs;
    const auto& s = c.seg;
    bool missing = false;
    auto list = [&g](item_list l) { g.list(std::move(l)); };
    if (s.size() <= 2) {
        if (!get_only(c, out)) return true;
        vhosts_of(ls, c, missing);
        if (missing) return out = not_found(), true;
        list(amqp_queue_items(ls, rs, s.size() == 2 ? std::string_view(s[1]) : ""));
        return true;
    }
    if (s.size() == 3 && c.method == http::method::get) {
        hub::broker_vhost* vh = ls.broker ? ls.broker->vhost(s[1]) : nullptr;
        auto qi = vh ? vh->queues.find(s[2]) : decltype(vh->queues.end()){};
        if (!vh || qi == vh->queues.end()) return out = not_found(), true;
        static const rates none;
        item it = queue_item(*vh, *qi->second, rs ? rs->of(*qi->second) : none);
        std::string details = "[";
        for (auto& k : consumer_items(ls, s[1], s[2])) {
            if (details.size() > 1) details.push_back(',');
            details += k.render();
        }
        it.raw("consumer_details", details + "]");
        out = reply{200, it.render(c.query.columns), {}, {}};
        return true;
    }
    if (s.size() == 4 && s[3] == "bindings") {
        if (!get_only(c, out)) return true;
        hub::broker_vhost* vh = ls.broker ? ls.broker->vhost(s[1]) : nullptr;
        if (!vh || !vh->queues.count(s[2])) return out = not_found(), true;
        item_list l;
        for (auto& b : binding_items(*vh)) {
            const field* d = b.find("destination");
            const field* t = b.find("destination_type");
            if (d && d->text == s[2] && t && t->text == "queue") l.push_back(std::move(b));
        }
        list(std::move(l));
        return true;
    }
    return false;
}

// GET /api/exchanges... (false: not an exchange read).
bool serve_exchanges(get_ctx& g) {
    loop_state& ls = g.ls;
    const call& c = g.c;
    reply& out = g.out;
    const auto& s = c.seg;
    bool missing = false;
    auto list = [&g](item_list l) { g.list(std::move(l)); };
    if (s.size() <= 2) {
        if (!get_only(c, out)) return true;
        auto vhs = vhosts_of(ls, c, missing);
        if (missing) return out = not_found(), true;
        item_list l;
        for (const auto* vh : vhs) {
            for (const auto& [n, e] : vh->exchanges) l.push_back(exchange_item(*vh, e));
        }
        list(std::move(l));
        return true;
    }
    if (s.size() == 3 && c.method == http::method::get) {
        hub::broker_vhost* vh = ls.broker ? ls.broker->vhost(s[1]) : nullptr;
        const std::string name = s[2] == "amq.default" ? std::string() : s[2];
        const hub::broker_exchange* e = vh ? ls.broker->find_exchange(*vh, name) : nullptr;
        if (!e) return out = not_found(), true;
        out = reply{200, exchange_item(*vh, *e).render(c.query.columns), {}, {}};
        return true;
    }
    if (s.size() == 5 && s[3] == "bindings") {
        if (!get_only(c, out)) return true;
        hub::broker_vhost* vh = ls.broker ? ls.broker->vhost(s[1]) : nullptr;
        const std::string name = s[2] == "amq.default" ? std::string() : s[2];
        if (!vh || !ls.broker->find_exchange(*vh, name) ||
            (s[4] != "source" && s[4] != "destination"))
            return out = not_found(), true;
        item_list l;
        for (auto& b : binding_items(*vh)) {
            const field* f = b.find(s[4] == "source" ? "source" : "destination");
            const field* t = b.find("destination_type");
            const bool dest_ok = s[4] == "source" || (t && t->text == "exchange");
            if (f && f->text == name && dest_ok) l.push_back(std::move(b));
        }
        list(std::move(l));
        return true;
    }
    return false;
}

}  // namespace

bool serve_amqp(runtime& rt, loop_state& ls, const call& c, reply& out) {
    const auto& s = c.seg;
    const std::string& what = s[0];
    const rate_sampler* rs = sampler_of(rt);
    bool missing = false;
    auto list = [&](item_list l) {
        out.status = 200;
        if (auto err = render_list(std::move(l), c.query, out.body))
            out = error_reply(400, "bad_request", *err);
    };
    if (what == "overview" && s.size() == 1) {
        if (get_only(c, out)) out = reply{200, overview_json(rt, ls), {}, {}};
    } else if (what == "vhosts" && s.size() <= 2) {
        if (!get_only(c, out)) return true;
        auto vhs = vhosts_of(ls, c, missing);
        if (missing) return out = not_found(), true;
        item_list l;
        for (const auto* vh : vhs) l.push_back(vhost_item(*vh, rs));
        if (s.size() == 2) return out = reply{200, l.at(0).render(c.query.columns), {}, {}}, true;
        list(std::move(l));
    } else if (what == "queues" || what == "exchanges") {
        get_ctx g{ls, c, out, rs};
        if (!(what == "queues" ? serve_queues(g) : serve_exchanges(g)))
            return serve_amqp_write(rt, ls, c, out);
    } else if (what == "bindings" && s.size() <= 2) {
        if (!get_only(c, out)) return true;
        auto vhs = vhosts_of(ls, c, missing);
        if (missing) return out = not_found(), true;
        item_list l;
        for (const auto* vh : vhs) {
            for (auto& b : binding_items(*vh)) l.push_back(std::move(b));
        }
        list(std::move(l));
    } else if (what == "channels" && s.size() <= 2) {
        if (!get_only(c, out)) return true;
        item_list l;
        for (const auto& conn : amqp_connections(ls).conns) {
            for (const auto& ch : conn.channels) l.push_back(channel_item(conn, ch));
        }
        if (s.size() == 1) return list(std::move(l)), true;
        for (auto& it : l) {
            const field* f = it.find("name");
            if (f && f->text == s[1]) return out = reply{200, it.render(), {}, {}}, true;
        }
        out = not_found();
    } else if (what == "consumers" && s.size() <= 2) {
        if (!get_only(c, out)) return true;
        vhosts_of(ls, c, missing);
        if (missing) return out = not_found(), true;
        list(consumer_items(ls, s.size() == 2 ? std::string_view(s[1]) : ""));
    } else if (what == "definitions" && s.size() == 1) {
        if (get_only(c, out)) out = reply{200, definitions_json(ls, c), {}, {}};
    } else {
        return serve_amqp_write(rt, ls, c, out);
    }
    return true;
}

std::string queues_json(runtime& rt, loop_state& ls) {
    return list_json(amqp_queue_items(ls, sampler_of(rt), ""));
}

}  // namespace sy::server::mgmt
