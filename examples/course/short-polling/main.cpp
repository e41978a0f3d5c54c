// course-short-polling: the backend course's short-polling demo on switchyard.
//   build/bin/course-short-polling        (127.0.0.1:8080, as the course)
//   curl -X POST http://localhost:8080/submit          -> "\n\njob:1764760000000\n\n"
//   curl "http://localhost:8080/checkstatus?jobId=job:1764760000000"  -> "\n\nJobStatus: 30%\n\n"
// The job moves 10 % every 3 s (--step-ms) on the server's timer, as in the course; the state is
// in the hub (polling_jobs.hpp), so any loop answers, and an unknown job is a 404.
#include "../polling_jobs.hpp"

int main(int argc, char** argv) {
    return course::polling_program(
        argc, argv, "course-short-polling",
        "course-short-polling: POST /submit, GET /checkstatus?jobId= answers", 3000,
        [](sy::http::response& res, sy::server::loop_state& ls, const std::string& topic) {
            course::newest_progress(
                *ls.shard, topic, [res](std::optional<std::uint64_t> p, std::uint64_t) mutable {
                    if (!p) return res.send(404, "\n\nno such job\n\n", "text/plain");
                    res.send(200, "\n\nJobStatus: " + std::to_string(*p) + "%\n\n",
                             "text/plain; charset=utf-8");
                });
        });
}
