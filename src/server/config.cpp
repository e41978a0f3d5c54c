#include "switchyard/server/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

#include "config_routes.hpp"
#include "switchyard/version.hpp"

namespace sy::server {

namespace {

using u64_ref = std::uint64_t& (*)(server_config&);
using bool_ref = bool& (*)(server_config&);
using str_ref = std::string& (*)(server_config&);
using strs_ref = std::vector<std::string>& (*)(server_config&);
using model_ref = execution_model& (*)(server_config&);

struct option_desc {
    const char* key;   // TOML key, "section.name" or "name"
    const char* flag;  // command-line flag; nullptr: derived from the key
    const char* help;
    std::variant<u64_ref, bool_ref, str_ref, strs_ref, model_ref> ref;
    const char* choices = nullptr;  // a string option's allowed values, "a|b|c" (checked on set)
};

// The single list of settings: each is a TOML key and a flag.
#define SY_REF(expr)                 \
    [](server_config & c) -> auto& { \
        return c.expr;               \
    }
const option_desc k_options[] = {
    {"listen", "--listen", "HOST:PORT to serve HTTP on (repeatable; port 0 picks one)",
     SY_REF(listen)},
    {"static_dir", "--static", "directory served at / (empty: the bundled www/)",
     SY_REF(static_dir)},
    {"client_dir", "--client-dir",
     "directory served at /lib/switchyard-client/ (empty: the bundled @switchyard/client)",
     SY_REF(client_dir)},
    {"model", "--model", "execution model: single | acceptor | reuseport | prefork", SY_REF(model)},
    {"io", "--io",
     "the loops' poller: epoll | io_uring | auto (io_uring, else epoll with one log line)",
     SY_REF(io), "epoll|io_uring|auto"},
    {"workers", "--workers", "event loops (threads, or processes with prefork); 0 = cores",
     SY_REF(workers)},
    {"pin", "--pin", "pin each loop to a core", SY_REF(pin)},
    {"backlog", "--backlog", "listen(2) backlog: the accept queue limit", SY_REF(backlog)},
    {"reuseport", nullptr, "set SO_REUSEPORT on listeners even where the model does not need it",
     SY_REF(reuseport)},
    {"defer_accept", nullptr, "TCP_DEFER_ACCEPT: wake only when the first bytes arrive",
     SY_REF(defer_accept)},
    {"log_level", nullptr, "debug | info | warn | error | off", SY_REF(log_level),
     "debug|info|warn|error|off"},
    {"access_log", nullptr, "log one line per request", SY_REF(access_log)},
    {"debug_stall", nullptr, "enable POST /debug/stall?ms=N (pauses accepting; for tests)",
     SY_REF(debug_stall)},
    {"limits.max_connections", nullptr, "open connections per process; beyond: 503 and close",
     SY_REF(limits.max_connections)},
    {"limits.max_request_line", nullptr, "request line bytes; beyond: 414",
     SY_REF(limits.max_request_line)},
    {"limits.max_header_bytes", nullptr, "request head bytes; beyond: 431",
     SY_REF(limits.max_header_bytes)},
    {"limits.max_headers", nullptr, "header fields per request; beyond: 431",
     SY_REF(limits.max_headers)},
    {"limits.max_body", nullptr, "request body bytes; beyond: 413", SY_REF(limits.max_body)},
    {"limits.idle_timeout_ms", nullptr, "close a keep-alive connection idle this long",
     SY_REF(limits.idle_timeout_ms)},
    {"limits.header_timeout_ms", nullptr, "a request head must arrive within this (slowloris)",
     SY_REF(limits.header_timeout_ms)},
    {"limits.body_timeout_ms", nullptr, "a request body may pause this long; then 408",
     SY_REF(limits.body_timeout_ms)},
    {"limits.write_timeout_ms", nullptr, "close when the peer reads none of our output this long",
     SY_REF(limits.write_timeout_ms)},
    {"limits.output_high_water", nullptr, "per-connection output bytes above which reading pauses",
     SY_REF(limits.output_high_water)},
    {"limits.output_low_water", nullptr, "per-connection output bytes below which reading resumes",
     SY_REF(limits.output_low_water)},
    {"limits.input_buffer_max", nullptr, "per-connection read buffer cap",
     SY_REF(limits.input_buffer_max)},
    {"limits.accept_batch", nullptr, "accept(2) calls per listener wake-up",
     SY_REF(limits.accept_batch)},
    {"limits.shutdown_grace_ms", nullptr, "on SIGTERM, time allowed for in-flight requests",
     SY_REF(limits.shutdown_grace_ms)},
    {"limits.pool_threads", nullptr, "threads for blocking work", SY_REF(limits.pool_threads)},
    {"limits.pool_queue", nullptr, "queued blocking jobs before refusing",
     SY_REF(limits.pool_queue)},
    {"limits.connection_rate_per_ip", nullptr,
     "new connections per second from one IP on any listener, per loop; beyond: HTTP 429 + "
     "Retry-After, closed on TLS and AMQP (0: off)",
     SY_REF(limits.connection_rate_per_ip)},
    {"limits.publish_rate", nullptr,
     "client publishes per second per connection; beyond: HTTP 429 + Retry-After, WebSocket "
     "close 1008 (0: off)",
     SY_REF(limits.publish_rate)},
    {"ws.max_message", nullptr, "WebSocket message bytes; beyond: close 1009",
     SY_REF(ws.max_message)},
    {"ws.ping_interval_ms", nullptr, "WebSocket ping interval", SY_REF(ws.ping_interval_ms)},
    {"ws.idle_timeout_ms", nullptr, "close a WebSocket silent this long",
     SY_REF(ws.idle_timeout_ms)},
    {"ws.deflate", nullptr, "offer permessage-deflate", SY_REF(ws.deflate)},
    {"ws.origins", nullptr, "allowed Origin values (repeatable; none = any)", SY_REF(ws.origins)},
    {"ws.allow_client_publish", nullptr,
     "messages sent on /sub/{topic} sockets publish to the topic", SY_REF(ws.allow_client_publish)},
    {"hub.history_count", nullptr, "messages kept per topic for resume", SY_REF(hub.history_count)},
    {"hub.history_age_ms", nullptr, "age after which history is dropped",
     SY_REF(hub.history_age_ms)},
    {"hub.subscriber_output_cap", nullptr,
     "bytes queued per subscriber before the slow policy applies",
     SY_REF(hub.subscriber_output_cap)},
    {"hub.slow_policy", nullptr, "drop-oldest | disconnect | block-publisher",
     SY_REF(hub.slow_policy), "drop-oldest|disconnect|block-publisher"},
    {"hub.sse_heartbeat_ms", nullptr, "SSE comment heartbeat interval",
     SY_REF(hub.sse_heartbeat_ms)},
    {"hub.longpoll_timeout_ms", nullptr, "default long-poll wait before 304",
     SY_REF(hub.longpoll_timeout_ms)},
    {"hub.job_visibility_timeout_ms", nullptr, "a taken job returns to the queue after this",
     SY_REF(hub.job_visibility_timeout_ms)},
    {"hub.jobs_kept", nullptr, "finished job records kept for GET /jobs/{id} (oldest go first)",
     SY_REF(hub.jobs_kept)},
    {"hub.jobs_max_attempts", nullptr,
     "with a backplane: a job delivered this many times unsettled fails (dead-letter); 0: no limit",
     SY_REF(hub.jobs_max_attempts)},
    {"hub.jobs_queue", nullptr,
     "broker queue behind /jobs in vhost / (AMQP consumers of it are job workers)",
     SY_REF(hub.jobs_queue)},
    {"push.write_delay_us", nullptr,
     "longest a busy push subscriber's output is held to write several messages at once (0: off; "
     "a quiet loop writes at once)",
     SY_REF(push.write_delay_us)},
    {"push.max_coalesce_frames", nullptr,
     "a held push subscriber queue is written once it has this many frames",
     SY_REF(push.max_coalesce_frames)},
    {"push.max_coalesce_bytes", nullptr,
     "a held push subscriber queue is written once it has this many bytes",
     SY_REF(push.max_coalesce_bytes)},
    {"tls.listen", "--tls-listen", "HOST:PORT to serve HTTPS on (repeatable)", SY_REF(tls.listen)},
    {"tls.cert", "--tls-cert", "certificate chain (PEM)", SY_REF(tls.cert)},
    {"tls.key", "--tls-key", "private key (PEM)", SY_REF(tls.key)},
    {"tls.handshake_timeout_ms", nullptr, "TLS handshake must finish within",
     SY_REF(tls.handshake_timeout_ms)},
    {"tls.sni", "--tls-sni", "extra certificate as NAME:CERT:KEY chosen by SNI (repeatable)",
     SY_REF(tls.sni)},
    {"tls.ticket_rotation_s", nullptr, "session ticket key lifetime (decrypts for twice as long)",
     SY_REF(tls.ticket_rotation_s)},
    {"tls.http3", "--tls-http3", "also serve HTTP/3 (QUIC) on UDP at each tls.listen address",
     SY_REF(tls.http3)},
    {"tls.http3_retry", nullptr, "address validation by Retry: auto (under load) | always | never",
     SY_REF(tls.http3_retry), "auto|always|never"},
    {"tls.http3_retry_threshold", nullptr,
     "auto: Retry once this many QUIC handshakes are in progress on a loop",
     SY_REF(tls.http3_retry_threshold)},
    {"tls.http3_retry_rate", nullptr,
     "auto: also Retry once a loop saw more QUIC Initials than this in the current second",
     SY_REF(tls.http3_retry_rate)},
    {"tls.http3_max_handshakes", nullptr,
     "QUIC handshakes in progress per loop; beyond: new Initials are dropped",
     SY_REF(tls.http3_max_handshakes)},
    {"tls.http3_max_streams", nullptr, "concurrent HTTP/3 request streams per connection",
     SY_REF(tls.http3_max_streams)},
    {"tls.http3_idle_timeout_ms", nullptr, "close a QUIC connection idle this long",
     SY_REF(tls.http3_idle_timeout_ms)},
    {"amqp.listen", "--amqp-listen", "HOST:PORT to serve AMQP 0-9-1 on (repeatable)",
     SY_REF(amqp.listen)},
    {"amqp.users", nullptr,
     "AMQP users as name:password or name:rabbit_password_hashing_sha256:HASH (repeatable; none "
     "= guest, loopback)",
     SY_REF(amqp.users)},
    {"amqp.user_tags", nullptr, "AMQP user tags as name:tag,tag (administrator, management...)",
     SY_REF(amqp.user_tags)},
    {"amqp.permissions", nullptr,
     "AMQP permissions as user:vhost:configure:write:read regexes (repeatable; none: no access)",
     SY_REF(amqp.permissions)},
    {"amqp.topic_permissions", nullptr,
     "AMQP topic permissions as user:vhost:exchange:write:read regexes on routing keys",
     SY_REF(amqp.topic_permissions)},
    {"amqp.publish_rate", nullptr,
     "AMQP messages/s a connection may publish before credit flow blocks it (0: no limit)",
     SY_REF(amqp.publish_rate)},
    {"amqp.publish_burst", nullptr, "AMQP publishes above the rate at once (0: one second's worth)",
     SY_REF(amqp.publish_burst)},
    {"amqp.vhosts", nullptr, "AMQP virtual hosts (repeatable)", SY_REF(amqp.vhosts)},
    {"amqp.heartbeat_s", nullptr, "AMQP heartbeat offered in connection.tune (0: off)",
     SY_REF(amqp.heartbeat_s)},
    {"amqp.handshake_timeout_ms", nullptr,
     "AMQP protocol header to connection.open within (RabbitMQ handshake_timeout; 0: none)",
     SY_REF(amqp.handshake_timeout_ms)},
    {"amqp.frame_max", nullptr, "AMQP largest frame offered", SY_REF(amqp.frame_max)},
    {"amqp.channel_max", nullptr, "AMQP channels per connection", SY_REF(amqp.channel_max)},
    {"amqp.max_message", nullptr, "AMQP message body bytes; beyond: 406", SY_REF(amqp.max_message)},
    {"amqp.memory_limit", nullptr, "ready AMQP bytes before connection.blocked (0: off)",
     SY_REF(amqp.memory_limit)},
    {"amqp.store_dir", "--amqp-store-dir", "directory of the durable AMQP log (empty: none)",
     SY_REF(amqp.store_dir)},
    {"amqp.fsync", nullptr, "AMQP log sync: always | batch | never", SY_REF(amqp.fsync),
     "always|batch|never"},
    {"amqp.fsync_interval_ms", nullptr, "AMQP group commit wait (ms)",
     SY_REF(amqp.fsync_interval_ms)},
    {"metrics.per_object_max", nullptr, "queues listed per family on /metrics/per-object",
     SY_REF(metrics.per_object_max)},
    {"metrics.topics", "--metrics-topic",
     "hub topic (or * / > pattern) with its own sy_hub_topic_* series (repeatable)",
     SY_REF(metrics.topics)},
    {"metrics.topics_top", nullptr, "the N most published topics get their own series (max 100)",
     SY_REF(metrics.topics_top)},
    {"management.listen", "--management-listen",
     "HOST:PORT to serve the management API and /admin on (repeatable; empty: none)",
     SY_REF(management.listen)},
    {"management.on_main_port", nullptr, "also serve /api/ and /admin on the HTTP listeners",
     SY_REF(management.on_main_port)},
    {"management.stats_interval_ms", nullptr,
     "sampling interval of message rates and period of the sys.* stats topics (published only "
     "while subscribed; 0: off; min 100)",
     SY_REF(management.stats_interval_ms)},
    {"management.sys_list_max", nullptr,
     "rows of sys.topics (the most published) and sys.connections; GET /api/... lists all",
     SY_REF(management.sys_list_max)},
    {"auth.jwt_hmac_secret_file", nullptr,
     "file holding the HS256/384/512 secret (turns [auth] on)", SY_REF(auth.jwt_hmac_secret_file)},
    {"auth.jwt_public_key_files", nullptr,
     "PEM public keys or certificates, PATH or KID=PATH (repeatable; turns [auth] on)",
     SY_REF(auth.jwt_public_key_files)},
    {"auth.jwks_file", nullptr, "JWKS file of verification keys (turns [auth] on)",
     SY_REF(auth.jwks_file)},
    {"auth.jwks_url", nullptr,
     "http:// or https:// JWKS URL, fetched at start-up and refreshed (turns [auth] on)",
     SY_REF(auth.jwks_url)},
    {"auth.jwks_refresh_s", nullptr, "seconds between JWKS URL fetches",
     SY_REF(auth.jwks_refresh_s)},
    {"auth.jwks_min_refresh_s", nullptr,
     "an unknown kid fetches the JWKS URL again at most this often (seconds)",
     SY_REF(auth.jwks_min_refresh_s)},
    {"auth.jwks_timeout_ms", nullptr, "one JWKS URL fetch (connect, TLS, response) at most",
     SY_REF(auth.jwks_timeout_ms)},
    {"auth.jwks_startup_wait_s", nullptr,
     "start-up retries the first JWKS URL fetch this long, then fails",
     SY_REF(auth.jwks_startup_wait_s)},
    {"auth.jwks_ca_file", nullptr,
     "PEM CA certificates for an https jwks_url (empty: the system's)", SY_REF(auth.jwks_ca_file)},
    {"auth.jwks_max_bytes", nullptr, "a JWKS URL response larger than this is a failed fetch",
     SY_REF(auth.jwks_max_bytes)},
    {"auth.audience", nullptr, "required aud claim value (empty: not checked)",
     SY_REF(auth.audience)},
    {"auth.issuer", nullptr, "required iss claim value (empty: not checked)", SY_REF(auth.issuer)},
    {"auth.leeway_s", nullptr, "clock skew allowed on exp, nbf and iat", SY_REF(auth.leeway_s)},
    {"auth.anonymous_subscribe", nullptr,
     "topic patterns anyone may subscribe to without a token (repeatable)",
     SY_REF(auth.anonymous_subscribe)},
    {"auth.anonymous_publish", nullptr,
     "topic patterns anyone may publish to without a token (repeatable)",
     SY_REF(auth.anonymous_publish)},
    {"auth.token_query_param", nullptr, "query parameter carrying a token (EventSource, browsers)",
     SY_REF(auth.token_query_param)},
    {"auth.token_cookie", nullptr, "cookie carrying a token (empty: none)",
     SY_REF(auth.token_cookie)},
    {"auth.max_token_bytes", nullptr, "longer tokens are refused with 401",
     SY_REF(auth.max_token_bytes)},
    {"auth.token_cache_size", nullptr,
     "verified tokens each loop keeps (until exp) so a repeated Bearer is not re-verified; 0: off",
     SY_REF(auth.token_cache_size)},
    {"auth.metrics_access", nullptr,
     "with [auth] on, /metrics and /debug/*: open | loopback (open there, admin token elsewhere) "
     "| token",
     SY_REF(auth.metrics_access), "open|loopback|token"},
    {"backplane.url", nullptr,
     "Redis backplane: redis://[user:password@]host:port, rediss://...[?insecure] for TLS "
     "(repeatable: topics are sharded over them by consistent hashing; empty: none)",
     SY_REF(backplane.url)},
    {"backplane.node_id", nullptr, "this node's name (empty: host:port of the first listener)",
     SY_REF(backplane.node_id)},
    {"backplane.fallback", nullptr, "publishing while Redis is down: refuse (503) | local",
     SY_REF(backplane.fallback), "refuse|local"},
    {"backplane.grace_ms", nullptr,
     "a topic's channel stays subscribed this long after its last local subscriber",
     SY_REF(backplane.grace_ms)},
    {"backplane.connect_timeout_ms", nullptr, "deadline of one connection attempt to Redis",
     SY_REF(backplane.connect_timeout_ms)},
    {"backplane.retry_max_ms", nullptr, "reconnect backoff ceiling (from 100 ms, doubling)",
     SY_REF(backplane.retry_max_ms)},
    {"backplane.presence_ttl_ms", nullptr,
     "a node's presence entries and topic figures in Redis expire this long after its last "
     "refresh (refreshed every third of it)",
     SY_REF(backplane.presence_ttl_ms)},
    {"backplane.catch_up_topics", nullptr,
     "per wildcard subscription: matched topics remembered to catch up after a reconnection",
     SY_REF(backplane.catch_up_topics)},
    {"backplane.tls_ca_file", nullptr,
     "rediss://: CA certificates (PEM) the Redis certificate must chain to (empty: the system's)",
     SY_REF(backplane.tls_ca_file)},
    {"backplane.tls_cert_file", nullptr,
     "rediss://: client certificate (PEM) for a Redis with tls-auth-clients yes",
     SY_REF(backplane.tls_cert_file)},
    {"backplane.tls_key_file", nullptr, "rediss://: the client certificate's private key (PEM)",
     SY_REF(backplane.tls_key_file)},
    {"stun.listen", "--stun-listen", "HOST:PORT to serve STUN/TURN on, TCP and UDP (repeatable)",
     SY_REF(stun.listen)},
    {"stun.tls_listen", "--stun-tls-listen",
     "HOST:PORT to serve STUN/TURN over TLS on, with the TLS listener's certificate (repeatable)",
     SY_REF(stun.tls_listen)},
    {"turn.enabled", nullptr, "answer TURN allocations on the stun.listen addresses",
     SY_REF(turn.enabled)},
    {"turn.realm", nullptr, "TURN realm of the long-term credentials", SY_REF(turn.realm)},
    {"turn.users", "--turn-user", "TURN users as name:password (repeatable)", SY_REF(turn.users)},
    {"turn.auth_secret", nullptr,
     "shared secret of REST credentials (user expiry:name, password base64 HMAC-SHA1)",
     SY_REF(turn.auth_secret)},
    {"turn.relay_ports", nullptr, "UDP port range of relayed addresses, FIRST-LAST",
     SY_REF(turn.relay_ports)},
    {"turn.allowed_peers", "--turn-allowed-peer",
     "peer CIDR relayed to even if private or loopback (repeatable)", SY_REF(turn.allowed_peers)},
    {"turn.quota_per_user", nullptr, "TURN allocations one user may hold at once",
     SY_REF(turn.quota_per_user)},
    {"turn.quota_total", nullptr, "TURN allocations at once in total (per process)",
     SY_REF(turn.quota_total)},
    {"turn.max_lifetime_s", nullptr, "longest TURN allocation lifetime granted (seconds)",
     SY_REF(turn.max_lifetime_s)},
    {"webrtc.peerjs", nullptr, "serve the PeerJS signaling protocol at /peerjs",
     SY_REF(webrtc.peerjs)},
    {"webrtc.peerjs_key", nullptr, "the PeerJS API key clients must send (?key=)",
     SY_REF(webrtc.peerjs_key)},
    {"webrtc.peerjs_expire_ms", nullptr,
     "how long a PeerJS message for an absent peer waits before EXPIRE",
     SY_REF(webrtc.peerjs_expire_ms)},
    {"webrtc.peerjs_queue_max", nullptr,
     "PeerJS messages waiting for absent peers at once; beyond it, EXPIRE at once",
     SY_REF(webrtc.peerjs_queue_max)},
    {"webrtc.peerjs_allow_discovery", nullptr,
     "GET /<peerjs_key>/peers lists the connected PeerJS ids (peerjs-server's allow_discovery)",
     SY_REF(webrtc.peerjs_allow_discovery)},
    {"webrtc.peerjs_alive_timeout_ms", nullptr,
     "a PeerJS socket without HEARTBEAT for this long is closed",
     SY_REF(webrtc.peerjs_alive_timeout_ms)},
};
#undef SY_REF

std::string flag_of(const option_desc& o) {
    if (o.flag) return o.flag;
    std::string k = o.key;
    if (k.rfind("limits.", 0) == 0) k = k.substr(7);
    for (auto& ch : k) {
        if (ch == '.' || ch == '_') ch = '-';
    }
    return "--" + k;
}

const option_desc* find_option(std::string_view key) {
    for (const auto& o : k_options) {
        if (key == o.key) return &o;
    }
    return nullptr;
}

// The section a key belongs to: "limits" for "limits.max_body", "" for a top-level key.
std::string_view section_of(std::string_view key) {
    auto dot = key.find('.');
    return dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot);
}

const char* type_of(const option_desc& o) {
    if (std::holds_alternative<u64_ref>(o.ref)) return "integer";
    if (std::holds_alternative<bool_ref>(o.ref)) return "bool";
    if (std::holds_alternative<strs_ref>(o.ref)) return "list";
    if (std::holds_alternative<model_ref>(o.ref)) return "model";
    return "string";
}

// The value of `o` in `cfg`, written as it would be in TOML.
std::string value_text(const option_desc& o, const server_config& cfg) {
    server_config copy = cfg;  // the accessors take non-const references
    return std::visit(
        [&](auto ref) -> std::string {
            using r = decltype(ref);
            if constexpr (std::is_same_v<r, u64_ref>) return std::to_string(ref(copy));
            if constexpr (std::is_same_v<r, bool_ref>) return ref(copy) ? "true" : "false";
            if constexpr (std::is_same_v<r, str_ref>) return fmt::format("\"{}\"", ref(copy));
            if constexpr (std::is_same_v<r, model_ref>)
                return fmt::format("\"{}\"", to_string(ref(copy)));
            if constexpr (std::is_same_v<r, strs_ref>) {
                std::string out = "[";
                for (const auto& v : ref(copy)) {
                    if (out.size() > 1) out += ", ";
                    out += fmt::format("\"{}\"", v);
                }
                return out + "]";
            }
        },
        o.ref);
}

std::uint64_t parse_u64(std::string_view s, const std::string& where) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        throw config_error(fmt::format("{}: expected a non-negative integer, got '{}'", where, s));
    }
    return v;
}

