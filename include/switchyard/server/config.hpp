// Server configuration: one struct, filled from defaults, then a TOML file (--config), then
// command-line flags. Every flag has a TOML key and every key a flag (the table in config.cpp is
// the single list of both). Unknown keys are errors that name the line. Loaded at start-up only,
// so this is the one place that reports errors by exception (config_error).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sy::server {

enum class execution_model { single, acceptor, reuseport, prefork };

struct limits_config {
    std::uint64_t max_connections = 100000;      // per process; beyond it: 503 and close
    std::uint64_t max_request_line = 8 * 1024;   // -> 414
    std::uint64_t max_header_bytes = 32 * 1024;  // whole head -> 431
    std::uint64_t max_headers = 100;             // -> 431
    std::uint64_t max_body = 8 * 1024 * 1024;    // -> 413
    std::uint64_t idle_timeout_ms = 60000;       // keep-alive connection with nothing in flight
    std::uint64_t header_timeout_ms = 10000;     // whole head must arrive within (slowloris)
    std::uint64_t body_timeout_ms = 30000;       // no body bytes for this long -> 408
    std::uint64_t write_timeout_ms = 30000;      // peer not reading our output
    std::uint64_t output_high_water = 1 << 20;   // per connection: stop reading above
    std::uint64_t output_low_water = 256 << 10;  // resume below
    std::uint64_t input_buffer_max = 64 << 10;   // read buffer cap per connection
    std::uint64_t accept_batch = 64;             // accepts per listener wake-up
    std::uint64_t shutdown_grace_ms = 10000;     // SIGTERM: finish in-flight requests within
    std::uint64_t pool_queue = 4096;             // blocking-work queue length
    std::uint64_t pool_threads = 4;              // blocking-work threads
    std::uint64_t connection_rate_per_ip = 0;    // new connections per second per IP; 0: off
    std::uint64_t publish_rate = 0;  // client publishes per second per connection; 0: off
};

struct ws_config {
    std::uint64_t max_message = 1 << 20;  // -> close 1009
    std::uint64_t ping_interval_ms = 30000;
    std::uint64_t idle_timeout_ms = 120000;
    bool deflate = true;               // permessage-deflate
    std::vector<std::string> origins;  // allow-list; empty = any
    bool allow_client_publish = true;  // messages from /sub/{topic} sockets publish
};

struct hub_config {
    std::uint64_t history_count = 1000;
    std::uint64_t history_age_ms = 3600 * 1000;
    std::uint64_t subscriber_output_cap = 1 << 20;  // bytes queued per subscriber
    std::string slow_policy = "drop-oldest";        // drop-oldest | disconnect | block-publisher
    std::uint64_t sse_heartbeat_ms = 15000;
    std::uint64_t longpoll_timeout_ms = 30000;
    std::uint64_t job_visibility_timeout_ms = 30000;
    std::uint64_t jobs_kept = 10000;      // finished job records kept (oldest dropped first)
    std::uint64_t jobs_max_attempts = 5;  // Redis jobs store: deliveries before dead-letter
    std::string jobs_queue = "jobs";      // the broker queue behind /jobs (AMQP consumers work it)
};

// Write coalescing of push subscribers (WebSocket, SSE over HTTP/1.1): docs/push-coalescing.md.
struct push_config {
    std::uint64_t write_delay_us = 2000;     // longest hold of a busy subscriber's output; 0: off
    std::uint64_t max_coalesce_frames = 16;  // a held queue of this many frames is written
    std::uint64_t max_coalesce_bytes = 64 << 10;  // a held queue of this many bytes is written
};

struct tls_config {
    std::vector<std::string> listen;
    std::string cert;
    std::string key;
    std::uint64_t handshake_timeout_ms = 10000;
    std::vector<std::string> sni;  // "name:cert:key", extra certificates chosen by SNI
    std::uint64_t ticket_rotation_s = 3600;
    // HTTP/3 over QUIC on UDP at every tls.listen address (docs/http3.md).
    bool http3 = false;
    std::string http3_retry = "auto";           // auto | always | never
    std::uint64_t http3_retry_threshold = 64;   // auto: handshakes in progress per loop
    std::uint64_t http3_retry_rate = 256;       // auto: Initials per second per loop
    std::uint64_t http3_max_handshakes = 1024;  // per loop; beyond: Initials dropped
    std::uint64_t http3_max_streams = 100;      // concurrent request streams per connection
    std::uint64_t http3_idle_timeout_ms = 30000;
};

