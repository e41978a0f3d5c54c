// [auth] in the server (server/auth.hpp, docs/auth.md).
#include "switchyard/server/auth.hpp"

#include "jwks.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "switchyard/base/log.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/hub/sublist.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/server/app.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

namespace {

std::string read_or_throw(const std::string& path, const char* setting) {
    auto r = auth::read_file(path);
    if (!r) throw config_error(fmt::format("auth.{}: {}", setting, r.error()));
    return std::move(*r);
}

void add_pem_files(auth::key_set& ks, const std::vector<std::string>& files) {
    for (const auto& entry : files) {
        // "KID=PATH" names the key (a token's kid must name a key of the set).
        const auto eq = entry.find('=');
        std::string kid = eq == std::string::npos ? std::string() : entry.substr(0, eq);
        std::string path = eq == std::string::npos ? entry : entry.substr(eq + 1);
        auto added = ks.add_pem(read_or_throw(path, "jwt_public_key_files"), std::move(kid));
        if (!added)
            throw config_error(
                fmt::format("auth.jwt_public_key_files: {}: {}", path, added.error()));
    }
}

// A cookie's value from a Cookie header (RFC 6265 4.2.1: "a=b; c=d").
std::string_view cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const std::size_t semi = header.find(';');
        std::string_view pair = trim_ows(header.substr(0, semi));
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name)
            return trim_ows(pair.substr(eq + 1));
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
    return {};
}

// auth.token_cache_size: tokens this loop verified, so a client sending the same Bearer on every
// request is verified once. A loop slot (no lock), keyed by the token's bytes (hashed; the whole
// token is compared, so a collision cannot borrow another identity). An entry is used while
// now < exp (tokens without exp: kept k_tokenless_ttl_s); only successes are kept. The cache
// belongs to one policy: a new one (a JWKS refresh) empties it, so a removed key's tokens are
// verified again. Full: emptied at once (bounded memory: size x auth.max_token_bytes).
struct token_cache {
    static constexpr std::int64_t k_tokenless_ttl_s = 60;
    struct entry {
        auth::principal_ptr who;
        std::int64_t until_s = 0;
    };
    std::shared_ptr<const auth::policy> owner;  // held: its address cannot be reused meanwhile
    std::unordered_map<std::string, entry, hub::string_hash, std::equal_to<>> map;
};

auth::principal_ptr cached_principal(token_cache& c, std::string_view token, std::int64_t now) {
    auto it = c.map.find(token);
    if (it == c.map.end()) return nullptr;
    if (now < it->second.until_s) return it->second.who;
    c.map.erase(it);
    return nullptr;
}

void identify(http::request& req, const auth_config& cfg) {
    const std::string token = request_token(req, cfg);
    if (token.empty()) return;
    const std::int64_t now = auth::unix_now_s();
    loop_state* ls = current_loop_state();
    token_cache* cache = nullptr;
    if (cfg.token_cache_size > 0 && ls && ls->auth) {
        cache = &ls->loop->emplace_slot<token_cache>();
        if (cache->owner != ls->auth) {
            cache->map.clear();
            cache->owner = ls->auth;
        }
        if (auto p = cached_principal(*cache, token, now)) {
            req.set_principal(std::move(p));
            return;
        }
    }
    auto r = current_policy().authenticate(token, now);
    if (!r) {
        req.set_token_refused(auth::to_string(r.error()));
        return;
    }
    if (cache) {
        if (cache->map.size() >= cfg.token_cache_size) cache->map.clear();
        const std::int64_t exp = (*r)->exp();
        cache->map.emplace(
            token, token_cache::entry{*r, exp != 0 ? exp : now + token_cache::k_tokenless_ttl_s});
    }
    req.set_principal(std::move(*r));
}

// /metrics and /debug/* with [auth] on (auth.metrics_access): open; open on loopback and an
// admin token elsewhere; or an admin token everywhere. True when answered (refused).
bool guard_operator_paths(const auth_config& cfg, const http::request& req, http::response& res) {
    const std::string_view path = req.path();
    if (path != "/metrics" && !path.starts_with("/metrics/") && !path.starts_with("/debug/"))
        return false;
    if (cfg.metrics_access == "open") return false;
    if (cfg.metrics_access == "loopback") {
        auto peer = net::address::parse(req.remote_address());
        if (peer && peer->is_loopback()) return false;
    }
    const auth::principal* p = req.principal().get();
    if (p && p->admin()) return false;
    if (p) {
        res.send(403, "an admin token is required here\n");
    } else {
        send_unauthorized(res, req.token_refused());
    }
    return true;
}

const auth::policy& disabled_policy() {
    static const auth::policy off;
    return off;
}

}  // namespace

std::shared_ptr<const auth::policy> make_auth_policy(const auth_config& c) {
    return make_auth_policy(c, {}, {});
}