bool parse_bool(std::string_view s, const std::string& where) {
    if (s.empty() || s == "true" || s == "1" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "0" || s == "no" || s == "off") return false;
    throw config_error(fmt::format("{}: expected true or false, got '{}'", where, s));
}

void check_choice(const option_desc& o, const std::string& v, const std::string& where) {
    if (!o.choices) return;
    std::string_view rest = o.choices;
    while (!rest.empty()) {
        auto bar = rest.find('|');
        if (rest.substr(0, bar) == v) return;
        rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
    }
    std::string allowed = o.choices;
    for (auto& ch : allowed) {
        if (ch == '|') ch = ',';
    }
    throw config_error(fmt::format("{}: unknown value '{}' ({})", where, v, allowed));
}

// Sets one option from its textual value (flags) - the TOML path below converts to text first
// only for strings; numbers and booleans keep their TOML types.
void set_from_string(server_config& cfg, const option_desc& o, const std::vector<std::string>& vals,
                     const std::string& where) {
    std::visit(
        [&](auto ref) {
            using r = decltype(ref);
            if constexpr (std::is_same_v<r, strs_ref>) {
                ref(cfg) = vals;
            } else {
                const std::string v = vals.empty() ? std::string() : vals.back();
                if constexpr (std::is_same_v<r, u64_ref>) ref(cfg) = parse_u64(v, where);
                if constexpr (std::is_same_v<r, bool_ref>) ref(cfg) = parse_bool(v, where);
                if constexpr (std::is_same_v<r, str_ref>) {
                    check_choice(o, v, where);
                    ref(cfg) = v;
                }
                if constexpr (std::is_same_v<r, model_ref>) {
                    if (!parse_model(v, ref(cfg))) {
                        throw config_error(fmt::format(
                            "{}: unknown model '{}' (single, acceptor, reuseport, prefork)", where,
                            v));
                    }
                }
            }
        },
        o.ref);
}