struct amqp_config {
    std::vector<std::string> listen;
    /// "name:password" or "name:rabbit_password_hashing_sha256:HASH" (docs/auth.md); empty:
    /// guest/guest from loopback only.
    std::vector<std::string> users;
    std::vector<std::string> user_tags;          // "name:tag,tag" (rabbitmqctl set_user_tags)
    std::vector<std::string> permissions;        // "user:vhost:configure:write:read" regexes
    std::vector<std::string> topic_permissions;  // "user:vhost:exchange:write:read" regexes
    std::uint64_t publish_rate = 0;   // messages/s per connection before credit flow; 0: off
    std::uint64_t publish_burst = 0;  // messages above the rate at once; 0: one second's worth
    std::vector<std::string> vhosts{"/"};
    std::uint64_t heartbeat_s = 60;
    std::uint64_t handshake_timeout_ms = 10000;  // header to connection.open (RabbitMQ: 10 s)
    std::uint64_t frame_max = 131072;
    std::uint64_t channel_max = 2047;
    std::uint64_t max_message = 128 << 20;
    std::uint64_t memory_limit = 0;  // ready-message bytes before connection.blocked; 0: off
    std::string store_dir;           // empty: durable queues are not persisted
    std::string fsync = "batch";     // always | batch | never
    std::uint64_t fsync_interval_ms = 2;
};

/// docs/metrics.md.
struct metrics_config {
    /// Queues listed per family on /metrics/per-object (the first ones by vhost and name).
    std::uint64_t per_object_max = 1000;
    /// Topics with their own sy_hub_topic_* series: exact names or hub patterns (* and >).
    std::vector<std::string> topics;
    /// The N most published topics also get their own series (0: none; at most 100).
    std::uint64_t topics_top = 0;
};

/// The Redis backplane between nodes (docs/scaling.md). Empty url: none (the hub is local).
struct backplane_config {
    // redis[s]://[user:password@]host:port[?insecure]; several: topics sharded over them
    std::vector<std::string> url;
    std::string node_id;              // empty: host:port of the first listener
    std::string fallback = "refuse";  // refuse | local: publishing while Redis is down
    std::uint64_t grace_ms = 5000;    // a channel stays subscribed this long after its last local
                                      // subscriber went
    std::uint64_t connect_timeout_ms = 2000;
    std::uint64_t retry_max_ms = 5000;      // reconnect backoff ceiling (from 100 ms, doubling)
    std::uint64_t presence_ttl_ms = 15000;  // presence and per-node figures in Redis expire
                                            // after this without a refresh (every ttl/3)
    std::uint64_t catch_up_topics = 1024;   // per wildcard pattern: topics caught up on reconnect
    std::string tls_ca_file;    // rediss://: trust anchors (PEM); empty: the system's store
    std::string tls_cert_file;  // rediss://: client certificate (tls-auth-clients yes)
    std::string tls_key_file;
};

/// The RabbitMQ-compatible management API and the dashboard (docs/management.md).
struct management_config {
    std::vector<std::string> listen;         // empty: no management listener
    bool on_main_port = false;               // also serve /api/ and /admin on the HTTP listeners
    std::uint64_t stats_interval_ms = 1000;  // rate sampling and sys.* period; 0: sys.* off
    std::uint64_t sys_list_max = 200;        // rows of sys.topics and sys.connections (dashboard)
};

