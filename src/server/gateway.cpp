// The HTTP gateway to the hub (routes documented in server/gateway.hpp and docs/patterns/).
#include "switchyard/server/gateway.hpp"

#include <array>
#include <charconv>
#include <memory>

#include <fmt/format.h>

#include "gateway_internal.hpp"
#include "rate_limit.hpp"
#include "switchyard/backplane/presence.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/proto/ws/handshake.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/server/hub_metrics.hpp"
#include "switchyard/server/system_topics.hpp"
#include "switchyard/session/push_format.hpp"
#include "switchyard/session/push_stream.hpp"
#include "switchyard/session/sse_session.hpp"
#include "switchyard/session/ws_session.hpp"

namespace sy::server {

namespace {

// Per-loop counters live in a slot of each loop; each loop writes its own, /metrics reads all.
session::push_counters* counters_for(const loop_state& ls) {
    return ls.loop ? ls.loop->slot<session::push_counters>() : nullptr;
}

std::string etag_of(std::uint64_t id, std::uint64_t epoch = 0) {
    return fmt::format("\"{}\"", hub::resume_token(epoch, id));
}

std::string_view hdr(const http::request& req, std::string_view name) {
    return req.header(name).value_or(std::string_view{});
}

// ---- resume positions -----------------------------------------------------------------------

std::string_view trim_token(std::string_view s) {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '"' || s.front() == 'W' || s.front() == '/'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '"')) s.remove_suffix(1);
    return s;
}