std::string where_of(const std::string& origin, const toml::node& n, std::string_view key) {
    return fmt::format("{}:{}: {}", origin, n.source().begin.line, key);
}

void set_from_toml(server_config& cfg, const option_desc& o, const toml::node& n,
                   const std::string& where) {
    std::vector<std::string> vals;
    if (auto* arr = n.as_array()) {
        if (!std::holds_alternative<strs_ref>(o.ref)) {
            throw config_error(fmt::format("{}: expected a single value, got an array", where));
        }
        for (auto& e : *arr) {
            auto s = e.value<std::string>();
            if (!s) throw config_error(fmt::format("{}: array items must be strings", where));
            vals.push_back(*s);
        }
    } else if (auto s = n.value_exact<std::string>()) {
        vals.push_back(*s);
    } else if (auto i = n.value_exact<std::int64_t>()) {
        if (*i < 0) throw config_error(fmt::format("{}: must not be negative", where));
        vals.push_back(std::to_string(*i));
        if (!std::holds_alternative<u64_ref>(o.ref)) {
            throw config_error(fmt::format("{}: did not expect a number", where));
        }
    } else if (auto b = n.value_exact<bool>()) {
        if (!std::holds_alternative<bool_ref>(o.ref)) {
            throw config_error(fmt::format("{}: did not expect true/false", where));
        }
        vals.push_back(*b ? "true" : "false");
    } else {
        throw config_error(fmt::format("{}: unsupported value type", where));
    }
    set_from_string(cfg, o, vals, where);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// " (did you mean X?)" for the closest candidate within a few edits (a quarter of the length,
// at least 2), else "".
std::string suggestion(std::string_view given, const std::vector<std::string>& candidates) {
    const std::string* best = nullptr;
    std::size_t best_d = std::max<std::size_t>(2, given.size() / 4) + 1;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(given, c);
        if (d < best_d) {
            best_d = d;
            best = &c;
        }
    }
    return best ? fmt::format(" (did you mean {}?)", *best) : std::string();
}

