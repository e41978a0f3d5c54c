// The management API's writes, on loop 0 through the broker's own calls (the same checks and
// errors as AMQP's methods): PUT/DELETE of queues and exchanges, bindings (POST, DELETE),
// purge, basic.get's equivalent (POST .../get) and publish (POST .../publish).
#include <charconv>

#include "management_internal.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/base/utf8.hpp"
#include "switchyard/proto/amqp/field_table.hpp"
#include "switchyard/session/amqp_args.hpp"
#include "switchyard/session/amqp_server.hpp"

namespace sy::server::mgmt {

namespace {

reply bad_request(std::string_view reason) {
    return error_reply(400, "bad_request", reason);
}

// The one table: broker_error -> HTTP status and RabbitMQ's error name.
reply broker_failure(const hub::broker_status& st) {
    switch (st.code) {
        case hub::broker_error::not_found:
        case hub::broker_error::not_allowed:
            return error_reply(404, "not_found", st.text);
        case hub::broker_error::access_refused:
            return error_reply(403, "access_refused", st.text);
        case hub::broker_error::resource_locked:
            return error_reply(405, "resource_locked", st.text);
        case hub::broker_error::precondition_failed:
        case hub::broker_error::command_invalid:
        case hub::broker_error::none:
            break;
    }
    return bad_request(st.text);
}

std::optional<json::document> body_object(const std::string& body) {
    auto doc = json::document::parse(body.empty() ? std::string_view("{}") : body);
    if (!doc || !doc->is_object()) return std::nullopt;
    return doc;
}

// A boolean member; RabbitMQ also takes "true"/"false" strings (rabbitmqadmin sends those).
bool flag(const json::document& d, std::string_view key, bool dflt) {
    if (auto b = d.get_bool(key)) return *b;
    if (auto s = d.get_string(key)) return *s == "true";
    return dflt;
}

// A JSON object of arguments as an AMQP field table (integers, strings, booleans; anything
// else is left out), so the session's own argument checks apply unchanged.
class json_table {
  public:
    explicit json_table(const std::optional<std::string>& raw) {
        if (!raw) return;
        auto doc = json::document::parse(*raw);
        if (!doc || !doc->is_object()) return;
        names_ = doc->names();
        strings_.reserve(names_.size());
        std::vector<amqp::field_entry> entries;
        for (const auto& n : names_) {
            if (auto s = doc->get_string(n)) {
                strings_.push_back(std::move(*s));
                entries.push_back({n, std::string_view(strings_.back())});
            } else if (auto b = doc->get_bool(n)) {
                entries.push_back({n, *b});
            } else if (auto v = doc->get_raw(n)) {
                std::int64_t i = 0;
                auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), i);
                if (ec == std::errc() && p == v->data() + v->size()) entries.push_back({n, i});
            }
        }
        amqp::encode_table(bytes_, entries);
    }
    amqp::table_view view() const { return amqp::entries_of(bytes_.readable()); }

  private:
    std::vector<std::string> names_;
    std::vector<std::string> strings_;  // reserved up front: the views stay valid
    byte_buffer bytes_;
};

reply put_queue(loop_state& ls, hub::broker_vhost& vh, const std::string& name, const call& c) {
    auto doc = body_object(c.body);
    if (!doc) return bad_request("Malformed JSON");
    hub::queue_declare_request r;
    r.name = name;
    r.durable = flag(*doc, "durable", true);  // RabbitMQ's defaults for PUT
    r.auto_delete = flag(*doc, "auto_delete", false);
    json_table args(doc->get_raw("arguments"));
    std::string bad, why;
    if (!session::parse_queue_args(args.view(), r.args, bad, why)) {
        return bad_request("invalid arg '" + bad + "' for queue '" + name + "' in vhost '" +
                           vh.name + "': " + why);
    }
    const bool existed = vh.queues.count(name) != 0;
    hub::queue_declare_result out;
    auto st = ls.broker->queue_declare(vh, r, out);
    if (!st.ok()) return broker_failure(st);
    return reply{existed ? 204 : 201, {}, {}, {}};
}

reply put_exchange(loop_state& ls, hub::broker_vhost& vh, const std::string& name, const call& c) {
    auto doc = body_object(c.body);
    if (!doc) return bad_request("Malformed JSON");
    auto type = doc->get_string("type");
    if (!type) return bad_request("[{key_missing,type}]");
    auto t = hub::parse_exchange_type(*type);
    if (!t) return bad_request("unknown exchange type '" + *type + "'");
    hub::broker_exchange e;
    e.name = name;
    e.type = *t;
    e.durable = flag(*doc, "durable", true);
    e.auto_delete = flag(*doc, "auto_delete", false);
    e.internal = flag(*doc, "internal", false);
    const bool existed = ls.broker->find_exchange(vh, name) != nullptr;
    auto st = ls.broker->exchange_declare(vh, e, false);
    if (!st.ok()) return broker_failure(st);
    return reply{existed ? 204 : 201, {}, {}, {}};
}

