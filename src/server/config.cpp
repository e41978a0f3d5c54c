#include "switchyard/server/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

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
};

// The single list of settings: each is a TOML key and a flag.
#define SY_REF(expr)                 \
    [](server_config & c) -> auto& { \
        return c.expr;               \
    }
const option_desc k_options[] = {
    {"listen", "--listen", "HOST:PORT to serve HTTP on (repeatable; port 0 picks one)",
     SY_REF(listen)},
    {"static_dir", "--static", "directory served at / (default: the bundled www/)",
     SY_REF(static_dir)},
    {"model", "--model", "execution model: single | acceptor | reuseport | prefork", SY_REF(model)},
    {"workers", "--workers", "event loops (threads, or processes with prefork); 0 = cores",
     SY_REF(workers)},
    {"pin", "--pin", "pin each loop to a core", SY_REF(pin)},
    {"backlog", "--backlog", "listen(2) backlog: the accept queue limit", SY_REF(backlog)},
    {"reuseport", nullptr, "set SO_REUSEPORT on listeners even where the model does not need it",
     SY_REF(reuseport)},
    {"defer_accept", nullptr, "TCP_DEFER_ACCEPT: wake only when the first bytes arrive",
     SY_REF(defer_accept)},
    {"log_level", nullptr, "debug | info | warn | error | off", SY_REF(log_level)},
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
     SY_REF(hub.slow_policy)},
    {"hub.sse_heartbeat_ms", nullptr, "SSE comment heartbeat interval",
     SY_REF(hub.sse_heartbeat_ms)},
    {"hub.longpoll_timeout_ms", nullptr, "default long-poll wait before 304",
     SY_REF(hub.longpoll_timeout_ms)},
    {"hub.job_visibility_timeout_ms", nullptr, "a taken job returns to the queue after this",
     SY_REF(hub.job_visibility_timeout_ms)},
    {"hub.jobs_kept", nullptr, "finished job records kept for GET /jobs/{id} (oldest go first)",
     SY_REF(hub.jobs_kept)},
    {"hub.jobs_queue", nullptr,
     "broker queue behind /jobs in vhost / (AMQP consumers of it are job workers)",
     SY_REF(hub.jobs_queue)},
    {"tls.listen", "--tls-listen", "HOST:PORT to serve HTTPS on (repeatable)", SY_REF(tls.listen)},
    {"tls.cert", "--tls-cert", "certificate chain (PEM)", SY_REF(tls.cert)},
    {"tls.key", "--tls-key", "private key (PEM)", SY_REF(tls.key)},
    {"tls.handshake_timeout_ms", nullptr, "TLS handshake must finish within",
     SY_REF(tls.handshake_timeout_ms)},
    {"tls.sni", "--tls-sni", "extra certificate as NAME:CERT:KEY chosen by SNI (repeatable)",
     SY_REF(tls.sni)},
    {"tls.ticket_rotation_s", nullptr, "session ticket key lifetime (decrypts for twice as long)",
     SY_REF(tls.ticket_rotation_s)},
    {"amqp.listen", "--amqp-listen", "HOST:PORT to serve AMQP 0-9-1 on (repeatable)",
     SY_REF(amqp.listen)},
    {"amqp.users", nullptr, "AMQP users as name:password (repeatable; none = guest, loopback)",
     SY_REF(amqp.users)},
    {"amqp.vhosts", nullptr, "AMQP virtual hosts (repeatable)", SY_REF(amqp.vhosts)},
    {"amqp.heartbeat_s", nullptr, "AMQP heartbeat offered in connection.tune (0: off)",
     SY_REF(amqp.heartbeat_s)},
    {"amqp.handshake_timeout_ms", nullptr, "AMQP header to connection.open must take at most",
     SY_REF(amqp.handshake_timeout_ms)},
    {"amqp.frame_max", nullptr, "AMQP largest frame offered", SY_REF(amqp.frame_max)},
    {"amqp.channel_max", nullptr, "AMQP channels per connection", SY_REF(amqp.channel_max)},
    {"amqp.max_message", nullptr, "AMQP message body bytes; beyond: 406", SY_REF(amqp.max_message)},
    {"amqp.memory_limit", nullptr, "ready AMQP bytes before connection.blocked (0: off)",
     SY_REF(amqp.memory_limit)},
    {"amqp.store_dir", "--amqp-store-dir", "directory of the durable AMQP log (empty: none)",
     SY_REF(amqp.store_dir)},
    {"amqp.fsync", nullptr, "AMQP log sync: always | batch | never", SY_REF(amqp.fsync)},
    {"amqp.fsync_interval_ms", nullptr, "AMQP group commit wait", SY_REF(amqp.fsync_interval_ms)},
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
                if constexpr (std::is_same_v<r, str_ref>) ref(cfg) = v;
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