std::vector<std::string> all_keys() {
    std::vector<std::string> keys;
    for (const auto& o : k_options) keys.emplace_back(o.key);
    return keys;
}

/// Errors found while reading one file or command line, reported together (config_error's
/// message holds one per line) so a user fixes them in one round.
struct problem {
    std::size_t line;  // for ordering; 0 for command-line problems
    std::string text;
};

std::string join(std::vector<problem> ps) {
    std::stable_sort(ps.begin(), ps.end(),
                     [](const problem& a, const problem& b) { return a.line < b.line; });
    std::string out;
    for (const auto& p : ps) {
        if (!out.empty()) out += '\n';
        out += p.text;
    }
    return out;
}

void walk(server_config& cfg, const toml::table& t, const std::string& prefix,
          const std::string& origin, std::vector<problem>& out) {
    for (auto&& [k, v] : t) {
        std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        const std::size_t line = k.source().begin.line;
        if (key == "routes") {  // [[routes]]: an array of tables, not options (docs/routes.md)
            detail::config_problems ps;
            cfg.routes.clear();
            detail::read_routes(v, origin, cfg.routes, ps);
            for (auto& [l, text] : ps) out.push_back({l, std::move(text)});
            continue;
        }
        if (auto* sub = v.as_table()) {
            bool known_section = false;
            for (const auto& o : k_options) {
                if (std::string_view(o.key).rfind(key + ".", 0) == 0) known_section = true;
            }
            if (!known_section) {
                out.push_back(
                    {line, fmt::format("{}:{}: unknown section [{}]", origin, line, key)});
                continue;
            }
            walk(cfg, *sub, key, origin, out);
            continue;
        }
        const option_desc* o = find_option(key);
        if (!o) {
            out.push_back({line, fmt::format("{}:{}: unknown key '{}'{}", origin, line, key,
                                             suggestion(key, all_keys()))});
            continue;
        }
        try {
            set_from_toml(cfg, *o, v, where_of(origin, v, key));
        } catch (const config_error& e) {
            out.push_back({line, e.what()});
        }
    }
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw config_error(fmt::format("{}: cannot open config file", path));
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The offer of `o` in `prog`, nullptr when not offered; every key is offered by an empty list.
const offered_key* offer_of(const cli_program& prog, const option_desc& o) {
    static const offered_key k_all{};
    if (prog.keys.empty()) return &k_all;
    for (const auto& k : prog.keys) {
        if (k.key == o.key) return &k;
    }
    return nullptr;
}

bool offered(const cli_program& prog, const option_desc& o) {
    return offer_of(prog, o) != nullptr;
}

std::string_view help_of(const cli_program& prog, const option_desc& o) {
    const offered_key* k = offer_of(prog, o);
    return k && !k->help.empty() ? std::string_view(k->help) : std::string_view(o.help);
}

std::string md_escape(std::string_view s) {
    std::string out;
    for (char ch : s) {
        if (ch == '|') out += '\\';
        out += ch;
    }
    return out;
}

using given_flags = std::vector<std::pair<const option_desc*, std::vector<std::string>>>;

// Registers the offered options of the table as flags; values are collected as text in `given`
// and applied after the file has been read.
void add_table_flags(CLI::App& app, const cli_program& prog, const server_config& defaults,
                     given_flags& given) {
    for (const auto& o : k_options) {
        if (!offered(prog, o)) continue;
        std::string help =
            fmt::format("{} [{}] (default: {})", help_of(prog, o), o.key, value_text(o, defaults));
        const option_desc* op = &o;
        CLI::Option* opt = nullptr;
        if (std::holds_alternative<strs_ref>(o.ref)) {
            opt = app.add_option_function<std::vector<std::string>>(
                flag_of(o),
                [&given, op](const std::vector<std::string>& v) {
                    given.push_back({op, v});
                },
                help);
        } else {
            opt = app.add_option_function<std::string>(
                flag_of(o),
                [&given, op](const std::string& v) {
                    given.push_back({op, {v}});
                },
                help);
        }
        // A boolean flag's value is optional: `--pin` means `--pin true` (parse_bool("")).
        if (std::holds_alternative<bool_ref>(o.ref)) opt->expected(0, 1)->default_str("");
        opt->type_name(type_of(o));
    }
}

void add_extra_flags(CLI::App& app, const cli_program& prog, std::vector<problem>& problems) {
    for (const auto& x : prog.extra) {
        std::string help = fmt::format("{} (default: {})", x.help, *x.value);
        const extra_flag* xp = &x;
        app.add_option_function<std::string>(
               x.flag,
               [xp, &problems](const std::string& v) {
                   try {
                       const std::uint64_t n = parse_u64(v, xp->flag);
                       if (n < xp->min || n > xp->max) {
                           throw config_error(fmt::format("{}: must be between {} and {}, got {}",
                                                          xp->flag, xp->min, xp->max, n));
                       }
                       *xp->value = n;
                   } catch (const config_error& e) {
                       problems.push_back({0, e.what()});
                   }
               },
               help)
            ->type_name("integer");
    }
}

// Flags CLI11 did not know (allow_extras): one problem each, with the closest known flag.
void report_unknown(const CLI::App& app, std::vector<problem>& problems) {
    std::vector<std::string> flags;
    for (const CLI::Option* opt : app.get_options()) {
        for (const auto& n : opt->get_lnames()) flags.push_back("--" + n);
    }
    bool after_unknown_flag = false;
    for (const auto& arg : app.remaining()) {
        if (arg.size() > 1 && arg[0] == '-') {
            const std::string name = arg.substr(0, arg.find('='));
            problems.push_back(
                {0, fmt::format("unknown flag '{}'{}", name, suggestion(name, flags))});
            after_unknown_flag = arg.find('=') == std::string::npos;
        } else if (!after_unknown_flag) {
            problems.push_back({0, fmt::format("unexpected argument '{}'", arg)});
        } else {
            after_unknown_flag = false;  // taken as the unknown flag's value
        }
    }
}

// --help-config[=markdown] is answered before CLI11 parses (the rest of argv may be anything).
bool help_config_requested(int argc, char** argv, const cli_program& prog,
                           const server_config& defaults) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help-config") {
            std::cout << describe_options(prog, defaults);
            return true;
        }
        if (a == "--help-config=markdown") {
            std::cout << describe_options_markdown();
            return true;
        }
        if (a.starts_with("--help-config=")) {
            throw config_error(fmt::format("--help-config: unknown format '{}' (markdown)",
                                           a.substr(sizeof "--help-config=" - 1)));
        }
    }
    return false;
}

}  // namespace

