// broker: vhosts, exchanges, bindings, routing, queue lifecycle. See broker.hpp.
#include "switchyard/hub/broker.hpp"

#include <algorithm>
#include <random>

namespace sy::hub {

std::string_view to_string(exchange_type t) {
    switch (t) {
        case exchange_type::direct:
            return "direct";
        case exchange_type::fanout:
            return "fanout";
        case exchange_type::topic:
            return "topic";
        case exchange_type::headers:
            return "headers";
    }
    return "direct";
}

std::optional<exchange_type> parse_exchange_type(std::string_view s) {
    if (s == "direct") return exchange_type::direct;
    if (s == "fanout") return exchange_type::fanout;
    if (s == "topic") return exchange_type::topic;
    if (s == "headers") return exchange_type::headers;
    return std::nullopt;
}

namespace {

std::string_view next_word(std::string_view& s, bool& more) {
    auto dot = s.find('.');
    std::string_view w = s.substr(0, dot);
    more = dot != std::string_view::npos;
    s = more ? s.substr(dot + 1) : std::string_view{};
    return w;
}

// Backtracking matcher over words; '#' tries every split. Bindings are few and keys short.
bool match_words(std::string_view p, bool p_has, std::string_view k, bool k_has) {
    if (!p_has) return !k_has;
    bool p_more = false;
    std::string_view pw = next_word(p, p_more);
    if (pw == "#") {
        if (match_words(p, p_more, k, k_has)) return true;  // # matches zero words
        while (k_has) {
            bool k_more = false;
            next_word(k, k_more);
            k_has = k_more;
            if (match_words(p, p_more, k, k_has)) return true;
        }
        return false;
    }
    if (!k_has) return false;
    bool k_more = false;
    std::string_view kw = next_word(k, k_more);
    if (pw != "*" && pw != kw) return false;
    return match_words(p, p_more, k, k_more);
}

std::string_view find_header(const std::vector<header_pair>& h, std::string_view key) {
    for (const auto& [k, v] : h) {
        if (k == key) return v;
    }
    return {};
}

bool has_header(const std::vector<header_pair>& h, std::string_view key) {
    return std::any_of(h.begin(), h.end(), [key](const header_pair& p) { return p.first == key; });
}

bool headers_match(const broker_binding& b, const broker_message& m) {
    bool any = false;
    for (const auto& [k, v] : b.args) {
        if (k.rfind("x-", 0) == 0) continue;  // x-match and other x- keys take no part
        // A binding value rendered empty (void) matches on presence only.
        bool hit = has_header(m.headers, k) && (v.empty() || find_header(m.headers, k) == v);
        if (b.match_all && !hit) return false;
        if (hit) any = true;
    }
    return b.match_all ? true : any;
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view key) {
    // As RabbitMQ: an empty key (or binding) has zero words, so "*" does not match "" but "#"
    // and "" do.
    return match_words(pattern, !pattern.empty(), key, !key.empty());
}

broker::broker(std::vector<std::string> vhosts) {
    if (vhosts.empty()) vhosts.emplace_back("/");
    for (auto& n : vhosts) {
        broker_vhost& vh = vhosts_[n];
        vh.name = n;
        add_builtin_exchanges(vh);
    }
}

void broker::add_builtin_exchanges(broker_vhost& vh) {
    auto add = [&](std::string name, exchange_type t) {
        broker_exchange& e = vh.exchanges[name];
        e.name = std::move(name);
        e.type = t;
        e.durable = true;
        e.builtin = true;
    };
    add("", exchange_type::direct);
    add("amq.direct", exchange_type::direct);
    add("amq.fanout", exchange_type::fanout);
    add("amq.topic", exchange_type::topic);
    add("amq.headers", exchange_type::headers);
    add("amq.match", exchange_type::headers);
}

broker_vhost* broker::vhost(std::string_view name) {
    auto it = vhosts_.find(name);
    return it == vhosts_.end() ? nullptr : &it->second;
}

broker_exchange* broker::find_exchange(broker_vhost& vh, std::string_view name) {
    auto it = vh.exchanges.find(name);
    return it == vh.exchanges.end() ? nullptr : &it->second;
}

std::string broker::generate_queue_name() {
    static const char k_alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string s = "amq.gen-";
    for (int i = 0; i < 22; ++i) s.push_back(k_alpha[rng() % 64]);
    ++name_seq_;
    return s;
}

broker_status broker::exchange_declare(broker_vhost& vh, const broker_exchange& want,
                                       bool passive) {
    broker_exchange* ex = find_exchange(vh, want.name);
    auto where = "exchange '" + want.name + "' in vhost '" + vh.name + "'";
    if (passive) {
        if (!ex) return broker_status::fail(broker_error::not_found, "no " + where);
        return {};
    }
    if (!ex && want.name.rfind("amq.", 0) == 0) {
        return broker_status::fail(
            broker_error::access_refused,
            "exchange name '" + want.name + "' contains reserved prefix 'amq.*'");
    }
    if (ex) {
        if (ex->type != want.type || ex->durable != want.durable ||
            ex->auto_delete != want.auto_delete || ex->internal != want.internal) {
            auto b = [](bool v) { return std::string(v ? "true" : "false"); };
            std::string field, got, cur;
            if (ex->type != want.type) {
                field = "type", got = std::string(to_string(want.type));
                cur = std::string(to_string(ex->type));
            } else if (ex->durable != want.durable) {
                field = "durable", got = b(want.durable), cur = b(ex->durable);
            } else if (ex->auto_delete != want.auto_delete) {
                field = "auto_delete", got = b(want.auto_delete), cur = b(ex->auto_delete);
            } else {
                field = "internal", got = b(want.internal), cur = b(ex->internal);
            }
            return broker_status::fail(broker_error::precondition_failed,
                                       "inequivalent arg '" + field + "' for " + where +
                                           ": received '" + got + "' but current is '" + cur + "'");
        }
        return {};
    }
    broker_exchange& e = vh.exchanges[want.name];
    e = want;
    e.bindings.clear();
    return {};
}

broker_status broker::exchange_delete(broker_vhost& vh, std::string_view name, bool if_unused) {
    broker_exchange* ex = find_exchange(vh, name);
    if (!ex) {
        return broker_status::fail(broker_error::not_found, "no exchange '" + std::string(name) +
                                                                "' in vhost '" + vh.name + "'");
    }
    if (ex->builtin) {
        return broker_status::fail(
            broker_error::access_refused,
            ex->name.empty() ? std::string("operation not permitted on the default exchange")
                             : "deletion of system exchange '" + ex->name + "' in vhost '" +
                                   vh.name + "' not allowed");
    }
    if (if_unused && !ex->bindings.empty()) {
        return broker_status::fail(broker_error::precondition_failed,
                                   "exchange '" + ex->name + "' in vhost '" + vh.name + "' in use");
    }
    vh.exchanges.erase(vh.exchanges.find(name));
    for (auto& [n, e] : vh.exchanges) {  // exchange-to-exchange bindings pointing at it
        std::erase_if(e.bindings,
                      [&](const broker_binding& b) { return b.to_exchange && b.queue == name; });
    }
    return {};
}

void broker::watch_queue(broker_vhost& vh, const std::string& name, queue_watcher* w) {
    if (w) {
        vh.watchers[name] = w;
    } else {
        vh.watchers.erase(name);
    }
    auto it = vh.queues.find(name);
    if (it == vh.queues.end()) return;
    it->second->watcher = w;
    if (w) w->on_watched(it->second);
}

broker_status broker::find_queue(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                                 broker_queue_ptr& out) {
    auto it = vh.queues.find(std::string(name));
    if (it == vh.queues.end()) {
        return broker_status::fail(broker_error::not_found, "no queue '" + std::string(name) +
                                                                "' in vhost '" + vh.name + "'");
    }
    if (it->second->exclusive_owner != 0 && it->second->exclusive_owner != conn) {
        return broker_status::fail(broker_error::resource_locked,
                                   "cannot obtain exclusive access to locked queue '" +
                                       std::string(name) + "' in vhost '" + vh.name +
                                       "'. It could be originally declared on another "
                                       "connection or the exclusive property value does not "
                                       "match that of the original declaration.");
    }
    out = it->second;
    return {};
}

namespace {

// RabbitMQ's text for the first x-argument that differs ("inequivalent arg 'x-message-ttl' for
// queue 'q' in vhost '/': received '2000' but current is '1000'"). RabbitMQ names the client's
// field type when one side is missing; the broker keeps values, not wire types, so integers are
// named 'signedint' (what clients send for small numbers) or 'long', strings 'longstr'.
struct arg_text {
    std::string name;
    std::optional<std::string> value;
    const char* type;
};

std::string describe(const std::optional<std::string>& v, const char* type) {
    if (!v) return "none";
    return std::string("the value '") + *v + "' of type '" + type + "'";
}

std::vector<arg_text> arg_texts(const queue_args& a) {
    auto num = [](const char* n, const std::optional<std::uint64_t>& v) {
        return arg_text{n, v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt,
                        v && *v > 0x7fffffffu ? "long" : "signedint"};
    };
    auto str = [](const char* n, const std::optional<std::string>& v) {
        return arg_text{n, v, "longstr"};
    };
    return {num("x-message-ttl", a.message_ttl_ms),
            num("x-expires", a.expires_ms),
            num("x-max-length", a.max_length),
            num("x-max-length-bytes", a.max_length_bytes),
            str("x-overflow", a.overflow == overflow_policy::reject_publish
                                  ? std::optional<std::string>("reject-publish")
                                  : std::nullopt),
            str("x-dead-letter-exchange", a.dead_letter_exchange),
            str("x-dead-letter-routing-key", a.dead_letter_routing_key),
            num("x-max-priority",
                a.max_priority ? std::optional<std::uint64_t>(*a.max_priority) : std::nullopt)};
}

std::string inequivalent_args(const queue_args& cur, const queue_args& got,
                              const std::string& where) {
    auto c = arg_texts(cur), g = arg_texts(got);
    for (std::size_t i = 0; i < c.size(); i++) {
        if (c[i].value == g[i].value) continue;
        std::string head = "inequivalent arg '" + c[i].name + "' " + where + ": received ";
        if (c[i].value && g[i].value) {
            return head + "'" + *g[i].value + "' but current is '" + *c[i].value + "'";
        }
        return head + describe(g[i].value, g[i].type) + " but current is " +
               describe(c[i].value, c[i].type);
    }
    return "inequivalent arg in x-arguments " + where;
}

}  // namespace

broker_status broker::queue_declare(broker_vhost& vh, const queue_declare_request& r,
                                    queue_declare_result& out) {
    std::string name = r.name;
    if (name.empty() && !r.passive) name = generate_queue_name();
    if (!r.passive && name.rfind("amq.", 0) == 0 && !vh.queues.count(name) &&
        r.name.rfind("amq.gen", 0) != 0 && !r.name.empty()) {
        return broker_status::fail(broker_error::access_refused,
                                   "queue name '" + name + "' contains reserved prefix 'amq.*'");
    }
    broker_queue_ptr q;
    auto st = find_queue(vh, name, r.connection, q);
    if (st.code == broker_error::resource_locked) return st;
    if (r.passive) {
        if (!q) return st;
    } else if (q) {
        auto where = "for queue '" + name + "' in vhost '" + vh.name + "'";
        if (q->durable != r.durable) {
            return broker_status::fail(broker_error::precondition_failed,
                                       "inequivalent arg 'durable' " + where + ": received '" +
                                           (r.durable ? "true" : "false") + "' but current is '" +
                                           (q->durable ? "true" : "false") + "'");
        }
        if ((q->exclusive_owner != 0) != r.exclusive) {
            return broker_status::fail(broker_error::resource_locked,
                                       "cannot obtain exclusive access to locked queue '" + name +
                                           "' in vhost '" + vh.name + "'");
        }
        if (q->auto_delete != r.auto_delete) {
            return broker_status::fail(broker_error::precondition_failed,
                                       "inequivalent arg 'auto_delete' " + where + ": received '" +
                                           (r.auto_delete ? "true" : "false") +
                                           "' but current is '" +
                                           (q->auto_delete ? "true" : "false") + "'");
        }
        if (!(q->args == r.args)) {
            return broker_status::fail(broker_error::precondition_failed,
                                       inequivalent_args(q->args, r.args, where));
        }
    } else {
        q = std::make_shared<broker_queue>(*this, vh, name);
        q->durable = r.durable;
        q->auto_delete = r.auto_delete;
        q->exclusive_owner = r.exclusive ? r.connection : 0;
        q->args = r.args;
        if (r.args.max_priority) {  // only priority queues carry the per-level lists
            q->prio_ = std::make_unique<broker_queue::prio_levels>();
            q->prio_->levels.resize(std::size_t{*r.args.max_priority} + 1);
        }
        vh.queues.emplace(name, q);
        if (auto w = vh.watchers.find(name); w != vh.watchers.end()) {
            q->watcher = w->second;
            w->second->on_watched(q);
        }
        // Every queue is bound to the default exchange under its own name (implicit binding).
        if (observer_ && q->durable) observer_->on_queue_declared(vh, *q);
    }
    out.name = name;
    out.messages = static_cast<std::uint32_t>(q->ready_count());
    out.consumers = static_cast<std::uint32_t>(q->consumer_count());
    return {};
}

void broker::delete_queue(broker_vhost& vh, broker_queue& q) {
    auto keep = q.shared_from_this();
    q.deleted_ = true;
    q.purge();
    auto consumers = std::move(q.consumers_);
    q.consumers_.clear();
    for (auto& c : consumers) c.c->cancelled_by_server();
    for (auto& [n, e] : vh.exchanges) {
        std::erase_if(e.bindings, [&](const broker_binding& b) {
            return !b.to_exchange && b.queue == q.name();
        });
    }
    if (observer_ && q.durable) observer_->on_queue_deleted(vh, q);
    vh.queues.erase(q.name());
    // Auto-delete exchanges left without bindings go too (RabbitMQ semantics).
    std::erase_if(vh.exchanges, [](const auto& kv) {
        return kv.second.auto_delete && kv.second.bindings.empty() && !kv.second.builtin;
    });
}

broker_status broker::queue_delete(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                                   bool if_unused, bool if_empty, std::uint32_t& count) {
    broker_queue_ptr q;
    auto st = find_queue(vh, name, conn, q);
    if (st.code == broker_error::not_found) {
        count = 0;  // RabbitMQ: deleting a missing queue succeeds
        return {};
    }
    if (!st.ok()) return st;
    if (if_unused && q->consumer_count() > 0) {
        return broker_status::fail(broker_error::precondition_failed,
                                   "queue '" + q->name() + "' in vhost '" + vh.name + "' in use");
    }
    if (if_empty && q->ready_count() > 0) {
        return broker_status::fail(
            broker_error::precondition_failed,
            "queue '" + q->name() + "' in vhost '" + vh.name + "' not empty");
    }
    count = static_cast<std::uint32_t>(q->ready_count());
    delete_queue(vh, *q);
    return {};
}

broker_status broker::queue_purge(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                                  std::uint32_t& count) {
    broker_queue_ptr q;
    auto st = find_queue(vh, name, conn, q);
    if (!st.ok()) return st;
    count = static_cast<std::uint32_t>(q->purge());
    return {};
}

broker_status broker::bind(broker_vhost& vh, std::string_view exchange, broker_binding b,
                           std::uint64_t conn) {
    broker_exchange* ex = find_exchange(vh, exchange);
    if (b.to_exchange) {
        if (!find_exchange(vh, b.queue)) {
            return broker_status::fail(broker_error::not_found,
                                       "no exchange '" + b.queue + "' in vhost '" + vh.name + "'");
        }
    } else {
        broker_queue_ptr q;
        auto st = find_queue(vh, b.queue, conn, q);
        if (!st.ok()) return st;
    }
    if (!ex) {
        return broker_status::fail(
            broker_error::not_found,
            "no exchange '" + std::string(exchange) + "' in vhost '" + vh.name + "'");
    }
    if (ex->name.empty()) {
        return broker_status::fail(broker_error::access_refused,
                                   "operation not permitted on the default exchange");
    }
    for (const auto& e : ex->bindings) {
        if (e.queue == b.queue && e.to_exchange == b.to_exchange && e.key == b.key &&
            e.args_key == b.args_key) {
            return {};  // idempotent
        }
    }
    ex->bindings.push_back(std::move(b));
    return {};
}

broker_status broker::unbind(broker_vhost& vh, std::string_view exchange, const broker_binding& b,
                             std::uint64_t conn) {
    broker_exchange* ex = find_exchange(vh, exchange);
    if (!ex) {
        return broker_status::fail(
            broker_error::not_found,
            "no exchange '" + std::string(exchange) + "' in vhost '" + vh.name + "'");
    }
    if (!b.to_exchange) {
        broker_queue_ptr q;
        auto st = find_queue(vh, b.queue, conn, q);
        if (!st.ok()) return st;
    }
    std::erase_if(ex->bindings, [&](const broker_binding& e) {
        return e.queue == b.queue && e.to_exchange == b.to_exchange && e.key == b.key &&
               e.args_key == b.args_key;
    });
    if (ex->auto_delete && ex->bindings.empty() && !ex->builtin) {
        vh.exchanges.erase(vh.exchanges.find(exchange));
    }
    return {};
}

void broker::route(broker_vhost& vh, const broker_exchange& ex, const broker_message& m,
                   std::vector<broker_queue*>& out, int depth) {
    if (ex.name.empty()) {  // default exchange: the queue named by the routing key
        auto it = vh.queues.find(m.routing_key);
        if (it != vh.queues.end()) out.push_back(it->second.get());
        return;
    }
    for (const auto& b : ex.bindings) {
        bool hit = false;
        switch (ex.type) {
            case exchange_type::direct:
                hit = b.key == m.routing_key;
                break;
            case exchange_type::fanout:
                hit = true;
                break;
            case exchange_type::topic:
                hit = topic_matches(b.key, m.routing_key);
                break;
            case exchange_type::headers:
                hit = headers_match(b, m);
                break;
        }
        if (!hit) continue;
        if (b.to_exchange) {
            const broker_exchange* dest = find_exchange(vh, b.queue);
            if (dest && depth < 8) route(vh, *dest, m, out, depth + 1);
            continue;
        }
        auto it = vh.queues.find(b.queue);
        if (it != vh.queues.end()) out.push_back(it->second.get());
    }
}

broker_status broker::publish(broker_vhost& vh, broker_message_ptr m, publish_result& out,
                              std::int64_t now_ms) {
    broker_exchange* ex = find_exchange(vh, m->exchange);
    if (!ex) {
        return broker_status::fail(broker_error::not_found,
                                   "no exchange '" + m->exchange + "' in vhost '" + vh.name + "'");
    }
    stats_.published++;
    std::vector<broker_queue*> targets;
    route(vh, *ex, *m, targets, 0);
    if (targets.size() > 1) {
        std::sort(targets.begin(), targets.end());
        targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    }
    for (broker_queue* q : targets) {
        queue_entry e{m};
        if (m->persistent && q->durable && observer_) {
            e.store_id = observer_->on_persist(vh, *q, *m);
            if (e.store_id != 0) out.stored = true;
        }
        std::uint64_t sid = e.store_id;
        if (!q->enqueue(std::move(e), now_ms)) {
            out.rejected = true;
            if (sid != 0 && observer_) observer_->on_settled(sid);
            continue;
        }
        out.routed++;
    }
    return {};
}

void broker::deliver_to(broker_queue& q, broker_message_ptr m, std::int64_t now_ms) {
    stats_.published++;
    q.enqueue(queue_entry{std::move(m)}, now_ms);
}

void broker::dead_letter(broker_vhost& vh, const broker_queue& from, queue_entry e, dead_reason why,
                         std::int64_t now_ms) {
    if (!from.args.dead_letter_exchange) return;
    broker_exchange* ex = find_exchange(vh, *from.args.dead_letter_exchange);
    if (!ex) return;
    auto copy = std::make_shared<broker_message>(*e.msg);
    copy->exchange = *from.args.dead_letter_exchange;
    if (from.args.dead_letter_routing_key) copy->routing_key = *from.args.dead_letter_routing_key;
    // RabbitMQ drops the per-message expiration when dead-lettering (so it cannot expire again).
    copy->ttl_ms.reset();
    stats_.dead_lettered++;
    std::vector<broker_queue*> targets;
    route(vh, *ex, *copy, targets, 0);
    if (!targets.empty() && rewriter_) {  // x-death headers (before the copy is persisted)
        sy::shared_bytes h = rewriter_->rewrite(*e.msg, from, why);
        if (!h.empty()) copy->set_encoded(std::move(h), rewriter_->codec());
    }
    for (broker_queue* q : targets) {
        if (q == &from && why != dead_reason::rejected) continue;  // cycle guard
        queue_entry ne{copy};
        if (copy->persistent && q->durable && observer_) {
            ne.store_id = observer_->on_persist(vh, *q, *copy);
        }
        q->enqueue(std::move(ne), now_ms);
    }
}

void broker::connection_closed(std::uint64_t conn) {
    for (auto& [n, vh] : vhosts_) {
        std::vector<broker_queue_ptr> gone;
        for (auto& [qn, q] : vh.queues) {
            if (q->exclusive_owner == conn) gone.push_back(q);
        }
        for (auto& q : gone) delete_queue(vh, *q);
    }
}

void broker::consumer_removed(broker_queue& q) {
    if (q.auto_delete && q.had_consumer_ && q.consumers_.empty() && !q.deleted_) {
        delete_queue(*q.vh_, q);
    }
}

void broker::tick(std::int64_t now_ms) {
    for (auto& [n, vh] : vhosts_) {
        std::vector<broker_queue_ptr> unused;
        for (auto& [qn, q] : vh.queues) {
            if (q->head_may_expire()) q->expire(now_ms);
            if (q->args.expires_ms && q->consumers_.empty() &&
                now_ms - q->last_used_ms >= static_cast<std::int64_t>(*q->args.expires_ms)) {
                unused.push_back(q);
            }
        }
        for (auto& q : unused) delete_queue(vh, *q);
    }
}

std::uint64_t broker::total_ready_bytes() const {
    std::uint64_t n = 0;
    for (const auto& [vn, vh] : vhosts_) {
        for (const auto& [qn, q] : vh.queues) n += q->ready_bytes();
    }
    return n;
}

}  // namespace sy::hub