std::string properties_json(const hub::message_properties& p) {
    using hub::prop;
    std::string out;
    json::writer w(out);
    w.begin_object();
    if (p.has(prop::content_type)) w.member("content_type", p.content_type);
    if (p.has(prop::content_encoding)) w.member("content_encoding", p.content_encoding);
    if (p.has(prop::headers)) {
        w.key("headers").begin_object();
        for (const auto& [k, v] : p.headers) w.member(k, v);
        w.end_object();
    }
    if (p.has(prop::delivery_mode)) w.member("delivery_mode", unsigned{p.delivery_mode});
    if (p.has(prop::priority)) w.member("priority", unsigned{p.priority});
    if (p.has(prop::correlation_id)) w.member("correlation_id", p.correlation_id);
    if (p.has(prop::reply_to)) w.member("reply_to", p.reply_to);
    if (p.has(prop::expiration)) w.member("expiration", p.expiration);
    if (p.has(prop::message_id)) w.member("message_id", p.message_id);
    if (p.has(prop::timestamp)) w.member("timestamp", p.timestamp);
    if (p.has(prop::type)) w.member("type", p.type);
    if (p.has(prop::user_id)) w.member("user_id", p.user_id);
    if (p.has(prop::app_id)) w.member("app_id", p.app_id);
    w.end_object();
    return out;
}

enum class get_mode : std::uint8_t { requeue, ack, reject };

std::optional<get_mode> parse_ackmode(std::string_view m) {
    if (m == "ack_requeue_true" || m == "reject_requeue_true") return get_mode::requeue;
    if (m == "ack_requeue_false") return get_mode::ack;
    if (m == "reject_requeue_false") return get_mode::reject;
    return std::nullopt;
}

// POST /api/queues/{vhost}/{name}/get: takes up to count messages as basic.get does, renders
// them, then requeues, acks or rejects them all (RabbitMQ's order: a requeued message is not
// taken twice by one call).
reply get_messages(loop_state& ls, hub::broker_queue& q, const call& c) {
    auto doc = body_object(c.body);
    if (!doc) return bad_request("Malformed JSON");
    auto mode_text = doc->get_string("ackmode");
    if (!mode_text) return bad_request("[{key_missing,ackmode}]");
    auto mode = parse_ackmode(*mode_text);
    if (!mode) return bad_request("invalid ackmode '" + *mode_text + "'");
    const std::uint64_t count = std::min<std::uint64_t>(doc->get_uint("count").value_or(1), 10000);
    const bool base64 = doc->get_string("encoding").value_or("auto") == "base64";
    const auto truncate = doc->get_uint("truncate");
    const std::int64_t now = ls.loop->now_ms();
    std::vector<hub::queue_entry> got;
    std::string out;
    json::writer w(out);
    w.begin_array();
    for (std::uint64_t i = 0; i < count; ++i) {
        auto e = q.get(false, now);
        if (!e) break;
        const hub::broker_message& m = *e->msg;
        std::string_view body = m.body.view();
        if (truncate && body.size() > *truncate) body = body.substr(0, *truncate);
        const bool text = !base64 && is_valid_utf8(as_bytes(body));
        w.begin_object()
            .member("payload_bytes", std::uint64_t{m.body.size()})
            .member("redelivered", e->redelivered)
            .member("exchange", m.exchange)
            .member("routing_key", m.routing_key)
            .member("message_count", std::uint64_t{q.ready_count()})
            .key("properties")
            .raw(properties_json(m.properties()))
            .member("payload", text ? std::string(body) : base64_encode(body))
            .member("payload_encoding", text ? "string" : "base64")
            .end_object();
        got.push_back(std::move(*e));
    }
    w.end_array();
    for (auto& e : got) {
        if (*mode == get_mode::requeue) q.requeue(std::move(e));
        if (*mode == get_mode::ack) q.ack(e);
        if (*mode == get_mode::reject) q.reject(std::move(e), now);
    }
    if (*mode == get_mode::requeue) q.dispatch(now);
    return reply{200, std::move(out), {}, {}};
}