bool auth_enabled(const auth_config& a) {
    return !a.jwt_hmac_secret_file.empty() || !a.jwt_public_key_files.empty() ||
           !a.jwks_file.empty() || !a.jwks_url.empty() || !a.anonymous_subscribe.empty() ||
           !a.anonymous_publish.empty();
}

const char* to_string(execution_model m) {
    switch (m) {
        case execution_model::single:
            return "single";
        case execution_model::acceptor:
            return "acceptor";
        case execution_model::reuseport:
            return "reuseport";
        case execution_model::prefork:
            return "prefork";
    }
    return "?";
}

bool parse_model(std::string_view s, execution_model& out) {
    for (auto m : {execution_model::single, execution_model::acceptor, execution_model::reuseport,
                   execution_model::prefork}) {
        if (s == to_string(m)) {
            out = m;
            return true;
        }
    }
    return false;
}

void apply_toml(server_config& cfg, std::string_view text, const std::string& origin) {
    toml::table t;
    try {
        t = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
        throw config_error(fmt::format("{}:{}:{}: {}", origin, e.source().begin.line,
                                       e.source().begin.column, e.description()));
    }
    std::vector<problem> problems;
    walk(cfg, t, "", origin, problems);
    if (!problems.empty()) throw config_error(join(std::move(problems)));
}

