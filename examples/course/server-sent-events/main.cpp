// course-sse: the backend course's server-sent-events demo on switchyard.
//   build/bin/course-sse                  (listens on 127.0.0.1:8080, where the course's client
//                                          snippet connects: new EventSource(".../stream"))
// GET /stream is an SSE stream of the hub topic "clock": once a second (--interval-ms) loop 0
// publishes "hello from server ---- [i]" on it, and every event carries the hub's id, so a
// client that reconnects (EventSource sends Last-Event-ID) is served what it missed from the
// topic's history, then live, without a repeat or a hole. Unlike the course's server (one timer
// and one shared counter per connection), one clock serves every client; GET / answers
// "hello!" as there. The gateway and built-in routes come along (/sub, /pub, /metrics).
#include <atomic>
#include <memory>
#include <string>

#include "switchyard/server/app.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/gateway.hpp"

namespace {

/// Publishes the next tick and re-arms itself on the same loop (loop thread only).
void tick(sy::core::loop& l, sy::millis every, std::uint64_t i) {
    const std::string text = "hello from server ---- [" + std::to_string(i) + "]";
    sy::server::gateway::publish("clock", sy::shared_bytes::copy_of(text), "text/plain");
    l.add_timer(every, [&l, every, i] { tick(l, every, i + 1); });
}

}  // namespace

int main(int argc, char** argv) {
    sy::server::app app;
    std::uint64_t interval_ms = 1000;
    return sy::server::guard_startup("course-sse", [&] {
        sy::server::cli_program prog;
        prog.name = "course-sse";
        prog.description = "course-sse: the course's SSE demo (GET /stream), with resume";
        prog.extra.push_back(
            {"--interval-ms", "time between two events", &interval_ms, 1, 3'600'000});
        app.config().listen = {"127.0.0.1:8080"};
        app.config().static_dir.clear();
        int code = 0;
        if (!sy::server::parse_command_line(app.config(), argc, argv, code, prog)) return code;
        app.get("/", [](sy::http::request&, sy::http::response& res) {
            res.send(200, "hello!", "text/html; charset=utf-8");
        });
        app.get("/stream", [&app](sy::http::request& req, sy::http::response& res) {
            sy::server::gateway::stream_sse(app, req, res, "clock");
        });
        sy::server::install_gateway(app);
        sy::server::install_builtin_routes(app, "", false);
        app.on_runtime([every = sy::millis(interval_ms)](sy::server::runtime& rt) {
            rt.on_loop_start([every](sy::server::loop_state& ls) {
                // The first event at once, from loop 0's first turn (its shard is live then).
                if (ls.index == 0) ls.loop->post([l = ls.loop, every] { tick(*l, every, 0); });
            });
        });
        return app.run();
    });
}
