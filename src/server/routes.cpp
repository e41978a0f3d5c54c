// The route table (server/routes.hpp, docs/routes.md).
#include "switchyard/server/routes.hpp"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "gateway_internal.hpp"
#include "rate_limit.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/proto/ws/error.hpp"
#include "switchyard/server/app.hpp"
#include "switchyard/server/auth.hpp"

namespace sy::server {

namespace {

/// One topic route as the table serves it.
struct topic_route {
    route_spec spec;
    std::string post_topic;  // the resolved POST target ("" : no POST on the path)
    bool envelope = false;
};

}  // namespace

/// An immutable table: one router of every route, and the paths of its topic routes (a reload
/// ends the streams of a path that is gone).
class route_table {
  public:
    http::router router;
    http::router ws_only;  // routes with only a WebSocket: other GETs go on to app.router()
    bool any_ws_only = false;
    std::vector<std::string> paths;
    bool has_path(std::string_view p) const {
        return std::find(paths.begin(), paths.end(), p) != paths.end();
    }
};

namespace {

/// Each loop's view of the table and the streams its topic routes opened (a loop slot).
struct route_loop {
    struct stream {
        std::string path;
        std::weak_ptr<session::push_events> owner;
    };
    std::shared_ptr<const route_table> table;
    std::shared_ptr<const route_table> previous;
    std::vector<stream> streams;
    std::size_t prune_at = 64;

    void track(const std::string& path, std::weak_ptr<session::push_events> w) {
        if (w.expired()) return;
        if (streams.size() >= prune_at) {
            std::erase_if(streams, [](const stream& s) { return s.owner.expired(); });
            prune_at = std::max<std::size_t>(64, streams.size() * 2);
        }
        streams.push_back({path, std::move(w)});
    }

