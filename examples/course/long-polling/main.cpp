// course-long-polling: the backend course's long-polling demo on switchyard.
//   build/bin/course-long-polling         (127.0.0.1:8080, as the course)
//   curl -X POST http://localhost:8080/submit                            -> "\n\njob:<ms>\n\n"
//   curl "http://localhost:8080/checkstatus?jobId=job:<ms>"  (held) -> "\n\nJobStatus: Complete
//   100%\n\n"
// The job moves 10 % every 10 s (--step-ms) on the server's timer, as in the course. Where the
// course's handler re-checks every second, the held request here waits on the job's hub topic
// (hub_shard::next_after: woken by the next step, nothing polled); a client that leaves drops
// its wait at once, a server that stops answers it at once (503). An unknown job is a 404.
#include "../polling_jobs.hpp"

namespace {

/// One held /checkstatus: waits on the job's topic until a message says 100. Kept alive by the
/// hub's callback; the response's abort hook holds it weakly.
struct hold : std::enable_shared_from_this<hold> {
    hold(sy::http::response r, sy::server::loop_state& l, std::string t)
        : res(std::move(r)), ls(l), topic(std::move(t)) {}

    void wait_after(std::uint64_t since) {
        auto w = ls.shard->next_after(topic, since, 1000, [self = shared_from_this()](auto&& r) {
            // Re-armed from the loop, not from inside the hub's callback.
            self->ls.loop->post([self, r = std::move(r)]() mutable { self->on(std::move(r)); });
        });
        if (w) wait = std::move(w.value());
    }
    void on(sy::result<sy::hub::history_result, sy::hub::topic_error>&& r) {
        if (res.closed() || res.finished()) return;  // gone, or answered at shutdown
        if (!r) return res.send(500, "\n\njob lost\n\n", "text/plain");
        const auto& h = r.value();
        if (h.messages.empty() || course::percent_of(*h.messages.back()) < 100) {
            return wait_after(h.last_id);
        }
        res.send(200, "\n\nJobStatus: Complete 100%\n\n", "text/plain; charset=utf-8");
    }

    sy::http::response res;
    sy::server::loop_state& ls;
    std::string topic;
    sy::hub::subscription_handle wait;
};

}  // namespace

int main(int argc, char** argv) {
    return course::polling_program(
        argc, argv, "course-long-polling",
        "course-long-polling: POST /submit, GET /checkstatus?jobId= holds", 10000,
        [](sy::http::response& res, sy::server::loop_state& ls, const std::string& topic) {
            auto h = std::make_shared<hold>(res, ls, topic);
            res.on_abort([w = std::weak_ptr<hold>(h)] {
                if (auto s = w.lock()) s->wait.reset();
            });
            // SIGTERM: a held request is answered now (503 + Retry-After, the project's
            // "going away" for a waiting poll), not kept through the shutdown grace.
            res.on_shutdown([w = std::weak_ptr<hold>(h)] {
                auto s = w.lock();
                if (!s || s->res.finished()) return;
                s->wait.reset();
                s->res.set_header("Retry-After", "1");
                s->res.send(503, "\n\nserver shutting down\n\n", "text/plain");
            });
            course::newest_progress(
                *ls.shard, topic, [h](std::optional<std::uint64_t> p, std::uint64_t last) {
                    if (h->res.closed() || h->res.finished()) return;
                    if (!p) return h->res.send(404, "\n\nno such job\n\n", "text/plain");
                    if (*p >= 100) {
                        return h->res.send(200, "\n\nJobStatus: Complete 100%\n\n",
                                           "text/plain; charset=utf-8");
                    }
                    h->wait_after(last);
                });
        });
}
