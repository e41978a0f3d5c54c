// The job of the course's polling demos (short-polling, long-polling), kept in the hub.
//
// POST /submit starts a job and answers "\n\njob:<ms>\n\n" as the course does (its ids are
// Date.now(); here they are made unique in the process: a second submit in the same millisecond
// gets the next number). The job is the hub topic "course.job.<ms>": the loop that took the
// submit publishes its progress there ("0", then +10 every step until "100") from its own timer,
// and the topic's history is the job's state, which a handler on any loop reads (short poll:
// the newest message) or waits on (long poll: the next messages until "100"). No lock, no table
// shared between threads: the hub carries it (docs/threading.md, "Hub").
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <string>

#include "switchyard/server/app.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/server/gateway.hpp"

namespace course {

/// Process-wide job numbering (any loop; one atomic per submit).
class job_ids {
  public:
    std::uint64_t next(std::uint64_t now_ms) {
        std::uint64_t last = last_.load(std::memory_order_relaxed);
        std::uint64_t id = 0;
        do {
            id = std::max(now_ms, last + 1);
        } while (!last_.compare_exchange_weak(last, id, std::memory_order_relaxed));
        return id;
    }

  private:
    std::atomic<std::uint64_t> last_{0};
};

inline std::uint64_t wall_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

/// "job:<n>" -> the job's topic; nullopt for anything else (answered 404).
inline std::optional<std::string> topic_of(std::string_view job_id) {
    if (!job_id.starts_with("job:")) return std::nullopt;
    const std::string_view n = job_id.substr(4);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    if (n.empty() || ec != std::errc() || p != n.data() + n.size()) return std::nullopt;
    return "course.job." + std::string(n);
}

/// The progress a message carries ("40" -> 40).
inline std::uint64_t percent_of(const sy::hub::message& m) {
    std::uint64_t v = 0;
    const std::string_view s = m.payload.view();
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

/// Publishes pct on topic now and the next step after `step` on the same loop, up to 100.
inline void advance(sy::core::loop& l, std::string topic, std::uint64_t pct, sy::millis step) {
    sy::server::gateway::publish(topic, sy::shared_bytes::copy_of(std::to_string(pct)),
                                 "text/plain");
    if (pct >= 100) return;
    l.add_timer(step, [&l, t = std::move(topic), pct, step]() mutable {
        advance(l, std::move(t), pct + 10, step);
    });
}

/// POST /submit (the course's text).
inline void submit(sy::server::app& a, job_ids& ids, sy::millis step, sy::http::response& res) {
    sy::server::loop_state* ls = a.runtime()->current_loop();
    if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
    const std::string n = std::to_string(ids.next(wall_ms()));
    advance(*ls->loop, "course.job." + n, 0, step);
    res.send(200, "\n\njob:" + n + "\n\n", "text/plain; charset=utf-8");
}

/// Calls done(newest progress, the topic's last id) on this loop; nullopt when the topic has
/// no message (no such job).
template <typename Done>
void newest_progress(sy::hub::hub_shard& shard, const std::string& topic, Done done) {
    shard.history(topic, 0, 1000,
                  [done = std::move(done)](
                      sy::result<sy::hub::history_result, sy::hub::topic_error>&& r) mutable {
                      if (!r || r.value().messages.empty()) return done(std::nullopt, 0);
                      const auto& h = r.value();
                      done(std::optional<std::uint64_t>(percent_of(*h.messages.back())), h.last_id);
                  });
}

/// The two demos' program: 127.0.0.1:8080 as the course, the server's flags plus --step-ms
/// (default_step_ms: the course's pace), POST /submit, and GET /checkstatus?jobId= handed to
/// check(res, loop, topic) once the id names a job topic (else 404; 503 off a loop).
template <typename Check>
int polling_program(int argc, char** argv, const char* name, const char* description,
                    std::uint64_t default_step_ms, Check check) {
    sy::server::app app;
    job_ids ids;
    std::uint64_t step_ms = default_step_ms;
    return sy::server::guard_startup(name, [&] {
        sy::server::cli_program prog;
        prog.name = name;
        prog.description = description;
        prog.extra.push_back(
            {"--step-ms", "time between two 10 % steps of a job", &step_ms, 1, 3'600'000});
        app.config().listen = {"127.0.0.1:8080"};
        app.config().static_dir.clear();
        int code = 0;
        if (!sy::server::parse_command_line(app.config(), argc, argv, code, prog)) return code;
        app.post("/submit", [&](sy::http::request&, sy::http::response& res) {
            submit(app, ids, sy::millis(step_ms), res);
        });
        app.get("/checkstatus", [&app, &check](sy::http::request& req, sy::http::response& res) {
            auto* ls = app.runtime()->current_loop();
            auto topic = topic_of(req.query("jobId").value_or(""));
            if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
            if (!topic) return res.send(404, "\n\nno such job\n\n", "text/plain");
            check(res, *ls, *topic);
        });
        sy::server::install_gateway(app);
        sy::server::install_builtin_routes(app, "", false);
        return app.run();
    });
}

}  // namespace course