    /// The new table; streams of paths it no longer has end (WebSocket 1001, SSE end).
    void swap(std::shared_ptr<const route_table> t) {
        // The previous table stays until the next reload: a request's parameter names point
        // into the router that matched it (http::request::add_param).
        previous = std::move(table);
        table = std::move(t);
        std::vector<std::shared_ptr<session::push_events>> ending;
        std::erase_if(streams, [&](const stream& s) {
            if (table->has_path(s.path)) return s.owner.expired();
            if (auto o = s.owner.lock()) ending.push_back(std::move(o));
            return true;
        });
        for (auto& o : ending) o->on_push_removed();
    }
};

route_loop* this_loop_routes() {
    core::loop* l = core::loop::current();
    return l ? l->slot<route_loop>() : nullptr;
}

bool origin_allowed(const std::vector<std::string>& origins, const http::request& req) {
    if (origins.empty()) return true;
    auto o = req.header("origin");
    return !o || std::find(origins.begin(), origins.end(), *o) != origins.end();
}

/// The topic of template t for req, checked as a pattern; empty after sending the 400.
std::string topic_for(std::string_view t, http::request& req, http::response& res) {
    std::string topic = expand_topic(t, req);
    if (topic.empty()) {
        res.send(400, "invalid topic: a path parameter is empty or not one topic token\n");
        return {};
    }
    if (auto v = hub::validate_pattern(topic); !v) {
        res.send(400, fmt::format("invalid topic pattern: {}\n", hub::to_string(v.error())));
        return {};
    }
    return topic;
}

/// Messages a client sends, published as they are (publish = true); a pattern has no topic to
/// publish to: closed 1008.
void publish_as_is(ws_peer& p, std::string_view message, bool binary) {
    loop_state* ls = current_loop_state();
    if (!ls || !ls->shard || !hub::is_literal(p.topic())) {
        p.close(ws::close_code::policy_violation, "publishing is not allowed here");
        return;
    }
    // Per message, with the socket's current principal (a refresh may change it): one sublist
    // lookup, no allocation.
    if (authorize_status(p.principal(), false, auth::action::publish, p.topic()) != 0) {
        p.close(ws::close_code::policy_violation, "not permitted to publish");
        return;
    }
    if (std::int64_t retry = 0; !publish_rate_ok(p.remote_address(), retry)) {
        p.close(ws::close_code::policy_violation, "over the publish rate");
        return;
    }
    // No callback (an ack would cost a reply per shard per message); a refusal decided on this
    // shard (a reserved topic) ends the socket like the check above; a backplane cut from Redis
    // with 1013 Try Again Later (the publish is refused, not dropped: docs/scaling.md).
    if (auto refused = publish_from_client(
            *ls, p.topic(), binary ? "application/octet-stream" : "text/plain; charset=utf-8",
            shared_bytes::copy_of(message))) {
        p.close(*refused == hub::publish_error::log_unavailable ? ws::close_code::try_again_later
                                                                : ws::close_code::policy_violation,
                std::string(hub::to_string(*refused)));
    }
}

std::string presence_json(std::string_view kind, std::string_view name) {
    std::string j;
    json::writer(j).begin_object().member("type", kind).member("name", name).end_object();
    return j;
}

/// What a topic route's WebSocket runs: presence join/leave (GET /sub?presence=NAME), the
/// program's hooks, and publish = true's publish-as-is where the program has no on_message.
ws_hooks socket_hooks(runtime& rt, const route_spec& r, std::string presence) {
    ws_hooks h = r.hooks;
    if (!h.on_message && r.config.publish) h.on_message = publish_as_is;
    if (presence.empty()) return h;
    // The member is in the presence store (GET /topics/T/presence) while the socket is open.
    h.on_connect = [&rt, then = std::move(h.on_connect), presence](ws_peer& p) {
        presence_changed(rt, std::string(p.topic()), presence, true);
        p.publish(presence_json("join", presence), "application/json");
        if (then) then(p);
    };
    h.on_close = [&rt, then = std::move(h.on_close), presence](ws_peer& p) {
        presence_changed(rt, std::string(p.topic()), presence, false);
        p.publish(presence_json("leave", presence), "application/json");
        if (then) then(p);
    };
    return h;
}

void serve_websocket(runtime& rt, const topic_route& r, http::request& req, http::response& res,
                     route_loop* rl) {
    const server_config& cfg = rt.config();
    const route_config& c = r.spec.config;
    session::ws_subscription sub;
    sub.pattern = topic_for(c.websocket, req, res);
    if (sub.pattern.empty()) return;
    sub.start = c.resume ? options_of(start_of(req)) : hub::subscribe_options{};
    sub.envelope = r.envelope || (r.spec.query_options && query_flag(req, "envelope"));
    std::string presence;
    if (r.spec.query_options) presence = req.query("presence").value_or("");
    if (!presence.empty() && !hub::is_literal(sub.pattern)) {
        res.send(400, "presence needs a topic, not a pattern\n");
        return;
    }
    // Before the upgrade: 401/403 on the handshake. Presence publishes join/leave on the topic.
    if (!authorize(req, res, auth::action::subscribe, sub.pattern) ||
        (!presence.empty() && !authorize(req, res, auth::action::publish, sub.pattern)))
        return;
    sub.hooks = socket_hooks(rt, r.spec, std::move(presence));
    sub.remote = std::string(req.remote_address());
    auto w = start_push(req, res, ws_push_of(cfg, c.origins, std::move(sub)));
    if (rl) rl->track(c.path, std::move(w));
}

}  // namespace

std::weak_ptr<session::push_events> serve_sse_pattern(const server_config& cfg, http::request& req,
                                                      http::response& res, std::string pattern,
                                                      bool resume, bool envelope,
                                                      bool query_options) {
    if (!authorize(req, res, auth::action::subscribe, pattern)) return {};
    session::sse_subscription sub;
    sub.pattern = std::move(pattern);
    sub.start = resume ? options_of(start_of(req)) : hub::subscribe_options{};
    sub.envelope = envelope || (query_options && query_flag(req, "envelope"));
    if (query_options) {
        sub.event = req.query("event").value_or("");
        if (sub.event.find_first_of("\r\n") != std::string::npos) {
            res.send(400, "invalid event name\n");
            return {};
        }
        sub.retry_ms = static_cast<std::uint32_t>(query_u64(req, "retry", 0));
    }
    sub.heartbeat = millis(cfg.hub.sse_heartbeat_ms);
    return start_push(req, res, std::move(sub));
}

namespace {

void serve_sse(const server_config& cfg, const topic_route& r, http::request& req,
               http::response& res, route_loop* rl) {
    const route_config& c = r.spec.config;
    std::string pattern = topic_for(c.sse, req, res);
    if (pattern.empty()) return;
    auto w = serve_sse_pattern(cfg, req, res, std::move(pattern), c.resume, r.envelope,
                               r.spec.query_options);
    if (rl) rl->track(c.path, std::move(w));
}

void serve_long_poll_route(const server_config& cfg, const topic_route& r, http::request& req,
                           http::response& res, loop_state& ls) {
    const route_config& c = r.spec.config;
    const std::string pattern = topic_for(c.long_poll, req, res);
    if (pattern.empty() || !authorize(req, res, auth::action::subscribe, pattern)) return;
    const bool q = r.spec.query_options;
    const millis timeout(q && req.query("timeout") ? query_u64(req, "timeout", 0) * 1000
                                                   : cfg.hub.longpoll_timeout_ms);
    serve_long_poll(res, ls, pattern, c.resume ? start_of(req) : start_point{}, timeout,
                    r.envelope);
}

/// GET or POST on a topic route: the transport the request asks for (the file comment).
void serve_route(app& a, const topic_route& r, http::request& req, http::response& res) {
    loop_state* ls = current_loop_state();
    if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
    const server_config& cfg = a.runtime()->config();
    const route_config& c = r.spec.config;
    const bool ws = wants_websocket(req);
    if (!ws && !origin_allowed(c.origins, req)) return res.send(403, "origin not allowed\n");
    if (req.method() == http::method::post) {
        const std::string topic = expand_topic(r.post_topic, req);
        if (topic.empty()) return res.send_json(400, "{\"error\":\"invalid_topic\"}");
        return publish_body(req, res, *ls, topic);
    }
    route_loop* rl = this_loop_routes();
    if (ws) {
        if (c.websocket.empty()) {
            return res.send(426, fmt::format("{} has no WebSocket (GET it for {})\n", c.path,
                                             c.sse.empty() ? "a long poll" : "SSE"));
        }
        return serve_websocket(*a.runtime(), r, req, res, rl);
    }
    if (!c.sse.empty() && (wants_sse(req) || c.long_poll.empty())) {
        return serve_sse(cfg, r, req, res, rl);
    }
    if (!c.long_poll.empty()) return serve_long_poll_route(cfg, r, req, res, *ls);
    res.set_header("Upgrade", "websocket");
    res.send(426, fmt::format("{} is a WebSocket endpoint\n", c.path));
}

/// The parameter names of an http::router pattern, in order (":id" -> "id", "*rest" -> "rest").
std::vector<std::string> params_of(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view seg = path.substr(i, j - i);
        if (!seg.empty() && (seg.front() == ':' || seg.front() == '*')) {
            out.emplace_back(seg.size() > 1 ? seg.substr(1) : seg);
        }
        i = j + 1;
    }
    return out;
}

/// Start-up/reload checks of one topic route; the message names its line.
void check_route(const route_spec& s, const std::string& origin) {
    const route_config& c = s.config;
    auto fail = [&](const std::string& what) {
        if (c.line) throw config_error(fmt::format("{}:{}: routes: {}", origin, c.line, what));
        throw config_error(fmt::format("route {}: {}", c.path, what));
    };
    const auto params = params_of(c.path);
    for (const std::string* t : {&c.websocket, &c.sse, &c.long_poll, &s.post_topic}) {
        if (t->empty()) continue;
        if (auto v = hub::validate_pattern(template_pattern(*t)); !v) {
            fail(fmt::format("topic '{}': {}", *t, hub::to_string(v.error())));
        }
        std::size_t i = 0;
        while ((i = t->find(':', i)) != std::string::npos) {
            std::size_t e = t->find('.', i);
            if (e == std::string::npos) e = t->size();
            const std::string name = t->substr(i + 1, e - i - 1);
            if (std::find(params.begin(), params.end(), name) == params.end()) {
                fail(fmt::format("topic '{}' uses :{}, which path {} does not have", *t, name,
                                 c.path));
            }
            i = e;
        }
    }
}

}  // namespace