/// A resume token (an ETag, Last-Event-ID, ?since=): "<id>" or "<epoch>:<id>".
std::optional<hub::log_position> parse_token(std::string_view s) {
    return hub::parse_resume_token(trim_token(s));
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    s = trim_token(s);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// ---- long poll ----------------------------------------------------------------------------------

/// One waiting long-poll request. Kept alive by its timer (and the hub's waiter callback); the
/// response's on_abort holds only a weak reference.
class longpoll final : public hub::subscriber, public std::enable_shared_from_this<longpoll> {
  public:
    longpoll(http::response res, core::loop& l, const start_point& sp, bool envelope)
        : res_(std::move(res)),
          loop_(&l),
          since_(sp.since),
          epoch_(sp.epoch),
          envelope_(envelope) {}

    void start(hub::hub_shard& shard, const std::string& pattern, const start_point& sp,
               millis timeout) {
        auto self = shared_from_this();
        timer_ = loop_->add_timer(timeout, [self] { self->timed_out(); });
        std::weak_ptr<longpoll> weak = self;
        res_.on_abort([weak] {
            if (auto s = weak.lock()) s->finish();
        });
        result<hub::subscription_handle, hub::topic_error> h = hub::subscription_handle{};
        if (sp.given && hub::is_literal(pattern)) {
            h = shard.next_after(pattern, sp.since, 1, waiter_callback(self), sp.epoch);
        } else {
            h = shard.subscribe(pattern, this, {});
        }
        if (!h) {
            finish();
            res_.send(400, "invalid topic\n");
            return;
        }
        if (done_) return;  // answered from history inside next_after
        handle_ = std::move(h.value());
        // Last: during a shutdown already under way this answers at once.
        res_.on_shutdown([weak] {
            if (auto s = weak.lock()) s->shutting_down();
        });
    }

    hub::subscriber_transport transport() const override {
        return hub::subscriber_transport::long_poll;
    }
    void on_message(const hub::delivery& d) override {
        hub::history_result r;
        r.messages.push_back(d.message_ptr_ref());
        r.last_id = d.msg().id;
        r.epoch = d.msg().epoch;
        answer(r);
    }

  private:
    static hub::history_callback waiter_callback(std::shared_ptr<longpoll> self) {
        return [self = std::move(self)](result<hub::history_result, hub::topic_error>&& r) {
            if (r.has_value()) self->answer(*r);
        };
    }

    void answer(const hub::history_result& r) {
        if (done_) return;
        auto keep = finish();
        if (res_.closed()) return;
        res_.set_header("Cache-Control", "no-cache");
        if (r.lost > 0) {
            res_.set_header("X-Lost", std::to_string(r.lost));
            res_.set_header("X-Lost-From", std::to_string(r.lost_from));
        }
        if (r.messages.empty()) {
            const std::uint64_t to = r.lost_from + r.lost - 1;
            res_.set_header("ETag", etag_of(to, r.epoch));
            res_.set_header("X-Message-Id", hub::resume_token(r.epoch, to));
            res_.send_json(200, session::gap_json("", r.lost_from, to, r.lost));
            return;
        }
        const hub::message& m = *r.messages.front();
        res_.set_header("ETag", etag_of(m.id, m.epoch));
        res_.set_header("X-Message-Id", hub::resume_token(m.epoch, m.id));
        res_.set_header("X-Topic", m.topic);
        if (envelope_) return res_.send_json(200, session::envelope_json(m));
        res_.send(200, m.payload,
                  m.content_type.empty() ? std::string_view("application/octet-stream")
                                         : std::string_view(m.content_type));
    }

    void timed_out() {
        timer_ = {};
        if (done_) return;
        auto keep = finish();
        if (res_.closed()) return;
        res_.set_header("ETag", etag_of(since_, epoch_));
        res_.set_header("Cache-Control", "no-cache");
        res_.send(304);
    }

    /// The server is shutting down: answer now rather than hold the poll through the grace.
    void shutting_down() {
        if (done_) return;
        auto keep = finish();
        if (res_.closed()) return;
        res_.set_header("Retry-After", k_shutdown_retry_after);
        res_.set_header("Cache-Control", "no-cache");
        res_.send_json(k_shutdown_status, k_shutdown_body);
    }

    /// Stops waiting; returns a reference that keeps this alive until the caller is done.
    std::shared_ptr<longpoll> finish() {
        auto keep = shared_from_this();
        done_ = true;
        handle_.reset();
        if (loop_->timer_pending(timer_)) loop_->cancel_timer(timer_);
        loop_->defer([keep] {});  // freed after this turn, never inside a hub callback
        return keep;
    }

    http::response res_;
    core::loop* loop_;
    std::uint64_t since_;
    std::uint64_t epoch_;
    bool envelope_;
    hub::subscription_handle handle_;
    core::timer_id timer_{};
    bool done_ = false;
};

void messages_handler(app& a, http::request& req, http::response& res) {
    loop_state* ls = a.runtime()->current_loop();
    if (!ls || !ls->shard) {
        res.send(503, "no hub on this thread\n");
        return;
    }
    const auto q = req.query("since");
    const hub::log_position since =
        q ? parse_token(*q).value_or(hub::log_position{}) : hub::log_position{};
    const std::size_t limit = std::min<std::uint64_t>(query_u64(req, "limit", 100), 1000);
    if (hub::validate_topic(req.param("topic")) &&
        !authorize(req, res, auth::action::subscribe, req.param("topic")))
        return;
    ls->shard->history(
        req.param("topic"), since.offset, limit,
        [res](result<hub::history_result, hub::topic_error>&& r) mutable {
            if (res.closed()) return;
            if (!r) {
                res.send_json(400, "{\"error\":\"invalid topic\"}");
                return;
            }
            const auto& h = r.value();
            std::string out;
            json::writer w(out);
            w.begin_object().key("messages").begin_array();
            for (const auto& m : h.messages) {
                w.begin_object()
                    .member("id", m->id)
                    .member("time", m->time_ms)
                    .member("content_type", m->content_type)
                    .key("data");
                if (session::write_json_data(w, *m)) w.member("encoding", "base64");
                w.end_object();
            }
            w.end_array().member("last_id", h.last_id);
            if (h.epoch) w.member("epoch", h.epoch);
            if (h.lost) w.member("lost", h.lost).member("lost_from", h.lost_from);
            w.member("more", h.more).end_object();
            res.set_header("Cache-Control", "no-cache");
            res.send_json(200, out);
        },
        since.epoch);
}

/// The stats document. With the figures of every node (t): last_id and epoch are Redis', and
/// subscribers is the sum over the nodes ("nodes" has each; this node's "local_subscribers").
void send_stats(http::response& res, const std::string& topic, const hub::topic_stats& s,
                const backplane::topic_nodes* t) {
    std::string out;
    json::writer w(out);
    w.begin_object().member("topic", topic).member("last_id", t ? t->last_id : s.last_id);
    if (t) w.member("epoch", t->epoch);
    w.member("history", s.history_count);
    if (t) {
        std::uint64_t sum = 0;
        w.key("nodes").begin_object();
        for (const auto& [node, n] : t->nodes) {
            w.member(node, n);
            sum += n;
        }
        w.end_object().member("subscribers", sum).member("local_subscribers", s.subscribers);
    } else {
        w.member("subscribers", s.subscribers);
    }
    w.member("publishes", s.publishes)
        .member("deliveries", s.deliveries)
        .member("over_cap", s.over_cap)
        .end_object();
    res.send_json(200, out);
}

/// GET /topics/{topic}: this node's figures, and with a backplane every node's (subscribers
/// per node and summed, the epoch and last id Redis holds: docs/scaling.md).
void stats_handler(app& a, http::request& req, http::response& res) {
    loop_state* ls = a.runtime()->current_loop();
    if (!ls || !ls->shard) {
        res.send(503, "no hub on this thread\n");
        return;
    }
    std::string topic(req.param("topic"));
    if (hub::validate_topic(topic) && !authorize(req, res, auth::action::subscribe, topic)) return;
    runtime* rt = a.runtime();
    ls->shard->stats(
        topic, [rt, res, topic](result<hub::topic_stats, hub::topic_error>&& r) mutable {
            if (res.closed()) return;
            if (!r) {
                res.send_json(400, "{\"error\":\"invalid topic\"}");
                return;
            }
            const hub::topic_stats s = r.value();
            // sys.* and jobs.* stay on their node (backplane.cpp).
            if (!rt->backplane() || rt->hub().settings().reserved(topic)) {
                return send_stats(res, topic, s, nullptr);
            }
            cluster_figures(
                *rt, topic, res, [topic, s](http::response& out, const backplane::topic_nodes* t) {
                    if (!t) {
                        out.set_header("Retry-After", "1");
                        return out.send_json(503, "{\"error\":\"backplane unavailable\"}");
                    }
                    send_stats(out, topic, s, t);
                });
        });
}

}  // namespace

