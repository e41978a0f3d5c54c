#include "switchyard/server/builtin.hpp"

#include <sys/socket.h>

#include <charconv>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "switchyard/backplane/backplane.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/http/static_files.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/kernel_queues.hpp"

namespace sy::server {

namespace {

std::uint64_t query_u64(const http::request& req, std::string_view name, std::uint64_t dflt) {
    auto v = req.query(name);
    if (!v) return dflt;
    std::uint64_t n = dflt;
    std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}

/// One connection as /debug/connections shows it (read on the connection's loop).
std::string describe_connection(std::size_t loop, net::connection& c) {
    net::address peer;
    *peer.len_ptr() = net::address::capacity();
    std::string peer_text = "?";
    if (::getpeername(c.fd(), peer.sa(), peer.len_ptr()) == 0) peer_text = peer.to_string();
    auto ti = net::tcp_info_of(c.fd());
    std::string out;
    json::writer(out)
        .begin_object()
        .member("loop", std::uint64_t{loop})
        .member("fd", c.fd())
        .member("peer", peer_text)
        .member("output_queued", std::uint64_t{c.queued_bytes()})
        .member("reading", c.reading())
        .member("send_queue", std::uint64_t{ti ? ti->send_queue : 0})
        .member("unsent", std::uint64_t{ti ? ti->unsent : 0})
        .member("recv_queue", std::uint64_t{ti ? ti->recv_queue : 0})
        .member("rtt_us", std::uint64_t{ti ? ti->rtt_us : 0})
        .member("rttvar_us", std::uint64_t{ti ? ti->rttvar_us : 0})
        .member("cwnd", std::uint64_t{ti ? ti->snd_cwnd : 0})
        .member("retransmits", std::uint64_t{ti ? ti->total_retrans : 0})
        .end_object();
    return out;
}

void debug_connections(app& a, http::request&, http::response& res) {
    struct gather {
        std::mutex mu;  // loops append concurrently; debug path only, not per message
        std::vector<std::string> items;
    };
    auto g = std::make_shared<gather>();
    a.runtime()->for_each_loop(
        [g](loop_state& ls) {
            std::vector<std::string> local;
            ls.conns.for_each(
                [&](net::connection& c) { local.push_back(describe_connection(ls.index, c)); });
            ls.flows.for_each([&](net::datagram_flow& f) {
                std::string item;
                json::writer fw(item);
                fw.begin_object()
                    .member("loop", std::uint64_t{ls.index})
                    .member("transport", "udp")
                    .member("protocol", f.protocol())
                    .member("peer", f.peer_text())
                    .member("bytes_in", f.bytes_in)
                    .member("bytes_out", f.bytes_out)
                    .end_object();
                local.push_back(std::move(item));
            });
            std::lock_guard lock(g->mu);
            for (auto& i : local) g->items.push_back(std::move(i));
        },
        [g, res]() mutable {
            std::string out;
            json::writer w(out);
            w.begin_object().member("count", std::uint64_t{g->items.size()});
            w.key("connections").begin_array();
            for (const auto& i : g->items) w.raw(i);
            w.end_array().end_object();
            res.send_json(200, out);
        });
}

// A directory setting (static_dir, client_dir) opened as a file handler's root; a missing or
// wrong directory is a configuration error naming the setting (the handler's own exception
// names no setting).
http::handler open_static_dir(const std::string& dir, const char* setting = "static_dir") {
    try {
        return http::static_files(dir);
    } catch (const std::system_error& e) {
        std::string why = e.code().message();
        if (e.code() == std::errc::no_such_file_or_directory) why = "no such directory";
        if (e.code() == std::errc::not_a_directory) why = "not a directory";
        throw config_error(fmt::format("{}: {}: {}", setting, dir, why));
    }
}

}  // namespace

http::handler client_files(const std::string& client_dir) {
    return open_static_dir(client_dir, "client_dir");
}

http::handler admin_page(const std::string& static_dir) {
    auto root = std::make_shared<http::static_root>(static_dir, http::static_options{});
    return [root](http::request& req, http::response& res) {
        auto f = root->resolve("admin.html", false);
        if (!f) {
            res.send(http::status_for(f.error()), "admin.html is not in static_dir\n");
            return;
        }
        http::serve_file(req, res, std::move(f.value()), root->options());
    };
}

http::handler stall_handler(app& a) {
    return [&a](http::request& req, http::response& res) {
        auto ms = std::min<std::uint64_t>(query_u64(req, "ms", 2000), 60000);
        a.runtime()->stall_accept(ms);
        res.send(200, fmt::format("accepting paused for {} ms\n", ms));
    };
}

void install_builtin_routes(app& a, const std::string& static_dir, bool allow_stall) {
    auto& r = a.router();
    r.post("/echo", [](http::request& req, http::response& res) {
        auto type = req.header("content-type").value_or("application/octet-stream");
        res.send(200, req.body(), type);
    });
    // ?format=json: the same families as JSON (docs/metrics.md). Figures owned by one loop
    // (the AMQP broker's) are refreshed first, so the answer may come a loop hop later.
    // /metrics/per-object: the same families, per-queue ones with a sample per queue (as
    // rabbitmq_prometheus serves them there), at most metrics.per_object_max queues.
    for (auto sc : {metrics::scope::aggregated, metrics::scope::per_object}) {
        const char* path = sc == metrics::scope::aggregated ? "/metrics" : "/metrics/per-object";
        r.get(path, [&a, sc](http::request& req, http::response& res) {
            const bool json = req.query("format") == "json";
            runtime* rt = a.runtime();
            rt->metrics().refresh([rt, res, json, sc]() mutable {
                if (res.finished() || res.closed()) return;
                if (json) return res.send_json(200, rt->metrics().json(sc));
                res.send(200, render_metrics(*rt, sc), "text/plain; version=0.0.4; charset=utf-8");
            });
        });
    }
    // Readiness: 503 while a configured Redis backplane is down (publishes would be refused),
    // so a load balancer stops sending traffic here (docs/scaling.md).
    r.get("/readyz", [&a](http::request&, http::response& res) {
        const backplane::backplane* bp = a.runtime()->backplane();
        if (bp && !bp->healthy()) {
            res.set_header("Retry-After", "1");
            return res.send(503, "backplane down\n");
        }
        res.send(200, "ready\n");
    });
    r.get("/debug/listeners", [&a](http::request&, http::response& res) {
        res.send_json(200, render_listeners_json(*a.runtime()));
    });
    r.get("/debug/connections",
          [&a](http::request& req, http::response& res) { debug_connections(a, req, res); });
    if (allow_stall) {
        // Stops accepting on every loop for ?ms= (default 2000): the kernel keeps completing
        // handshakes into the accept queue, which /metrics then shows filling (and overflowing
        // past the backlog).
        r.post("/debug/stall", stall_handler(a));
        // Streams ?n= events ?ms= apart through the response sink (the same on h1 and h2): lets
        // tests check streaming, client aborts and backpressure without the hub.
        r.get("/debug/stream", [&a](http::request& req, http::response& res) {
            auto n = std::min<std::uint64_t>(query_u64(req, "n", 5), 100000);
            auto ms = std::min<std::uint64_t>(query_u64(req, "ms", 100), 60000);
            res.begin(200, {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}});
            auto* ls = a.runtime()->current_loop();
            auto tick = std::make_shared<std::function<void(std::uint64_t)>>();
            *tick = [res, ls, n, ms, tick](std::uint64_t i) mutable {
                if (res.closed()) {
                    *tick = nullptr;  // break the cycle
                    return;
                }
                if (i == n) {
                    res.end();
                    *tick = nullptr;
                    return;
                }
                res.write(fmt::format("id: {}\ndata: tick {}\n\n", i, i));
                ls->loop->add_timer(millis(ms), [tick, i] {
                    if (*tick) (*tick)(i + 1);
                });
            };
            (*tick)(0);
        });
    }
    if (const std::string& dir = a.config().client_dir; !dir.empty()) {
        // @switchyard/client for the pages (www/ and the user's): one copy, clients/js.
        r.get(k_client_prefix + std::string("*path"), client_files(dir));
    }
    if (!static_dir.empty()) {
        auto files = open_static_dir(static_dir);
        // The live dashboard (www/admin.html; data from the sys.* topics), on the main port.
        r.get("/admin", admin_page(static_dir));
        r.get("/", files);
        r.get("/*path", files);
    }
}

}  // namespace sy::server