/// Authentication and per-topic permissions (docs/auth.md). Without any key source or anonymous
/// rule the section is off and everything is allowed, as before it existed.
struct auth_config {
    std::string jwt_hmac_secret_file;  // HS256/384/512 secret (one trailing LF dropped)
    std::vector<std::string> jwt_public_key_files;  // PEM; "KID=PATH" gives the key a kid
    std::string jwks_file;                          // RFC 7517 key set
    std::string jwks_url;                           // http(s) JWKS, refreshed (server/jwks.cpp)
    std::uint64_t jwks_refresh_s = 300;             // timer between fetches
    std::uint64_t jwks_min_refresh_s = 10;          // unknown-kid fetches at most this often
    std::uint64_t jwks_timeout_ms = 5000;           // one fetch: connect, TLS, response
    std::uint64_t jwks_startup_wait_s = 10;         // first fetch retried this long, then fail
    std::string jwks_ca_file;                       // https CA bundle; empty: system default
    std::uint64_t jwks_max_bytes = 1 << 20;         // larger responses are failed fetches
    std::string audience;                           // empty: aud not checked
    std::string issuer;                             // empty: iss not checked
    std::uint64_t leeway_s = 0;                     // clock skew allowed on exp, nbf, iat
    std::vector<std::string> anonymous_subscribe;   // topic patterns open without a token
    std::vector<std::string> anonymous_publish;
    std::string token_query_param = "token";  // ?token= (EventSource, browser WebSocket)
    std::string token_cookie;                 // cookie carrying the token; empty: none
    std::uint64_t max_token_bytes = 8192;     // longer tokens are refused (401)
    std::uint64_t token_cache_size = 1024;    // verified HTTP tokens kept per loop; 0: off
    std::string metrics_access = "loopback";  // /metrics, /debug/*: open | loopback | token
};
/// Whether [auth] is on (a key source or an anonymous rule is set).
bool auth_enabled(const auth_config& a);
/// STUN and TURN (docs/webrtc.md): RFC 8489 binding and RFC 8656 relays.
struct stun_config {
    std::vector<std::string> listen;      // HOST:PORT, UDP and TCP on the same address; empty: none
    std::vector<std::string> tls_listen;  // HOST:PORT, TLS over TCP with tls.listen's certificate
};

/// TURN relays (RFC 8656) on the stun.listen addresses (docs/webrtc.md).
struct turn_config {
    bool enabled = false;
    std::string realm = "switchyard";
    std::vector<std::string> users;  // "name:password" (long-term credentials)
    std::string auth_secret;         // REST credentials: user "expiry:name", HMAC-SHA1 password
    std::string relay_ports = "49152-65535";
    std::vector<std::string> allowed_peers;  // CIDRs relayed to even if private or loopback
    std::uint64_t quota_per_user = 10;       // allocations at once per user name
    std::uint64_t quota_total = 1000;        // allocations at once per process
    std::uint64_t max_lifetime_s = 3600;     // a LIFETIME asked for above is lowered to this
};

/// WebRTC signaling on the HTTP listeners (docs/webrtc.md).
struct webrtc_config {
    bool peerjs = true;                             // the PeerJS server protocol at /peerjs
    std::string peerjs_key = "peerjs";              // the ?key= clients must send
    std::uint64_t peerjs_expire_ms = 5000;          // an OFFER to an absent peer waits this long
    std::uint64_t peerjs_queue_max = 10000;         // messages waiting for absent peers (process)
    bool peerjs_allow_discovery = false;            // GET /<key>/peers lists the connected ids
    std::uint64_t peerjs_alive_timeout_ms = 60000;  // no HEARTBEAT for this long: closed
};

/// One [[routes]] table (docs/routes.md): a URL pattern and the hub topics it serves. Topic
/// templates may use the path's parameters as whole tokens ("room.:id"). Empty topic: that
/// transport is not offered on the path.
struct route_config {
    std::string path;             // "/", "/rooms/:id", "/files/*" (http::router patterns)
    std::string websocket;        // topic template for WebSocket subscribers
    std::string sse;              // ... for Accept: text/event-stream
    std::string long_poll;        // ... for any other GET
    bool publish = false;         // messages a WebSocket client sends publish to its topic
    bool publish_post = false;    // POST to the path publishes the body to the route's topic
    std::uint64_t history = 0;    // messages kept per topic of this route; 0: hub.history_count
    bool resume = true;           // since= / Last-Event-ID / If-None-Match resume from history
    std::string slow_policy;      // "": hub.slow_policy; drop-oldest | disconnect | block-publisher
    std::string framing = "raw";  // raw | envelope (the JSON envelope)
    std::vector<std::string> origins;  // allowed Origin values; empty: ws.origins
    std::size_t line = 0;              // where the table starts in the file (errors); 0: in code
};

