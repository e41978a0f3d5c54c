// blocking: the same slow file read done on the loop thread (wrong) and on the pool (right).
//
//   build/bin/blocking --listen 127.0.0.1:8080 --model single
//   GET /sync?ms=N   sleeps N ms (a slow disk) and reads 64 KiB of a file ON THE LOOP THREAD:
//                    every other connection on that loop waits until it is done
//   GET /pool?ms=N   the same work through app.blocking(): it runs on a pool thread and the
//                    reply is sent from the loop when it finishes; the loop keeps serving
//   GET /            "ok": a cheap request, to measure what the others cost their neighbours
// See README.md next to this file for wrk figures.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "switchyard/server/app.hpp"

namespace {

constexpr std::size_t k_read_bytes = 64 * 1024;

// The blocking work: a sleep standing in for a slow disk, then a real read (our own executable,
// which always exists). Returns the bytes read, or -1. Runs on whichever thread calls it.
long slow_read(unsigned ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    std::string buf(k_read_bytes, '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    ::close(fd);
    return static_cast<long>(n);
}

unsigned delay_of(const sy::http::request& req) {
    auto v = req.query("ms");
    if (!v) return 10;
    try {
        return static_cast<unsigned>(std::clamp(std::stol(*v), 0L, 10000L));
    } catch (...) {
        return 10;
    }
}

std::string reply(const char* where, unsigned ms, long n) {
    return std::string(where) + ": slept " + std::to_string(ms) + " ms, read " + std::to_string(n) +
           " bytes\n";
}

}  // namespace

int main(int argc, char** argv) {
    sy::server::app app;
    app.get("/", [](sy::http::request&, sy::http::response& res) {
        res.send(200, "ok\n", "text/plain");
    });
    app.get("/sync", [](sy::http::request& req, sy::http::response& res) {
        unsigned ms = delay_of(req);
        long n = slow_read(ms);  // the loop thread is stuck here for ms milliseconds
        res.send(n < 0 ? 500 : 200, reply("sync", ms, n), "text/plain");
    });
    app.get("/pool", [&app](sy::http::request& req, sy::http::response& res) {
        unsigned ms = delay_of(req);
        // fn runs on a pool thread; the callback runs back on this loop with the result. The
        // response handle is a cheap copy that keeps the exchange alive until we answer (if the
        // client left meanwhile, send() is a no-op).
        bool queued =
            app.blocking([ms] { return slow_read(ms); },
                         [res, ms](long n) mutable {
                             res.send(n < 0 ? 500 : 200, reply("pool", ms, n), "text/plain");
                         });
        if (!queued) res.send(503, "pool queue full\n", "text/plain");
    });
    return app.run(argc, argv);
}