namespace {
/// The template's '.'-separated tokens joined again, each `:name` token replaced by
/// param(name, only) (only: the template is that one token); a nullopt from param makes the
/// whole result empty.
template <typename Param>
std::string substitute(std::string_view t, Param&& param) {
    constexpr auto npos = std::string_view::npos;
    std::string out;
    std::size_t i = 0;
    while (true) {
        const std::size_t e = t.find('.', i);
        const std::string_view tok = t.substr(i, e == npos ? e : e - i);
        if (!tok.empty() && tok.front() == ':') {
            std::optional<std::string> v = param(tok.substr(1), i == 0 && e == npos);
            if (!v) return {};
            out += *v;
        } else {
            out += tok;
        }
        if (e == npos) return out;
        out += '.';
        i = e + 1;
    }
}
}  // namespace

std::string template_pattern(std::string_view t) {
    return substitute(t, [](std::string_view, bool only) {
        return std::optional<std::string>(only ? ">" : "*");
    });
}

std::string expand_topic(std::string_view t, const http::request& req) {
    return substitute(t, [&req](std::string_view name, bool only) -> std::optional<std::string> {
        std::string v(req.param(name));
        if (v.empty()) return std::nullopt;
        // Inside a template a value is topic tokens, never a wildcard; a template that is one
        // parameter (GET /sub/{pattern}) takes a pattern as it is.
        if (!only && v.find_first_of("*>") != std::string::npos) return std::nullopt;
        std::replace(v.begin(), v.end(), '/', '.');
        return v;
    });
}