std::vector<route_config> routes_from_toml(std::string_view text, const std::string& origin) {
    server_config cfg;
    apply_toml(cfg, text, origin);
    return std::move(cfg.routes);
}

bool parse_command_line(server_config& cfg, int argc, char** argv, int& exit_code,
                        const cli_program& prog) {
    exit_code = 0;
    if (help_config_requested(argc, argv, prog, cfg)) return false;
    CLI::App app{prog.description, prog.name};
    app.allow_extras();
    std::string config_file;
    app.add_option("--config", config_file, "TOML configuration file (flags override it)")
        ->type_name("file");
    app.add_flag_callback(
        "--version",
        [&prog] { throw CLI::CallForVersion(fmt::format("{} {}", prog.name, k_version), 0); },
        "print the version and exit");
    std::string check_file;  // answered by tools/switchyard before parsing, registered for --help
    if (prog.check_config) {
        app.add_option("--check-config", check_file,
                       "validate FILE (read as --config, with the other flags) and exit: 0 "
                       "valid, 1 not (as nginx -t)")
            ->type_name("FILE");
    }
    std::string help_format;  // answered by help_config_requested, registered for --help
    app.add_option("--help-config", help_format,
                   "list every setting: key, flag, type, default and help (=markdown: the "
                   "tables of docs/configuration.md)")
        ->expected(0, 1)
        ->type_name("[=markdown]");

    std::vector<problem> problems;
    given_flags given;
    add_table_flags(app, prog, cfg, given);
    add_extra_flags(app, prog, problems);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {  // --help, --version
            exit_code = app.exit(e);
            return false;
        }
        throw config_error(e.what());
    }
    report_unknown(app, problems);
    if (!config_file.empty()) {
        cfg.config_file = config_file;
        try {
            apply_toml(cfg, read_file(config_file), config_file);
        } catch (const config_error& e) {
            problems.push_back({0, e.what()});
        }
    }
    for (auto& [o, vals] : given) {
        try {
            set_from_string(cfg, *o, vals, flag_of(*o));
        } catch (const config_error& e) {
            problems.push_back({0, e.what()});
        }
    }
    if (!problems.empty()) throw config_error(join(std::move(problems)));
    return true;
}