std::shared_ptr<const auth::policy> make_auth_policy(const auth_config& c,
                                                     std::string_view fetched_jwks,
                                                     std::function<void()> on_unknown_kid) {
    if (!auth_enabled(c)) return std::make_shared<const auth::policy>();
    auto ks = std::make_shared<auth::key_set>();
    if (!c.jwt_hmac_secret_file.empty()) {
        std::string secret = read_or_throw(c.jwt_hmac_secret_file, "jwt_hmac_secret_file");
        // A secret file written by `echo` ends with one newline that is not part of the secret.
        if (!secret.empty() && secret.back() == '\n') secret.pop_back();
        if (!secret.empty() && secret.back() == '\r') secret.pop_back();
        if (auto r = ks->add_hmac_secret(secret); !r)
            throw config_error(fmt::format("auth.jwt_hmac_secret_file: {}", r.error()));
    }
    add_pem_files(*ks, c.jwt_public_key_files);
    if (!c.jwks_file.empty()) {
        if (auto r = ks->add_jwks(read_or_throw(c.jwks_file, "jwks_file")); !r)
            throw config_error(fmt::format("auth.jwks_file: {}: {}", c.jwks_file, r.error()));
    }
    if (!fetched_jwks.empty()) {
        if (auto r = ks->add_jwks(fetched_jwks); !r)
            throw config_error(fmt::format("auth.jwks_url: {}: {}", c.jwks_url, r.error()));
    }
    for (const auto* list : {&c.anonymous_subscribe, &c.anonymous_publish}) {
        for (const auto& p : *list) {
            if (!hub::validate_pattern(p))
                throw config_error(fmt::format("auth.anonymous_*: '{}' is not a topic pattern", p));
        }
    }
    auth::verify_settings vs;
    vs.audience = c.audience;
    vs.issuer = c.issuer;
    vs.leeway_s = static_cast<std::int64_t>(c.leeway_s);
    vs.max_token_bytes = c.max_token_bytes;
    std::shared_ptr<const auth::verifier> v;
    if (ks->size() > 0) v = std::make_shared<const auth::verifier>(std::move(ks), vs);
    auth::policy_settings ps;
    ps.enabled = true;
    ps.anonymous.subscribe = c.anonymous_subscribe;
    ps.anonymous.publish = c.anonymous_publish;
    ps.on_unknown_kid = std::move(on_unknown_kid);
    return std::make_shared<const auth::policy>(std::move(v), ps);
}

std::string request_token(const http::request& req, const auth_config& c) {
    if (auto h = req.header("authorization"); h && istarts_with(*h, "bearer "))
        return std::string(trim_ows(h->substr(7)));
    if (!c.token_query_param.empty()) {
        if (auto q = req.query(c.token_query_param); q && !q->empty()) return std::move(*q);
    }
    if (!c.token_cookie.empty()) {
        if (auto h = req.header("cookie")) return std::string(cookie_value(*h, c.token_cookie));
    }
    return {};
}

const auth::policy& current_policy() {
    const loop_state* ls = current_loop_state();
    return ls && ls->auth ? *ls->auth : disabled_policy();
}

void install_auth(app& a) {
    // On the runtime: the config is final there, and the router is still being assembled.
    a.on_runtime([&a](runtime& rt) {
        const auth_config& cfg = rt.config().auth;
        if (!auth_enabled(cfg)) return;
        install_jwks_refresh(rt);  // auth.jwks_url: the first key set, then the refreshes
        a.router().add_filter(http::router::filter_order::identity,
                              [&cfg](http::request& req, http::response& res) {
                                  identify(req, cfg);
                                  // The gate answers hub routes; this one the operator's.
                                  return guard_operator_paths(cfg, req, res);
                              });
    });
}

int authorize_status(const auth::principal* p, bool token_refused, auth::action a,
                     std::string_view topic) {
    const auth::policy& pol = current_policy();
    if (!pol.enabled()) return 0;
    if (token_refused) return 401;  // a bad token is refused even where anonymous may go
    if (pol.allowed(p, a, topic)) return 0;
    return p ? 403 : 401;
}

int authorize_status(const http::request& req, auth::action a, std::string_view topic) {
    return authorize_status(req.principal().get(), !req.token_refused().empty(), a, topic);
}

void send_unauthorized(http::response& res, std::string_view why) {
    // RFC 6750 3: the challenge; the issue asks for error="invalid_token" for a missing token too.
    res.set_header("WWW-Authenticate",
                   fmt::format("Bearer error=\"invalid_token\", error_description=\"{}\"",
                               why.empty() ? std::string_view("token required") : why));
    res.send(401, fmt::format("{}\n", why.empty() ? "token required" : why));
}

bool authorize(const http::request& req, http::response& res, auth::action a,
               std::string_view topic) {
    const int status = authorize_status(req, a, topic);
    if (status == 0) return true;
    if (status == 401) {
        send_unauthorized(res, req.token_refused());
    } else {
        res.send(403, fmt::format("not permitted to {} {}\n", auth::to_string(a), topic));
    }
    return false;
}

}  // namespace sy::server
