// course-short-polling: the backend course's short-polling demo on switchyard.
//   build/bin/course-short-polling        (127.0.0.1:8080, as the course)
//   curl -X POST http://localhost:8080/submit          -> "\n\njob:1764760000000\n\n"
//   curl "http://localhost:8080/checkstatus?jobId=job:1764760000000"  -> "\n\nJobStatus: 30%\n\n"
// The job moves 10 % every 3 s (--step-ms) on the server's timer, as in the course; the state is
// in the hub (polling_jobs.hpp), so any loop answers, and an unknown job is a 404.
#include "../polling_jobs.hpp"
#include "switchyard/server/builtin.hpp"

int main(int argc, char** argv) {
    sy::app app;
    course::job_ids ids;
    std::uint64_t step_ms = 3000;
    return sy::server::guard_startup("course-short-polling", [&] {
        sy::server::cli_program prog;
        prog.name = "course-short-polling";
        prog.description = "course-short-polling: POST /submit, GET /checkstatus?jobId= answers";
        prog.extra.push_back(
            {"--step-ms", "time between two 10 % steps of a job", &step_ms, 1, 3'600'000});
        app.config().listen = {"127.0.0.1:8080"};
        app.config().static_dir.clear();
        int code = 0;
        if (!sy::server::parse_command_line(app.config(), argc, argv, code, prog)) return code;
        app.post("/submit", [&](sy::http::request&, sy::http::response& res) {
            course::submit(app, ids, sy::millis(step_ms), res);
        });
        app.get("/checkstatus", [&app](sy::http::request& req, sy::http::response& res) {
            auto* ls = app.runtime()->current_loop();
            auto topic = course::topic_of(req.query("jobId").value_or(""));
            if (!ls || !ls->shard) return res.send(503, "no hub on this thread\n");
            if (!topic) return res.send(404, "\n\nno such job\n\n", "text/plain");
            course::newest_progress(
                *ls->shard, *topic, [res](std::optional<std::uint64_t> p, std::uint64_t) mutable {
                    if (!p) return res.send(404, "\n\nno such job\n\n", "text/plain");
                    res.send(200, "\n\nJobStatus: " + std::to_string(*p) + "%\n\n",
                             "text/plain; charset=utf-8");
                });
        });
        sy::server::install_gateway(app);
        sy::server::install_builtin_routes(app, "", false);
        return app.run();
    });
}