struct server_config {
    std::vector<std::string> listen{"127.0.0.1:8080"};
    std::string static_dir;  // empty: the bundled www/
    std::string client_dir;  // served at /lib/switchyard-client/; empty: the bundled clients/js/src
    execution_model model = execution_model::reuseport;
    std::string io = "epoll";   // epoll | io_uring | auto (the loops' poller, docs/io_uring.md)
    std::uint64_t workers = 0;  // 0: one per core
    bool pin = false;
    std::uint64_t backlog = 4096;
    bool reuseport = false;  // SO_REUSEPORT on listeners in models that don't need it
    bool defer_accept = false;
    std::string log_level = "info";
    bool access_log = false;
    bool debug_stall = false;  // POST /debug/stall pauses accepting (tests, demos)
    limits_config limits;
    ws_config ws;
    hub_config hub;
    push_config push;
    tls_config tls;
    amqp_config amqp;
    metrics_config metrics;
    management_config management;
    auth_config auth;
    backplane_config backplane;
    stun_config stun;
    turn_config turn;
    webrtc_config webrtc;
    std::vector<route_config> routes;  // [[routes]] tables (not flags)
    std::string config_file;           // --config as given: SIGHUP reads its [[routes]] again
};

class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A program's own integer flag, outside server_config (echo-udp's --max-datagram).
struct extra_flag {
    std::string flag;  // "--max-datagram"
    std::string help;
    std::uint64_t* value;  // holds the default before parsing, the given value after
    std::uint64_t min = 0;
    std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
};

/// A key of the option table a program offers as a flag; `help` replaces the table's text
/// where the program gives the setting its own meaning (echo-udp's --listen).
struct offered_key {
    std::string key;
    std::string help;  // empty: the table's
};

/// What a program built on the runtime offers on its command line: its name (in --help,
/// --version), a description, which keys of the option table are flags (empty: all) and flags
/// of its own. The TOML file (--config) takes every key whatever the program offers.
struct cli_program {
    std::string name = "switchyard";
    std::string description =
        "switchyard: HTTP/1.1, HTTP/2, gRPC, WebSocket, SSE, long polling, pub/sub and AMQP on "
        "one port and one hub";
    std::vector<offered_key> keys;
    std::vector<extra_flag> extra;
    /// --help lists --check-config FILE (tools/switchyard answers it before parsing).
    bool check_config = false;
};

const char* to_string(execution_model m);
bool parse_model(std::string_view s, execution_model& out);

/// Applies a TOML document (text; `origin` names it in errors) over `cfg`.
/// Throws config_error naming the line for a syntax error; unknown keys and bad values are all
/// reported in one config_error, one per line of its message, in line order.
void apply_toml(server_config& cfg, std::string_view text, const std::string& origin);

/// The [[routes]] of a TOML document only (the SIGHUP reload): every other key is ignored, errors
/// are thrown as by apply_toml.
std::vector<route_config> routes_from_toml(std::string_view text, const std::string& origin);

/// Parses argv (flags override the file named by --config, which is read first). `cfg` holds
/// the program's defaults on entry (shown by --help). Returns false when the process should exit
/// with `exit_code` (0: --help, --help-config, --version answered). Throws config_error with
/// every problem found (unknown flags with the closest known one, bad values, the file's
/// errors), one per line.
bool parse_command_line(server_config& cfg, int argc, char** argv, int& exit_code,
                        const cli_program& prog = {});

/// The offered keys and flags with type, default (from `defaults`) and help
/// (`switchyard --help-config`).
std::string describe_options(const cli_program& prog, const server_config& defaults);

/// Every key as Markdown tables, one per section between BEGIN/END generated markers, with the
/// built-in defaults: the generated part of docs/configuration.md
/// (`switchyard --help-config=markdown`; tests/integration/test_config_doc.py checks the page).
std::string describe_options_markdown();

/// Runs start-up code and returns its exit status; a config_error (or any other exception)
/// escaping it is printed on stderr as "program: message", one line per problem, and gives
/// exit status 2. Every main() of the project wraps its start-up in this one place.
int guard_startup(std::string_view program, const std::function<int()>& body);

}  // namespace sy::server