std::string describe_options(const cli_program& prog, const server_config& defaults) {
    std::string out = fmt::format("{:<34} {:<32} {:<8} {:<20} {}\n", "TOML key", "flag", "type",
                                  "default", "meaning");
    for (const auto& o : k_options) {
        if (!offered(prog, o)) continue;
        out += fmt::format("{:<34} {:<32} {:<8} {:<20} {}\n", o.key, flag_of(o), type_of(o),
                           value_text(o, defaults), help_of(prog, o));
    }
    for (const auto& x : prog.extra) {
        out += fmt::format("{:<34} {:<32} {:<8} {:<20} {}\n", "-", x.flag, "integer", *x.value,
                           x.help);
    }
    return out;
}

std::string describe_options_markdown() {
    const server_config defaults;
    std::vector<std::string_view> sections;
    for (const auto& o : k_options) {
        auto s = section_of(o.key);
        if (std::find(sections.begin(), sections.end(), s) == sections.end()) sections.push_back(s);
    }
    std::string out;
    for (auto s : sections) {
        const std::string name = s.empty() ? "top-level" : fmt::format("[{}]", s);
        out +=
            fmt::format("<!-- BEGIN generated: {} (switchyard --help-config=markdown) -->\n", name);
        out += "| TOML key | flag | type | default | meaning |\n|---|---|---|---|---|\n";
        for (const auto& o : k_options) {
            if (section_of(o.key) != s) continue;
            out += fmt::format("| `{}` | `{}` | {} | `{}` | {} |\n", o.key, flag_of(o), type_of(o),
                               value_text(o, defaults), md_escape(o.help));
        }
        out += fmt::format("<!-- END generated: {} -->\n", name);
    }
    return out;
}

int guard_startup(std::string_view program, const std::function<int()>& body) {
    auto report = [program](std::string_view what) {
        while (!what.empty()) {
            auto nl = what.find('\n');
            std::cerr << program << ": " << what.substr(0, nl) << "\n";
            what = nl == std::string_view::npos ? std::string_view{} : what.substr(nl + 1);
        }
        return 2;
    };
    try {
        return body();
    } catch (const config_error& e) {
        return report(e.what());
    } catch (const std::exception& e) {
        // Not a configuration mistake (eventfd, epoll, memory): still one clear line, not abort.
        return report(fmt::format("start-up failed: {}", e.what()));
    }
}

}  // namespace sy::server