void walk(server_config& cfg, const toml::table& t, const std::string& prefix,
          const std::string& origin) {
    for (auto&& [k, v] : t) {
        std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (auto* sub = v.as_table()) {
            bool known_section = false;
            for (const auto& o : k_options) {
                if (std::string_view(o.key).rfind(key + ".", 0) == 0) known_section = true;
            }
            if (!known_section) {
                throw config_error(
                    fmt::format("{}:{}: unknown section [{}]", origin, k.source().begin.line, key));
            }
            walk(cfg, *sub, key, origin);
            continue;
        }
        const option_desc* o = find_option(key);
        if (!o) {
            throw config_error(
                fmt::format("{}:{}: unknown key '{}'", origin, k.source().begin.line, key));
        }
        set_from_toml(cfg, *o, v, where_of(origin, v, key));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw config_error(fmt::format("{}: cannot open config file", path));
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

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
    walk(cfg, t, "", origin);
}

bool parse_command_line(server_config& cfg, int argc, char** argv, int& exit_code) {
    CLI::App app{
        "switchyard: HTTP/1.1, HTTP/2, gRPC, WebSocket, SSE, long polling, pub/sub and "
        "AMQP on one port and one hub"};
    std::string config_file;
    app.add_option("--config", config_file, "TOML configuration file (flags override it)");
    app.add_flag_callback(
        "--version", [] { throw CLI::CallForVersion(fmt::format("switchyard {}", k_version), 0); },
        "print the version and exit");
    app.add_flag_callback(
        "--help-config", [] { throw CLI::CallForHelp(); },
        "list every setting (TOML key and flag)");

    // Flags are collected as text, then applied in order after the file has been read.
    std::vector<std::pair<const option_desc*, std::vector<std::string>>> given;
    for (const auto& o : k_options) {
        std::string help = fmt::format("{} [{}]", o.help, o.key);
        const option_desc* op = &o;
        if (std::holds_alternative<bool_ref>(o.ref)) {
            app.add_option_function<std::string>(
                   flag_of(o),
                   [&given, op](const std::string& v) {
                       given.push_back({op, {v}});
                   },
                   help)
                ->expected(0, 1)
                ->default_str("");
        } else if (std::holds_alternative<strs_ref>(o.ref)) {
            app.add_option_function<std::vector<std::string>>(
                flag_of(o),
                [&given, op](const std::vector<std::string>& v) {
                    given.push_back({op, v});
                },
                help);
        } else {
            app.add_option_function<std::string>(
                flag_of(o),
                [&given, op](const std::string& v) {
                    given.push_back({op, {v}});
                },
                help);
        }
    }
    try {
        bool config_help = false;
        for (int i = 1; i < argc; ++i) config_help |= std::string_view(argv[i]) == "--help-config";
        if (config_help) {
            std::cout << describe_options();
            exit_code = 0;
            return false;
        }
        app.parse(argc, argv);
        if (!config_file.empty()) apply_toml(cfg, read_file(config_file), config_file);
        for (auto& [o, vals] : given) set_from_string(cfg, *o, vals, flag_of(*o));
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e);
        return false;
    } catch (const config_error& e) {
        std::cerr << "switchyard: " << e.what() << "\n";
        exit_code = 2;
        return false;
    }
    return true;
}

std::string describe_options() {
    std::string out;
    for (const auto& o : k_options) {
        out += fmt::format("{:<34} {:<28} {}\n", o.key, flag_of(o), o.help);
    }
    return out;
}

}  // namespace sy::server