bool wants_websocket(const http::request& req) {
    // Upgrade is a token list (RFC 9110 7.8); proto/ws checks it exactly in the handshake.
    std::string_view u = hdr(req, "upgrade");
    for (std::size_t i = 0; i + 9 <= u.size(); ++i) {
        if (iequals(u.substr(i, 9), "websocket")) return true;
    }
    return false;
}

bool wants_sse(const http::request& req) {
    return hdr(req, "accept").find("text/event-stream") != std::string_view::npos;
}

start_point start_of(const http::request& req) {
    start_point sp;
    // Several tokens: the furthest wins (in its epoch).
    auto take = [&sp](std::optional<hub::log_position> v) {
        if (!v) return;
        if (!sp.given || v->offset > sp.since) {
            sp.since = v->offset;
            sp.epoch = v->epoch;
        }
        sp.given = true;
    };
    if (auto q = req.query("since")) {
        if (*q == "newest") {
            sp.newest = true;
        } else {
            take(parse_token(*q));
        }
    }
    if (auto q = req.query("last_event_id")) take(parse_token(*q));
    if (auto h = req.header("last-event-id")) take(parse_token(*h));
    if (auto h = req.header("if-none-match")) take(parse_token(*h));
    return sp;
}

hub::subscribe_options options_of(const start_point& sp) {
    if (sp.given) return hub::subscribe_options::after(sp.since, sp.epoch);
    if (sp.newest) return hub::subscribe_options::from_newest();
    return {};
}

bool query_flag(const http::request& req, std::string_view name) {
    auto v = req.query(name);
    return v && (*v == "1" || *v == "true" || *v == "yes" || v->empty());
}

std::uint64_t query_u64(const http::request& req, std::string_view name, std::uint64_t dflt) {
    auto v = req.query(name);
    if (!v) return dflt;
    return parse_u64(*v).value_or(dflt);
}

void serve_long_poll(http::response& res, loop_state& ls, const std::string& pattern,
                     const start_point& sp, millis timeout, bool envelope) {
    auto lp = std::make_shared<longpoll>(res, *ls.loop, sp, envelope);
    lp->start(*ls.shard, pattern, sp, timeout);
}

std::optional<hub::publish_error> publish_from_client(loop_state& ls, std::string_view topic,
                                                      std::string_view type, shared_bytes payload,
                                                      hub::publish_callback done) {
    return ls.shard->publish(topic, type, std::move(payload), std::move(done));
}

