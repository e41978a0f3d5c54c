// start_push: the one entry from an HTTP request to the push core (server/gateway_internal.hpp).
#include <memory>
#include <variant>

#include "gateway_internal.hpp"
#include "switchyard/proto/ws/handshake.hpp"
#include "switchyard/session/push_stream.hpp"

namespace sy::server {

namespace {

std::string_view hdr(const http::request& req, std::string_view name) {
    return req.header(name).value_or(std::string_view{});
}

/// The handshake fields of req (RFC 6455 4.2.1; RFC 8441 5 over HTTP/2, where h2_session
/// presents the extended CONNECT as GET + "upgrade: websocket" and there is no key).
ws::handshake_request handshake_of(const http::request& req, bool h2) {
    ws::handshake_request hr;
    hr.method = req.method_name();
    hr.http_version = !h2 && req.version() == http::http_version::http1_0 ? "HTTP/1.0" : "HTTP/1.1";
    hr.host = hdr(req, "host");
    hr.upgrade = hdr(req, "upgrade");
    hr.connection = hdr(req, "connection");
    hr.key = hdr(req, "sec-websocket-key");
    hr.version = hdr(req, "sec-websocket-version");
    hr.protocol = hdr(req, "sec-websocket-protocol");
    hr.extensions = hdr(req, "sec-websocket-extensions");
    hr.origin = hdr(req, "origin");
    hr.extended_connect = h2;
    return hr;
}

/// Answers the handshake and runs the session over the tunnel the upgrade gives: the connection
/// (HTTP/1.1 101) or the stream (HTTP/2 extended CONNECT, 200). Replies 400/403/426 (proto/ws
/// table) itself when the handshake is refused.
std::weak_ptr<session::push_events> push_websocket(http::request& req, http::response& res,
                                                   loop_state* ls, ws_push p) {
    const bool h2 = res.upgrade_kind() == http::upgrade_support::extended_connect;
    ws::handshake_config hc;
    hc.allowed_origins = p.origins;
    hc.deflate.enabled = p.deflate;
    auto r = ws::accept_handshake(handshake_of(req, h2), hc);
    if (!r) {
        if (r.error() == ws::handshake_error::unsupported_version) {
            res.set_header("Sec-WebSocket-Version", "13");
        }
        res.send(ws::status_for(r.error()), std::string(ws::to_string(r.error())) + "\n");
        return {};
    }
    if (res.upgrade_kind() == http::upgrade_support::none || !ls || (p.sub && !ls->shard)) {
        res.send(400, "WebSocket needs HTTP/1.1 or HTTP/2 extended CONNECT here\n");
        return {};
    }
    const auto& hs = r.value();
    const std::string ext = hs.deflate ? hs.deflate->to_header() : std::string();
    if (!hs.protocol.empty()) res.set_header("Sec-WebSocket-Protocol", hs.protocol);
    if (!ext.empty()) res.set_header("Sec-WebSocket-Extensions", ext);
    p.options.deflate = hs.deflate;
    if (!p.options.counters) p.options.counters = push_counters_of(*ls);
    std::shared_ptr<http::byte_tunnel> tunnel;
    if (h2) {
        tunnel = res.upgrade(200);  // 2xx: the stream is now the WebSocket (RFC 8441 5)
    } else {
        res.set_header("Sec-WebSocket-Accept", hs.accept);
        tunnel = res.upgrade(101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
    }
    if (!tunnel) return {};
    auto s = p.sub ? std::make_shared<session::ws_session>(std::move(p.options), *ls->shard,
                                                           std::move(*p.sub))
                   : std::make_shared<session::ws_session>(std::move(p.options));
    std::weak_ptr<session::push_events> w = s;
    session::ws_session::run(std::move(s), session::tunnel_target(tunnel, *ls->loop));
    return w;
}

std::weak_ptr<session::push_events> push_sse(http::response& res, loop_state* ls,
                                             session::sse_subscription sub) {
    if (!ls || !ls->shard) {
        res.send(503, "no hub on this thread\n");
        return {};
    }
    if (!sub.counters) sub.counters = push_counters_of(*ls);
    std::unique_ptr<session::push_target> target;
    if (res.upgrade_kind() == http::upgrade_support::connection_takeover) {
        // HTTP/1.1: the head goes out through the upgrade path so the stream owns the
        // connection; the body is delimited by the connection's close (RFC 9112 6.3 rule 8).
        auto tunnel = res.upgrade(200, {{"Content-Type", "text/event-stream"},
                                        {"Cache-Control", "no-cache"},
                                        {"X-Accel-Buffering", "no"},
                                        {"Connection", "close"}});
        if (!tunnel) return {};
        target = session::tunnel_target(std::move(tunnel), *ls->loop);
    } else {
        // HTTP/2 (and any response that cannot hand over its transport): a streamed body.
        if (!res.begin(200, {{"Content-Type", "text/event-stream"},
                             {"Cache-Control", "no-cache"},
                             {"X-Accel-Buffering", "no"}})) {
            if (!res.headers_sent() && !res.closed()) res.send(500, "cannot stream\n");
            return {};
        }
        target = session::response_target(res, *ls->loop);
    }
    std::weak_ptr<session::push_events> w;
    session::start_sse(*ls->shard, std::move(target), std::move(sub), &w);
    return w;
}

}  // namespace

ws_push ws_push_of(const server_config& cfg, const std::vector<std::string>& origins,
                   std::optional<session::ws_subscription> sub) {
    ws_push p;
    p.options.max_message = cfg.ws.max_message;
    p.options.ping_interval = millis(cfg.ws.ping_interval_ms);
    p.options.idle_timeout = millis(cfg.ws.idle_timeout_ms);
    p.deflate = cfg.ws.deflate;
    p.origins = origins.empty() ? cfg.ws.origins : origins;
    p.sub = std::move(sub);
    return p;
}

std::weak_ptr<session::push_events> start_push(http::request& req, http::response& res,
                                               push_request sub) {
    loop_state* ls = current_loop_state();
    // The request's principal rides on the subscription: the stream ends at its exp, and a
    // WebSocket checks its publishes (and a refresh) against it.
    const auth::policy* pol = ls && ls->auth && ls->auth->enabled() ? ls->auth.get() : nullptr;
    const auto& who = req.principal();
    const std::int64_t deadline = pol && who ? pol->deadline_of(*who) : 0;
    if (auto* ws = std::get_if<ws_push>(&sub)) {
        if (ws->sub && pol) {
            ws->sub->principal = who;
            ws->sub->policy = ls->auth;
        }
        return push_websocket(req, res, ls, std::move(*ws));
    }
    auto& sse = std::get<session::sse_subscription>(sub);
    sse.expires_at_s = deadline;
    return push_sse(res, ls, std::move(sse));
}

}  // namespace sy::server