std::vector<hub::topic_rule> route_topic_rules(const std::vector<route_config>& rs) {
    std::vector<hub::topic_rule> out;
    for (const auto& r : rs) {
        if (r.history == 0 && r.slow_policy.empty()) continue;
        for (const std::string* t : {&r.websocket, &r.sse, &r.long_poll}) {
            if (t->empty()) continue;
            hub::topic_rule rule;
            rule.pattern = template_pattern(*t);
            if (r.history) rule.history_count = r.history;
            if (!r.slow_policy.empty()) rule.slow = hub::parse_slow_policy(r.slow_policy);
            out.push_back(std::move(rule));
        }
    }
    return out;
}

// ---- routes -------------------------------------------------------------------------------------

routes::routes(app& a) : app_(a) {}
routes::~routes() = default;

void routes::add(route_spec r) {
    code_.push_back(std::move(r));
}

void routes::add(route_config c, ws_hooks h) {
    route_spec s;
    s.config = std::move(c);
    s.hooks = std::move(h);
    add(std::move(s));
}

std::shared_ptr<const route_table> routes::build(const std::vector<route_config>& file) const {
    auto t = std::make_shared<route_table>();
    const std::string origin = app_.config().config_file;
    std::vector<route_spec> all = code_;
    for (const auto& c : file) all.push_back({c, {}, false, {}});
    for (auto& s : all) {
        check_route(s, origin);
        auto r = std::make_shared<topic_route>();
        const route_config& c = s.config;
        r->post_topic = !s.post_topic.empty()  ? s.post_topic
                        : !c.publish_post      ? std::string()
                        : !c.websocket.empty() ? c.websocket
                        : !c.sse.empty()       ? c.sse
                                               : c.long_poll;
        r->envelope = c.framing == "envelope";
        r->spec = std::move(s);
        app* a = &app_;
        auto fn = [a, r](http::request& req, http::response& res) {
            serve_route(*a, *r, req, res);
        };
        const route_config& rc = r->spec.config;
        try {
            if (!rc.websocket.empty() || !rc.sse.empty() || !rc.long_poll.empty()) {
                t->router.get(rc.path, fn);
            }
            if (!rc.websocket.empty() && rc.sse.empty() && rc.long_poll.empty()) {
                t->ws_only.get(rc.path, fn);
                t->any_ws_only = true;
            }
            if (!r->post_topic.empty()) t->router.post(rc.path, fn);
        } catch (const std::invalid_argument& e) {
            if (rc.line)
                throw config_error(fmt::format("{}:{}: routes: {}", origin, rc.line, e.what()));
            throw config_error(fmt::format("routes: {}", e.what()));
        }
        t->paths.push_back(rc.path);
    }
    for (const auto& h : handlers_.list()) {
        t->router.add(h.method, h.pattern, h.fn);
        t->paths.push_back(h.pattern);
    }
    return t;
}