void publish_body(http::request& req, http::response& res, loop_state& ls, std::string_view topic) {
    // [auth] first (a topic the hub refuses gets the hub's 400 instead); then the hub's own
    // rules, the reserved prefixes among them.
    if (hub::validate_topic(topic) && !authorize(req, res, auth::action::publish, topic)) return;
    if (std::int64_t retry = 0; !publish_rate_ok(req.remote_address(), retry)) {
        res.set_header("Retry-After", std::to_string(retry));
        res.send(429, "over limits.publish_rate on this connection\n");
        return;
    }
    const std::string_view type = req.header("content-type").value_or("");
    publish_from_client(ls, topic, type, req.body_shared(),  // the body block itself, no copy
                        [res](result<hub::publish_ack, hub::publish_error>&& r) mutable {
                            if (res.closed()) return;
                            if (!r) {
                                if (r.error() == hub::publish_error::rejected_over_cap) {
                                    res.set_header("Retry-After", "1");
                                    res.send_json(503, "{\"error\":\"subscriber over cap\"}");
                                } else if (r.error() == hub::publish_error::log_unavailable) {
                                    // The backplane is down: refused, never dropped
                                    // (docs/scaling.md).
                                    res.set_header("Retry-After", "1");
                                    res.send_json(503, "{\"error\":\"backplane unavailable\"}");
                                } else if (r.error() == hub::publish_error::reserved_topic) {
                                    res.send(403, fmt::format("{}: published by the server only\n",
                                                              hub::to_string(r.error())));
                                } else {
                                    std::string e;
                                    json::writer(e)
                                        .begin_object()
                                        .member("error", hub::to_string(r.error()))
                                        .end_object();
                                    res.send_json(400, e);
                                }
                                return;
                            }
                            std::string ok;
                            json::writer w(ok);
                            w.begin_object().member("id", r.value().id);
                            if (r.value().epoch) w.member("epoch", r.value().epoch);
                            w.member("subscribers", r.value().reached).end_object();
                            res.send_json(201, ok);
                        });
}

session::push_counters* push_counters_of(const loop_state& ls) {
    return counters_for(ls);
}

void gateway::stream_sse(app& a, http::request& req, http::response& res,
                         std::string_view pattern) {
    loop_state* ls = a.runtime() ? a.runtime()->current_loop() : nullptr;
    if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
    if (auto v = hub::validate_pattern(pattern); !v) {
        return res.send(500, fmt::format("invalid topic pattern: {}\n", hub::to_string(v.error())));
    }
    serve_sse_pattern(a.runtime()->config(), req, res, std::string(pattern), true, false, true);
}

void install_gateway(app& a) {
    install_auth(a);
    a.on_runtime([](runtime& rt) {
        rt.on_loop_start([](loop_state& ls) { ls.loop->emplace_slot<session::push_counters>(); });
        register_gateway_metrics(rt);
        register_hub_metrics(rt);
    });
    // The default route table (docs/routes.md): /sub and /pub are topic routes like any
    // [[routes]] table; the rest are handler routes of the same table.
    auto& routes = a.routes();
    route_spec sub;
    sub.config.path = "/sub/:topic";
    sub.config.websocket = sub.config.sse = sub.config.long_poll = ":topic";
    sub.config.publish = a.config().ws.allow_client_publish;
    sub.query_options = true;
    routes.add(std::move(sub));
    route_spec pub;
    pub.config.path = "/pub/:topic";
    pub.post_topic = ":topic";
    routes.add(std::move(pub));
    auto& r = routes.handlers();
    r.get("/echo", [&a](http::request& req, http::response& res) {
        if (!wants_websocket(req)) {
            res.set_header("Allow", "GET, POST");
            res.send(426, "GET /echo is a WebSocket endpoint (POST /echo echoes the body)\n");
            return;
        }
        start_push(req, res, ws_push_of(a.runtime()->config(), {}));
    });
    r.get("/topics/:topic/messages",
          [&a](http::request& req, http::response& res) { messages_handler(a, req, res); });
    r.get("/topics/:topic/presence", [&a](http::request& req, http::response& res) {
        presence_handler(*a.runtime(), req, res);
    });
    r.get("/topics/:topic",
          [&a](http::request& req, http::response& res) { stats_handler(a, req, res); });
    install_jobs(a);
}

namespace {
/// Opened minus closed, closed read first: the loop may count both in between, and opened is
/// then never below closed.
std::uint64_t open_now(const core::counter& opened, const core::counter& closed) {
    const std::uint64_t c = closed.get();
    const std::uint64_t o = opened.get();
    return o >= c ? o - c : 0;
}
}  // namespace

