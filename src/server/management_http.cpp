// The management API's HTTP side: the listener (the runtime's listener mechanism, switchyard's
// own HTTP/1.1 + h2c sessions over a router of its own), HTTP Basic against the AMQP users,
// the /api/ dispatcher and RabbitMQ's list parameters (see server/management.hpp).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <regex>

#include "gateway_internal.hpp"
#include "management_internal.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/http/static_files.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/server/amqp.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/system_topics.hpp"
#include "switchyard/session/http1_session.hpp"
#include "switchyard/session/http_context.hpp"

namespace sy::server::mgmt {

// ---- items and lists ---------------------------------------------------------------------------

item& item::str(std::string_view k, std::string_view v) {
    fields_.push_back({std::string(k), json::quote(v), std::string(v), 0, false});
    return *this;
}
item& item::num(std::string_view k, std::uint64_t v) {
    fields_.push_back({std::string(k), std::to_string(v), {}, static_cast<double>(v), true});
    return *this;
}
item& item::num(std::string_view k, std::int64_t v) {
    fields_.push_back({std::string(k), std::to_string(v), {}, static_cast<double>(v), true});
    return *this;
}
item& item::real(std::string_view k, double v) {
    std::string j;
    json::writer(j).value(v);
    fields_.push_back({std::string(k), std::move(j), {}, v, true});
    return *this;
}
item& item::boolean(std::string_view k, bool v) {
    fields_.push_back({std::string(k), v ? "true" : "false", {}, v ? 1.0 : 0.0, true});
    return *this;
}
item& item::null(std::string_view k) {
    fields_.push_back({std::string(k), "null", {}, 0, false});
    return *this;
}
item& item::raw(std::string_view k, std::string v) {
    fields_.push_back({std::string(k), std::move(v), {}, 0, false});
    return *this;
}

const field* item::find(std::string_view k) const {
    for (const auto& f : fields_) {
        if (f.key == k) return &f;
    }
    return nullptr;
}

std::string item::render(const std::vector<std::string>& columns) const {
    std::string out;
    json::writer w(out);
    w.begin_object();
    if (columns.empty()) {
        for (const auto& f : fields_) w.key(f.key).raw(f.json);
        w.end_object();
        return out;
    }
    // RabbitMQ: "a.b" selects member b of object a (kept nested).
    std::map<std::string, std::vector<std::string>, std::less<>> nested;
    for (const auto& c : columns) {
        auto dot = c.find('.');
        if (dot == std::string::npos) {
            nested[c];
        } else {
            nested[c.substr(0, dot)].push_back(c.substr(dot + 1));
        }
    }
    for (const auto& f : fields_) {
        auto it = nested.find(f.key);
        if (it == nested.end()) continue;
        if (it->second.empty()) {
            w.key(f.key).raw(f.json);
            continue;
        }
        auto doc = json::document::parse(f.json);
        if (!doc || !doc->is_object()) continue;
        w.key(f.key).begin_object();
        for (const auto& sub : it->second) {
            if (auto v = doc->get_raw(sub)) w.key(sub).raw(*v);
        }
        w.end_object();
    }
    w.end_object();
    return out;
}

namespace {

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

bool truthy(const std::optional<std::string>& v) {
    return v && (*v == "true" || *v == "1");
}

}  // namespace

std::optional<std::string> parse_list_query(const http::request& req, list_query& out) {
    if (auto p = req.query("page")) {
        out.page = parse_u64(*p);
        if (!out.page || *out.page == 0) return "page must be a positive integer";
    }
    if (auto p = req.query("page_size")) {
        auto n = parse_u64(*p);
        if (!n || *n == 0) return "page_size must be a positive integer";
        if (*n > 500) return "Invalid page size. Must be between 1 and 500";
        out.page_size = *n;
    }
    if (auto n = req.query("name")) out.name = *n;
    out.use_regex = truthy(req.query("use_regex"));
    if (auto s = req.query("sort")) out.sort = *s;
    out.sort_reverse = truthy(req.query("sort_reverse"));
    if (auto c = req.query("columns")) {
        std::string_view rest = *c;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            auto col = trim_ows(rest.substr(0, comma));
            if (!col.empty()) out.columns.emplace_back(col);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return std::nullopt;
}

namespace {

// Sort key of an item: a member, or a member of a nested object ("message_stats.publish").
// Absent members sort first, as RabbitMQ's (undefined < anything).
std::optional<field> sort_key(const item& it, const std::string& key) {
    auto dot = key.find('.');
    const field* f = it.find(dot == std::string::npos ? key : key.substr(0, dot));
    if (!f) return std::nullopt;
    if (dot == std::string::npos) return *f;
    auto doc = json::document::parse(f->json);
    if (!doc) return std::nullopt;
    const std::string sub = key.substr(dot + 1);
    if (auto n = doc->get_raw(sub)) {
        field r;
        r.json = *n;
        if (auto s = doc->get_string(sub)) {
            r.text = *s;
        } else {
            r.number = std::strtod(n->c_str(), nullptr);
            r.is_number = true;
        }
        return r;
    }
    return std::nullopt;
}

bool key_less(const std::optional<field>& a, const std::optional<field>& b) {
    if (!a || !b) return !a && b;
    if (a->is_number && b->is_number) return a->number < b->number;
    return a->text < b->text;
}

}  // namespace

std::optional<std::string> render_list(item_list items, const list_query& q, std::string& out) {
    const std::size_t total = items.size();
    if (!q.name.empty()) {
        std::optional<std::regex> re;
        if (q.use_regex) {
            try {
                re.emplace(q.name, std::regex::ECMAScript | std::regex::icase);
            } catch (const std::regex_error&) {
                return "invalid regular expression";
            }
        }
        const std::string needle = to_lower(q.name);
        std::erase_if(items, [&](const item& it) {
            const field* f = it.find("name");
            if (!f) return true;
            if (re) return !std::regex_search(f->text, *re);
            return to_lower(f->text).find(needle) == std::string::npos;
        });
    }
    if (!q.sort.empty()) {
        std::vector<std::pair<std::optional<field>, std::size_t>> keys;
        keys.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i)
            keys.emplace_back(sort_key(items[i], q.sort), i);
        std::stable_sort(keys.begin(), keys.end(),
                         [](const auto& a, const auto& b) { return key_less(a.first, b.first); });
        if (q.sort_reverse) std::reverse(keys.begin(), keys.end());
        item_list sorted;
        sorted.reserve(items.size());
        for (auto& k : keys) sorted.push_back(std::move(items[k.second]));
        items = std::move(sorted);
    }
    const std::size_t filtered = items.size();
    std::size_t first = 0, last = items.size();
    std::uint64_t page_count = 0;
    if (q.page) {
        page_count = (filtered + q.page_size - 1) / q.page_size;
        if (*q.page > std::max<std::uint64_t>(page_count, 1)) return "Page out of range";
        first = static_cast<std::size_t>((*q.page - 1) * q.page_size);
        last = std::min(filtered, static_cast<std::size_t>(first + q.page_size));
    }
    std::string arr = "[";
    for (std::size_t i = first; i < last; ++i) {
        if (i != first) arr.push_back(',');
        arr += items[i].render(q.columns);
    }
    arr.push_back(']');
    if (!q.page) {
        out = std::move(arr);
        return std::nullopt;
    }
    json::writer w(out);
    w.begin_object()
        .member("filtered_count", std::uint64_t{filtered})
        .member("item_count", std::uint64_t{last - first})
        .key("items")
        .raw(arr)
        .member("page", *q.page)
        .member("page_count", page_count)
        .member("page_size", q.page_size)
        .member("total_count", std::uint64_t{total})
        .end_object();
    return std::nullopt;
}

void counter_with_rate(item& it, std::string_view name, std::uint64_t value, double rate) {
    it.num(name, value);
    std::string d;
    json::writer(d).begin_object().member("rate", rate).end_object();
    it.raw(std::string(name) + "_details", std::move(d));
}

void counter_with_rate(json::writer& w, std::string_view name, std::uint64_t value, double rate) {
    w.member(name, value);
    w.key(std::string(name) + "_details").begin_object().member("rate", rate).end_object();
}

const std::string& node_name() {
    static const std::string name = [] {
        char host[256] = {};
        if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
        return "switchyard@" + std::string(host[0] ? host : "localhost");
    }();
    return name;
}

reply error_reply(int status, std::string_view error, std::string_view reason) {
    reply r;
    r.status = status;
    json::writer(r.body)
        .begin_object()
        .member("error", error)
        .member("reason", reason)
        .end_object();
    return r;
}

// ---- routing -----------------------------------------------------------------------------------

namespace {

// The management listener's HTTP context on one loop (a slot of that loop; its http_context is
// made on the loop's start and freed on its stop, on the loop's thread).
struct loop_context {
    std::unique_ptr<session::http_context> http;
};

struct state {
    runtime* rt = nullptr;
    std::vector<session::amqp_user> users;
    http::router router;  // the management listener's own
    session::http_options http_opts;
    std::unique_ptr<rate_sampler> sampler;
    std::uint64_t interval_ms = 1000;
};

// The raw path after "/api/" split at '/', each segment percent-decoded ("%2F" is vhost "/").
std::optional<std::vector<std::string>> api_segments(std::string_view raw) {
    constexpr std::string_view prefix = "/api/";
    if (!raw.starts_with(prefix)) return std::nullopt;
    raw.remove_prefix(prefix.size());
    std::vector<std::string> seg;
    while (!raw.empty()) {
        auto slash = raw.find('/');
        std::string s;
        if (!http::percent_decode(raw.substr(0, slash), s, http::decode_mode::path)) {
            return std::nullopt;
        }
        seg.push_back(std::move(s));
        if (slash == std::string_view::npos) break;
        raw.remove_prefix(slash + 1);
        if (raw.empty()) seg.emplace_back();  // trailing slash
    }
    if (!seg.empty() && seg.back().empty()) seg.pop_back();
    return seg;
}

// HTTP Basic (RFC 7617) against the AMQP users; the peer's address decides the guest rule.
const session::amqp_user* authenticate(const state& st, const http::request& req) {
    auto h = req.header("authorization");
    if (!h || !istarts_with(*h, "basic ")) return nullptr;
    std::string cred;
    if (!base64_decode(trim_ows(h->substr(6)), cred)) return nullptr;
    auto colon = cred.find(':');
    if (colon == std::string::npos) return nullptr;
    auto peer = net::address::parse(req.remote_address());
    const bool loopback = peer && peer->is_loopback();
    return session::authenticate_user(st.users, cred.substr(0, colon), cred.substr(colon + 1),
                                      loopback);
}

void send_reply(http::response& res, const reply& r) {
    if (res.finished() || res.closed()) return;
    res.set_header("Cache-Control", "no-cache");
    if (!r.location.empty()) res.set_header("Location", r.location);
    if (!r.allow.empty()) res.set_header("Allow", r.allow);
    if (r.status == 204 || r.body.empty()) return res.send(r.status);
    res.send_json(r.status, r.body);
}

// Answers on the request's loop whatever thread produced the reply.
reply_fn answer_on(loop_state* origin, http::response res) {
    return [origin, res](reply r) mutable {
        // Moved, never copied here: a copy of a response handle counts on the sink, which only
        // its own loop may touch.
        origin->loop->post(
            [res = std::move(res), r = std::move(r)]() mutable { send_reply(res, r); });
    };
}

void send_list(http::response res, item_list items, const list_query& q) {
    std::string out;
    if (auto err = render_list(std::move(items), q, out)) {
        return send_reply(res, error_reply(400, "bad_request", *err));
    }
    send_reply(res, reply{200, std::move(out), {}});
}

// Resources the loops own (not the broker): gathered by a post to each loop.
/// The answer of GET /api/{connections|topics}/{name}: the listed item of that name, or 404.
std::function<void(item_list)> send_named(http::response res, std::string name) {
    return [res, name = std::move(name)](item_list l) mutable {
        for (auto& it : l) {
            const field* f = it.find("name");
            if (f && f->text == name) return send_reply(res, reply{200, it.render(), {}});
        }
        send_reply(res, not_found());
    };
}

bool serve_runtime(state& st, const call& c, http::response& res) {
    runtime& rt = *st.rt;
    const auto& s = c.seg;
    if (c.method != http::method::get && !(s.size() == 2 && s[0] == "connections")) return false;
    auto q = c.query;
    if (s.size() == 1 && s[0] == "connections") {
        gather_connections(
            rt, [res, q](item_list l) mutable { send_list(std::move(res), std::move(l), q); });
    } else if (s.size() == 2 && s[0] == "connections" && c.method == http::method::get) {
        gather_connections(rt, send_named(res, s[1]));
    } else if (s.size() == 2 && s[0] == "connections" && c.method == http::method::del) {
        std::string why = c.reason.empty() ? "Closed via management plugin" : c.reason;
        close_connection(rt, s[1], why, [res](bool found) mutable {
            send_reply(res, found ? reply{204, {}, {}} : not_found());
        });
    } else if (s.size() == 1 && s[0] == "topics") {
        gather_topics(
            rt, [res, q](item_list l) mutable { send_list(std::move(res), std::move(l), q); });
    } else if (s.size() == 2 && s[0] == "topics") {
        gather_topic(rt, s[1], send_named(res, s[1]));
    } else if (s.size() == 1 && s[0] == "listeners") {
        send_list(res, listener_items(rt), q);
    } else if (s.size() == 1 && s[0] == "loops") {
        gather_loops(rt,
                     [res, q](item_list l) mutable { send_list(std::move(res), std::move(l), q); });
    } else if (s.size() == 1 && s[0] == "nodes") {
        send_list(res, item_list{node_item(rt)}, q);
    } else if (s.size() == 2 && s[0] == "nodes") {
        item n = node_item(rt);
        send_reply(res, s[1] == node_name() ? reply{200, n.render(), {}} : not_found());
    } else if (s.size() == 1 && s[0] == "whoami") {
        std::string out;
        json::writer w(out);
        w.begin_object().member("name", c.user).key("tags").begin_array();
        for (const auto& u : st.users) {
            if (u.name != c.user) continue;
            for (const auto& t : u.tags) w.value(t);
        }
        w.end_array().end_object();
        send_reply(res, reply{200, std::move(out), {}});
    } else {
        return false;
    }
    return true;
}

/// With [auth] on, a token (Bearer header, ?token=, the cookie) instead of Basic: its admin
/// claim (or rabbitmq.tag:administrator) is the management role. nullopt: no token offered;
/// otherwise the subject, or "" with the 401/403 answered.
std::optional<std::string> authorize_token(http::request& req, http::response& res,
                                           const auth_config& ac) {
    const auth::policy& pol = current_policy();
    if (!pol.enabled()) return std::nullopt;
    if (auto h = req.header("authorization"); h && istarts_with(*h, "basic ")) return std::nullopt;
    const std::string token = request_token(req, ac);
    if (token.empty()) return std::nullopt;
    auto r = pol.authenticate(token, auth::unix_now_s());
    if (!r) {
        send_unauthorized(res, auth::to_string(r.error()));
        return std::string();
    }
    if (!(*r)->admin()) {
        send_reply(res, error_reply(403, "not_authorised", "Not management user"));
        return std::string();
    }
    std::string who = (*r)->subject().empty() ? std::string("token") : (*r)->subject();
    req.set_principal(std::move(*r));
    return who;
}

/// The authenticated user, or nullopt with the 401 already answered (the API's and the
/// dashboard's actions' one check): an admin token ([auth]) or HTTP Basic with an AMQP user.
/// A user without a management tag (administrator, monitoring, policymaker, management) is
/// refused as RabbitMQ refuses it: 401 "Not management user".
std::optional<std::string> authorize(const state& st, http::request& req, http::response& res) {
    if (auto t = authorize_token(req, res, st.rt->config().auth)) {
        if (t->empty()) return std::nullopt;
        return t;
    }
    const session::amqp_user* user = authenticate(st, req);
    if (!user || !user->may_manage()) {
        res.set_header("WWW-Authenticate", "Basic realm=\"RabbitMQ Management\"");
        send_reply(
            res, error_reply(401, "not_authorised", user ? "Not management user" : "Login failed"));
        return std::nullopt;
    }
    if (current_policy().enabled()) {
        // A management user may publish and read every topic (the dashboard's actions).
        auth::principal::grants all{{">"}, {">"}, true};
        req.set_principal(auth::principal::make(user->name, 0, all));
    }
    return user->name;
}

void serve_api(state& st, http::request& req, http::response& res) {
    auto user = authorize(st, req, res);
    if (!user) return;
    auto seg = api_segments(req.raw_path());
    if (!seg) return send_reply(res, error_reply(400, "bad_request", "malformed path"));
    call c;
    c.method = req.method();
    c.seg = std::move(*seg);
    c.user = std::move(*user);
    if (auto err = parse_list_query(req, c.query)) {
        return send_reply(res, error_reply(400, "bad_request", *err));
    }
    c.if_unused = truthy(req.query("if-unused"));
    c.if_empty = truthy(req.query("if-empty"));
    if (auto r = req.header("x-reason")) c.reason = std::string(*r);
    c.body = std::string(req.body());
    if (c.seg.empty()) return send_reply(res, not_found());
    if (serve_runtime(st, c, res)) return;
    // Everything else belongs to the broker: answered on loop 0.
    loop_state* origin = current_loop_state();
    runtime* rt = st.rt;
    rt->loop_at(0).loop->post([rt, c = std::move(c), done = answer_on(origin, res)]() mutable {
        reply r;
        if (!serve_amqp(*rt, rt->loop_at(0), c, r)) r = not_found();
        done(std::move(r));
    });
}

// One file of the static dir: `rel`, or with a trailing '/' the route's *path below it.
http::handler static_file(const std::string& dir, std::string rel) {
    auto root = std::make_shared<http::static_root>(dir, http::static_options{});
    return [root, rel = std::move(rel)](http::request& req, http::response& res) {
        const std::string path = rel.ends_with('/') ? rel + std::string(req.param("path")) : rel;
        auto f = root->resolve(path, false);
        if (!f) return res.send(http::status_for(f.error()));
        http::serve_file(req, res, std::move(*f), root->options());
    };
}

void add_api(http::router& r, const std::shared_ptr<state>& st) {
    r.any("/api/*rest",
          [st](http::request& req, http::response& res) { serve_api(*st, req, res); });
}

/// The dashboard on the management listener: the page and its assets from the static dir, the
/// server's own sys.* topics as SSE (what the page subscribes to; other topics are the main
/// port's), and its two actions behind the API's Basic auth: publish to a topic and, with
/// debug_stall, stall accepting.
void add_dashboard(app& app, http::router& r, const std::shared_ptr<state>& st) {
    const server_config& cfg = app.config();
    if (!cfg.static_dir.empty()) {
        r.get("/admin", admin_page(cfg.static_dir));
        r.get("/js/*path", static_file(cfg.static_dir, "js/"));
        r.get("/style.css", static_file(cfg.static_dir, "style.css"));
        r.get("/admin.css", static_file(cfg.static_dir, "admin.css"));
    }
    if (!cfg.client_dir.empty())
        r.get(k_client_prefix + std::string("*path"), client_files(cfg.client_dir));
    r.get("/sub/:topic", [&app, st](http::request& req, http::response& res) {
        const std::string topic(req.param("topic"));
        if (!topic.starts_with(k_system_prefix) || !hub::validate_pattern(topic)) {
            res.send(404, fmt::format("the management listener serves the server's own "
                                      "{}* topics only; subscribe on the main port\n",
                                      k_system_prefix));
            return;
        }
        // With [auth] on the dashboard's stream is the management role's, as the API is.
        if (current_policy().enabled() && !authorize(*st, req, res)) return;
        serve_sse_pattern(app.config(), req, res, topic, true, false, true);
    });
    r.post("/pub/:topic", [st](http::request& req, http::response& res) {
        loop_state* ls = current_loop_state();
        if (!authorize(*st, req, res)) return;
        if (!ls || !ls->shard) {
            res.send(503, "no hub on this thread\n");
            return;
        }
        publish_body(req, res, *ls, req.param("topic"));
    });
    if (cfg.debug_stall) {
        auto stall = stall_handler(app);
        r.post("/debug/stall", [st, stall](http::request& req, http::response& res) {
            if (authorize(*st, req, res)) stall(req, res);
        });
    }
}

void install_listener(runtime& rt, const std::shared_ptr<state>& st) {
    const server_config& cfg = rt.config();
    st->http_opts.limits.max_request_line = static_cast<std::uint32_t>(cfg.limits.max_request_line);
    st->http_opts.limits.max_head_bytes = static_cast<std::uint32_t>(cfg.limits.max_header_bytes);
    st->http_opts.limits.max_headers = static_cast<std::uint32_t>(cfg.limits.max_headers);
    st->http_opts.limits.max_body_bytes = cfg.limits.max_body;
    st->http_opts.header_timeout = millis(cfg.limits.header_timeout_ms);
    st->http_opts.body_timeout = millis(cfg.limits.body_timeout_ms);
    st->http_opts.idle_timeout = millis(cfg.limits.idle_timeout_ms);
    st->http_opts.access_log = cfg.access_log;
    rt.add_listener("http", cfg.management.listen, [st](loop_state& ls, net::accepted_socket&& s) {
        // Made on the first accept of each loop (on its thread): a start hook is a posted task,
        // which the loop may run after its first accepts.
        auto& ctx = ls.loop->emplace_slot<loop_context>();
        if (!ctx.http)
            ctx.http = std::make_unique<session::http_context>(*ls.loop, st->http_opts, st->router);
        auto handler = std::make_unique<session::http1_session>(*ctx.http, s.peer.to_string());
        net::connection::create(*ls.loop, net::tcp_stream(std::move(s.fd)), std::move(handler),
                                ls.conn_opts, std::move(s.slot), &ls.conns);
    });
}

}  // namespace

}  // namespace sy::server::mgmt