namespace {
// The table the loops start with and the one a reload made last (main thread, loop starts).
struct table_holder {
    std::mutex mu;  // start-up and reload only, never per request
    std::shared_ptr<const route_table> current;
};
}  // namespace

void routes::attach(runtime& rt) {
    const server_config& cfg = app_.config();
    auto holder = std::make_shared<table_holder>();
    holder->current = build(cfg.routes);
    std::vector<route_config> all;
    for (const auto& s : code_) all.push_back(s.config);
    all.insert(all.end(), cfg.routes.begin(), cfg.routes.end());
    rt.add_topic_rules(route_topic_rules(all));
    rt.on_loop_start([holder](loop_state& ls) {
        std::lock_guard lock(holder->mu);
        ls.loop->emplace_slot<route_loop>().table = holder->current;
    });
    app_.router().add_filter(
        http::router::filter_order::route_table,
        [this](http::request& req, http::response& res) { return dispatch(req, res); });
    rt.on_reload([this, holder, &rt] {
        const std::string& file = app_.config().config_file;
        if (file.empty()) return;
        std::shared_ptr<const route_table> t;
        try {
            std::ifstream f(file, std::ios::binary);
            if (!f) throw config_error(fmt::format("{}: cannot open config file", file));
            std::ostringstream ss;
            ss << f.rdbuf();
            t = build(routes_from_toml(ss.str(), file));
        } catch (const config_error& e) {
            log::error("SIGHUP: routes not reloaded, keeping the current ones: {}", e.what());
            return;
        }
        {
            std::lock_guard lock(holder->mu);
            holder->current = t;
        }
        for (std::size_t i = 0; i < rt.loop_count(); ++i) {
            rt.loop_at(i).loop->post([t] {
                if (route_loop* rl = this_loop_routes()) rl->swap(t);
            });
        }
        log::info("SIGHUP: routes reloaded from {}", file);
    });
}

bool routes::dispatch(http::request& req, http::response& res) const {
    const route_loop* rl = this_loop_routes();
    if (!rl || !rl->table) return false;
    const bool ws = wants_websocket(req);
    const auto m = rl->table->router.match(req);
    if (m.kind == http::router::outcome::found) {
        // A plain GET of a WebSocket-only path is the app's (a page beside its socket) when
        // the app has it; otherwise the route's 426 says what the path is.
        if (!ws && rl->table->any_ws_only) {
            // match() replaces the request's parameters: the route's are taken again after.
            if (rl->table->ws_only.match(req).kind == http::router::outcome::found) {
                const auto am = app_.router().match(req);
                if (am.kind == http::router::outcome::found) {
                    (*am.target)(req, res);
                    return true;
                }
            }
            rl->table->router.match(req);
        }
        (*m.target)(req, res);
        return true;
    }
    if (ws) {
        // Never app.router(): the static files would answer an upgrade with a page.
        res.send(404, fmt::format("no WebSocket route at {}\n", req.path()));
        return true;
    }
    if (m.kind == http::router::outcome::not_found) return false;
    // The table has the path for other methods: the app's routes may have this one.
    const auto am = app_.router().match(req);
    if (am.kind == http::router::outcome::found) {
        (*am.target)(req, res);
        return true;
    }
    res.set_header("Allow", http::allow_header_value(m.allow | am.allow));
    if (req.method() == http::method::options) {
        res.send(204);
    } else {
        res.send(405, "Method Not Allowed\n");
    }
    return true;
}

}  // namespace sy::server