void register_gateway_metrics(runtime& rt) {
    using pc = session::push_counters;
    using metrics::kind;
    // Each loop's push_counters slot (absent on a loop that has not started yet: 0).
    auto sum = [&rt](std::uint64_t (*get)(const pc&)) {
        std::uint64_t s = 0;
        for (std::size_t i = 0; i < rt.loop_count(); ++i) {
            if (const pc* c = counters_for(rt.loop_at(i))) s += get(*c);
        }
        return s;
    };
    auto& m = rt.metrics();
    auto push = [&m, sum](std::string name, kind type, std::string help,
                          std::uint64_t (*get)(const pc&)) {
        m.add_value({std::move(name), type, std::move(help), {}, false},
                    [sum, get] { return sum(get); });
    };
    push("sy_ws_sessions_total", kind::counter, "WebSocket sessions opened.",
         [](const pc& c) { return c.ws_sessions.get(); });
    push("sy_ws_open", kind::gauge, "WebSocket sessions open now.",
         [](const pc& c) { return open_now(c.ws_sessions, c.ws_closed); });
    push("sy_sse_sessions_total", kind::counter, "SSE streams opened.",
         [](const pc& c) { return c.sse_sessions.get(); });
    push("sy_sse_open", kind::gauge, "SSE streams open now.",
         [](const pc& c) { return open_now(c.sse_sessions, c.sse_closed); });
    push("sy_push_deliveries_total", kind::counter, "Hub messages queued to WS/SSE subscribers.",
         [](const pc& c) { return c.deliveries.get(); });
    m.add_value({"sy_push_writes_total",
                 kind::counter,
                 "writev calls of push subscriber connections (WS/SSE over HTTP/1.1); against "
                 "sy_push_deliveries_total: frames per write.",
                 {},
                 false},
                [&rt] {
                    std::uint64_t s = 0;
                    for (std::size_t i = 0; i < rt.loop_count(); ++i)
                        s += rt.loop_at(i).io.coalesced_writevs.get();
                    return s;
                });
    push("sy_push_gaps_total", kind::counter, "Gap events sent to WS/SSE subscribers.",
         [](const pc& c) { return c.gaps_sent.get(); });
    push("sy_ws_messages_in_total", kind::counter, "WebSocket messages received.",
         [](const pc& c) { return c.ws_messages_in.get(); });
    push("sy_ws_protocol_errors_total", kind::counter, "WebSockets failed by a protocol error.",
         [](const pc& c) { return c.ws_protocol_errors.get(); });
    push("sy_slow_over_cap_total", kind::counter,
         "block-publisher subscribers that went over their output cap.",
         [](const pc& c) { return c.over_cap.get(); });
    m.add_value({"sy_slow_drops_total",
                 kind::counter,
                 "Messages skipped by drop-oldest subscribers.",
                 {},
                 false},
                [&rt] { return rt.hub().counters().drops; });
    m.add_value({"sy_slow_disconnects_total",
                 kind::counter,
                 "Subscribers closed by the disconnect policy.",
                 {},
                 false},
                [&rt] { return rt.hub().counters().disconnects; });
    m.add_value({"sy_slow_publisher_rejections_total",
                 kind::counter,
                 "Publishes rejected (503) by block-publisher.",
                 {},
                 false},
                [&rt] { return rt.hub().counters().publisher_rejections; });
}

// ---- embedded API -------------------------------------------------------------------------------

namespace gateway {

struct subscription::target final : hub::subscriber {
    message_fn fn;
    hub::subscription_handle handle;
    void on_message(const hub::delivery& d) override { fn(d.msg()); }
};

subscription::subscription() = default;
subscription::subscription(subscription&&) noexcept = default;
subscription& subscription::operator=(subscription&&) noexcept = default;
subscription::~subscription() {
    reset();
}

void subscription::reset() {
    if (target_) {
        target_->handle.reset();
        target_.reset();
    }
}

bool publish(std::string_view topic, sy::shared_bytes payload, std::string_view content_type,
             hub::publish_callback done) {
    loop_state* ls = current_loop_state();
    if (!ls || !ls->shard) return false;
    ls->shard->publish(topic, content_type, std::move(payload), std::move(done));
    return true;
}

result<subscription, hub::topic_error> subscribe(std::string_view pattern, message_fn fn,
                                                 hub::subscribe_options opts) {
    loop_state* ls = current_loop_state();
    if (!ls || !ls->shard) return unexpected(hub::topic_error::empty);
    subscription s;
    s.target_ = std::make_unique<subscription::target>();
    s.target_->fn = std::move(fn);
    auto h = ls->shard->subscribe(pattern, s.target_.get(), opts);
    if (!h) return unexpected(h.error());
    s.target_->handle = std::move(h.value());
    return s;
}

}  // namespace gateway

}  // namespace sy::server