namespace sy::server {

void install_management(app& app) {
    using namespace mgmt;
    auto st = std::make_shared<state>();
    const server_config& cfg = app.config();
    add_api(st->router, st);
    add_dashboard(app, st->router, st);
    // On the main port the builtin routes already serve /admin, its assets and the hub.
    if (cfg.management.on_main_port) add_api(app.router(), st);
    app.on_runtime([st](runtime& rt) {
        const management_config& mc = rt.config().management;
        st->rt = &rt;
        st->users = amqp_users_of(rt.config().amqp);
        st->interval_ms = std::max(mc.stats_interval_ms, system_topics::k_min_interval_ms);
        st->sampler = std::make_unique<rate_sampler>();
        const bool listen = !mc.listen.empty();
        if (!listen && !mc.on_main_port) return;  // not served: no sampling either
        if (listen) install_listener(rt, st);
        rt.on_loop_start([st](loop_state& ls) {
            if (ls.index == 0) {
                ls.loop->set_slot(st->sampler.get());
                start_sampler(ls, st->interval_ms);
            }
        });
        rt.on_loop_stop([st](loop_state& ls) {
            if (ls.index == 0) stop_sampler(ls);
            if (auto* ctx = ls.loop->slot<loop_context>()) ctx->http.reset();
        });
    });
}

}  // namespace sy::server