bool typed_properties(const std::optional<std::string>& raw, hub::broker_message& m) {
    hub::message_properties p;
    if (raw) {
        auto doc = json::document::parse(*raw);
        if (!doc || !doc->is_object()) return false;
        if (auto v = doc->get_string("content_type")) p.set_content_type(*v);
        if (auto v = doc->get_string("content_encoding")) {
            p.content_encoding = *v;
            p.mark(hub::prop::content_encoding);
        }
        if (auto v = doc->get_uint("delivery_mode"))
            p.set_delivery_mode(static_cast<std::uint8_t>(*v));
        if (auto v = doc->get_uint("priority")) {
            p.priority = static_cast<std::uint8_t>(std::min<std::uint64_t>(*v, 255));
            p.mark(hub::prop::priority);
        }
        if (auto v = doc->get_string("correlation_id")) p.set_correlation_id(*v);
        if (auto v = doc->get_string("reply_to")) p.set_reply_to(*v);
        if (auto v = doc->get_string("message_id")) p.set_message_id(*v);
        if (auto v = doc->get_uint("timestamp")) p.set_timestamp(*v);
        if (auto v = doc->get_string("expiration")) {
            p.expiration = *v;
            p.mark(hub::prop::expiration);
            std::uint64_t ttl = 0;
            auto [e, ec] = std::from_chars(v->data(), v->data() + v->size(), ttl);
            if (ec == std::errc() && e == v->data() + v->size()) m.ttl_ms = ttl;
        }
        if (auto h = doc->get_raw("headers")) {
            auto hd = json::document::parse(*h);
            std::vector<hub::header_pair> headers;
            for (const auto& n : hd ? hd->names() : std::vector<std::string>{}) {
                auto s = hd->get_string(n);
                headers.emplace_back(n, s ? *s : hd->get_raw(n).value_or(""));
            }
            m.headers = headers;
            p.set_headers(std::move(headers));
        }
    }
    m.persistent = p.has(hub::prop::delivery_mode) && p.delivery_mode == 2;
    m.priority = p.has(hub::prop::priority) ? p.priority : 0;
    m.set_properties(std::move(p));
    return true;
}

reply publish(loop_state& ls, hub::broker_vhost& vh, const std::string& exchange, const call& c) {
    auto doc = body_object(c.body);
    if (!doc) return bad_request("Malformed JSON");
    auto payload = doc->get_string("payload");
    auto key = doc->get_string("routing_key");
    if (!payload || !key) return bad_request("[{key_missing,payload}]");
    auto m = std::make_shared<hub::broker_message>();
    m->exchange = exchange;
    m->routing_key = *key;
    if (doc->get_string("payload_encoding").value_or("string") == "base64") {
        std::string bytes;
        if (!base64_decode(*payload, bytes)) return bad_request("payload is not base64");
        m->body = shared_bytes::copy_of(bytes);
    } else {
        m->body = shared_bytes::copy_of(*payload);
    }
    if (!typed_properties(doc->get_raw("properties"), *m)) return bad_request("bad properties");
    hub::publish_result res;
    // Through the AMQP server when there is one, so amq.topic crosses the hub bridge as an
    // AMQP client's publish does; else the private broker of the jobs.
    auto st = ls.amqp ? ls.amqp->publish(vh, std::move(m), res)
                      : ls.broker->publish(vh, std::move(m), res, ls.loop->now_ms());
    if (!st.ok()) return broker_failure(st);
    std::string out;
    json::writer(out).begin_object().member("routed", res.routed > 0).end_object();
    return reply{200, std::move(out), {}, {}};
}

// /api/bindings/{vhost}/e/{source}/{q|e}/{destination}[/{props}]
reply bindings_between(loop_state& ls, hub::broker_vhost& vh, const call& c) {
    const auto& s = c.seg;
    const bool to_exchange = s[4] == "e";
    const std::string source = s[3] == "amq.default" ? std::string() : s[3];
    const std::string& dest = s[5];
    hub::broker_exchange* ex = ls.broker->find_exchange(vh, source);
    if (!ex) return not_found();
    if (to_exchange ? !ls.broker->find_exchange(vh, dest) : !vh.queues.count(dest))
        return not_found();
    std::vector<hub::broker_binding> between;
    if (source.empty() && !to_exchange) between.push_back(default_binding(dest));
    for (const auto& b : ex->bindings) {
        if (b.queue == dest && b.to_exchange == to_exchange) between.push_back(b);
    }
    if (s.size() == 6 && c.method == http::method::post) {
        auto doc = body_object(c.body);
        if (!doc) return bad_request("Malformed JSON");
        json_table args(doc->get_raw("arguments"));
        auto b = session::make_binding(dest, to_exchange,
                                       doc->get_string("routing_key").value_or(""), args.view());
        const std::string props = binding_props_key(b);
        auto qi = vh.queues.find(dest);
        const std::uint64_t owner = qi != vh.queues.end() ? qi->second->exclusive_owner : 0;
        auto st = ls.broker->bind(vh, source, std::move(b), owner);
        if (!st.ok()) return broker_failure(st);
        return reply{201, {}, props, {}};
    }
    if (s.size() == 6 && c.method == http::method::get) {
        item_list l;
        for (const auto& b : between) l.push_back(binding_item(vh.name, source, b));
        std::string out;
        if (auto err = render_list(std::move(l), c.query, out)) return bad_request(*err);
        return reply{200, std::move(out), {}, {}};
    }
    if (s.size() == 6) return reply{405, {}, {}, "GET, HEAD, POST"};
    for (const auto& b : between) {
        if (binding_props_key(b) != s[6]) continue;
        if (c.method == http::method::get) {
            return reply{200, binding_item(vh.name, source, b).render(), {}, {}};
        }
        if (c.method != http::method::del) return reply{405, {}, {}, "GET, HEAD, DELETE"};
        auto qi = vh.queues.find(dest);
        const std::uint64_t owner = qi != vh.queues.end() ? qi->second->exclusive_owner : 0;
        auto st = ls.broker->unbind(vh, source, b, owner);
        if (!st.ok()) return broker_failure(st);
        return reply{204, {}, {}, {}};
    }
    return not_found();
}

reply queue_write(loop_state& ls, hub::broker_vhost& vh, const call& c) {
    const auto& s = c.seg;
    auto qi = vh.queues.find(s[2]);
    if (s.size() == 3 && c.method == http::method::put) return put_queue(ls, vh, s[2], c);
    if (qi == vh.queues.end()) return not_found();
    hub::broker_queue& q = *qi->second;
    std::uint32_t count = 0;
    if (s.size() == 3 && c.method == http::method::del) {
        auto st =
            ls.broker->queue_delete(vh, s[2], q.exclusive_owner, c.if_unused, c.if_empty, count);
        return st.ok() ? reply{204, {}, {}, {}} : broker_failure(st);
    }
    if (s.size() == 3) return reply{405, {}, {}, "GET, HEAD, PUT, DELETE"};
    if (s.size() == 4 && s[3] == "contents") {
        if (c.method != http::method::del) return reply{405, {}, {}, "DELETE"};
        auto st = ls.broker->queue_purge(vh, s[2], q.exclusive_owner, count);
        return st.ok() ? reply{204, {}, {}, {}} : broker_failure(st);
    }
    if (s.size() == 4 && s[3] == "get") {
        if (c.method != http::method::post) return reply{405, {}, {}, "POST"};
        return get_messages(ls, q, c);
    }
    return not_found();
}

reply exchange_write(loop_state& ls, hub::broker_vhost& vh, const call& c) {
    const auto& s = c.seg;
    const std::string name = s[2] == "amq.default" ? std::string() : s[2];
    if (s.size() == 3 && c.method == http::method::put) return put_exchange(ls, vh, name, c);
    if (!ls.broker->find_exchange(vh, name)) return not_found();
    if (s.size() == 3 && c.method == http::method::del) {
        auto st = ls.broker->exchange_delete(vh, name, c.if_unused);
        return st.ok() ? reply{204, {}, {}, {}} : broker_failure(st);
    }
    if (s.size() == 3) return reply{405, {}, {}, "GET, HEAD, PUT, DELETE"};
    if (s.size() == 4 && s[3] == "publish") {
        if (c.method != http::method::post) return reply{405, {}, {}, "POST"};
        return publish(ls, vh, name, c);
    }
    return not_found();
}

}  // namespace

bool serve_amqp_write(runtime&, loop_state& ls, const call& c, reply& out) {
    const auto& s = c.seg;
    const bool queue = s[0] == "queues" && (s.size() == 3 || s.size() == 4);
    const bool exchange = s[0] == "exchanges" && (s.size() == 3 || s.size() == 4);
    const bool binding = s[0] == "bindings" && (s.size() == 6 || s.size() == 7) && s[2] == "e" &&
                         (s[4] == "q" || s[4] == "e");
    if (!queue && !exchange && !binding) return false;
    hub::broker_vhost* vh = ls.broker ? ls.broker->vhost(s[1]) : nullptr;
    if (!vh) {
        out = not_found();
        return true;
    }
    if (queue) out = queue_write(ls, *vh, c);
    if (exchange) out = exchange_write(ls, *vh, c);
    if (binding) out = bindings_between(ls, *vh, c);
    if (out.status == 405 && out.body.empty()) {
        auto allow = out.allow;
        out = error_reply(405, "Method Not Allowed", "Method Not Allowed");
        out.allow = allow;
    }
    return true;
}

}  // namespace sy::server::mgmt
