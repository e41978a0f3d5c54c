// sy-bench: load generator for switchyard's push transports (and nchan, with URL templates).
// See docs/sy-bench.md. The main thread orchestrates phases and prints; loops do all I/O.
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "h3.hpp"
#include "options.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/core/loop_group.hpp"
#include "worker.hpp"

using namespace sy::bench;

namespace {

struct totals {
    std::uint64_t subs_ready = 0, subs_closed = 0, pubs_ready = 0;
    std::uint64_t deliveries = 0, unique = 0, duplicates = 0, foreign = 0;
    std::uint64_t sent = 0, ok = 0, errors = 0, outstanding = 0, window_full = 0, polls = 0;
    std::uint64_t last_delivery_ns = 0;
    std::uint64_t expected = 0;
};

totals sum(const run_shared& sh) {
    const options& o = sh.opt;
    totals t;
    for (const worker* w : sh.workers) {
        const loop_stats& s = w->stats();
        t.subs_ready += s.subs_ready.get();
        t.subs_closed += s.subs_closed.get();
        t.pubs_ready += s.pubs_ready.get();
        t.deliveries += s.deliveries.get();
        t.unique += s.unique.get();
        t.duplicates += s.duplicates.get();
        t.foreign += s.foreign.get();
        t.sent += s.sent.get();
        t.ok += s.ok.get();
        t.errors += s.errors.get();
        t.outstanding += s.outstanding.get();
        t.window_full += s.window_full.get();
        t.polls += s.polls.get();
        t.last_delivery_ns = std::max(t.last_delivery_ns, s.last_delivery_ns.get());
        // Subscriber i follows topic i % topics: expected = sum over topics of ok x followers.
        for (std::size_t topic = 0; topic < o.topics; ++topic) {
            std::uint64_t followers = o.subscribers / o.topics + (topic < o.subscribers % o.topics);
            t.expected += s.ok_per_topic[topic].get() * followers;
        }
    }
    return t;
}

double secs_since(std::int64_t t0) {
    return static_cast<double>(sy::now_ns() - t0) / 1e9;
}

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

double ms(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

struct result_view {
    const options& o;
    const totals& t;
    const histogram& h;
    double connect_s, publish_s, throughput_s;
    std::uint64_t lost;
    std::string error;
    std::uint64_t peak_streams = 0;  // h3
};

void print_human(const result_view& r) {
    const options& o = r.o;
    const totals& t = r.t;
    const histogram& h = r.h;
    std::printf("sy-bench %s: ", to_string(o.cmd));
    if (o.cmd == mode::http || o.cmd == mode::h3) {
        std::printf("%zu connections, window %zu, %s %s\n", o.publishers, o.window,
                    o.method.c_str(), o.url.c_str());
        if (o.cmd == mode::h3) {
            std::printf("connected   %" PRIu64 "/%zu QUIC connections in %.3f s\n", t.pubs_ready,
                        o.publishers, r.connect_s);
            std::printf("streams     at most %" PRIu64 " open at once on one connection\n",
                        r.peak_streams);
        }
        std::printf("requests    %" PRIu64 " ok, %" PRIu64 " errors in %.2f s: %.0f req/s\n", t.ok,
                    t.errors, r.publish_s, r.publish_s > 0 ? t.ok / r.publish_s : 0.0);
    } else {
        std::printf("%zu subscribers on %zu topic(s), %zu publisher(s), ", o.subscribers, o.topics,
                    o.publishers);
        if (o.rate > 0)
            std::printf("rate %.0f/s", o.rate);
        else
            std::printf("window %zu", o.window);
        std::printf(", %zu B, %zu threads\n", o.size, o.threads);
        std::printf("connected   %" PRIu64 "/%zu subscribers in %.2f s, %" PRIu64 " lost later\n",
                    t.subs_ready, o.subscribers, r.connect_s, t.subs_closed);
        std::printf("published   %" PRIu64 " ok, %" PRIu64 " errors in %.2f s (%.1f/s)\n", t.ok,
                    t.errors, r.publish_s, r.publish_s > 0 ? t.ok / r.publish_s : 0.0);
        std::printf("deliveries  %" PRIu64 " of %" PRIu64 " expected: %" PRIu64 " lost, %" PRIu64
                    " duplicate, %" PRIu64 " foreign\n",
                    t.unique, t.expected, r.lost, t.duplicates, t.foreign);
        std::printf("throughput  %.0f deliveries/s\n",
                    r.throughput_s > 0 ? t.unique / r.throughput_s : 0.0);
    }
    std::printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (n=%" PRIu64 ")\n",
                ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)),
                ms(h.percentile(99.9)), ms(h.max()), h.count());
    if (!r.error.empty()) std::printf("error       %s\n", r.error.c_str());
}

void print_json(const result_view& r) {
    const totals& t = r.t;
    const histogram& h = r.h;
    const double rate = r.o.cmd == mode::http || r.o.cmd == mode::h3
                            ? (r.publish_s > 0 ? t.ok / r.publish_s : 0.0)
                            : (r.throughput_s > 0 ? t.unique / r.throughput_s : 0.0);
    std::printf("{\"mode\":\"%s\",\"subscribers\":%zu,\"connected\":%" PRIu64
                ",\"subs_lost\":%" PRIu64 ",\"published\":%" PRIu64 ",\"publish_errors\":%" PRIu64
                ",\"publish_s\":%.3f,\"deliveries\":%" PRIu64 ",\"expected\":%" PRIu64
                ",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"foreign\":%" PRIu64
                ",\"rate\":%.1f,\"connect_s\":%.3f,\"lat_ms\":{\"p50\":%.4f,\"p90\":%.4f,"
                "\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f,\"mean\":%.4f,\"n\":%" PRIu64
                "},\"peak_streams\":%" PRIu64 ",\"error\":\"%s\"}\n",
                to_string(r.o.cmd), r.o.subscribers, t.subs_ready, t.subs_closed, t.ok, t.errors,
                r.publish_s, t.unique, t.expected, r.lost, t.duplicates, t.foreign, rate,
                r.connect_s, ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)),
                ms(h.percentile(99.9)), ms(h.max()), h.mean() / 1e6, h.count(), r.peak_streams,
                r.error.empty() ? "" : "failed");
}

/// h3 mode: run_h3 does the whole run on its own threads; the report is the http mode's.
int main_h3(const options& o) {
    h3_result h = run_h3(o);
    totals t;
    t.ok = h.ok;
    t.errors = h.errors;
    t.pubs_ready = h.connected;
    t.subs_ready = h.connected;  // "connected" in the JSON: QUIC handshakes completed
    result_view r{o, t, h.latency, h.connect_s, h.run_s, 0, 0, h.error, h.peak_streams};
    print_human(r);
    if (o.json) print_json(r);
    std::fflush(stdout);
    return h.error.empty() && h.ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    int code = 0;
    if (!parse_options(argc, argv, o, code)) return code;
    ::signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (o.cmd == mode::h3) return main_h3(o);

    run_shared sh(o);
    auto group = std::make_unique<sy::core::loop_group>(
        sy::core::loop_group::options{.threads = o.threads, .name = "sy-bench"});
    std::vector<std::unique_ptr<worker>> workers;
    for (std::size_t i = 0; i < o.threads; ++i) {
        workers.push_back(std::make_unique<worker>(i, group->at(i), sh));
        sh.workers.push_back(workers.back().get());
    }
    const std::int64_t t_connect = sy::now_ns();
    group->start([&](std::size_t i, sy::core::loop&) { workers[i]->start(); });

    // Phase 1: every subscriber subscribed and every publisher connected (or a failure).
    const std::size_t want_subs = o.cmd == mode::http ? 0 : o.subscribers;
    const double connect_limit = o.connect_timeout_s + 5 + static_cast<double>(o.subscribers) / 500;
    double next_print = 1;
    for (;;) {
        totals t = sum(sh);
        if (sh.fatal.load()) break;
        if (t.subs_ready >= want_subs && t.pubs_ready >= o.publishers) break;
        double el = secs_since(t_connect);
        if (el > connect_limit) {
            sh.fail("timed out waiting for subscribers/publishers to connect");
            break;
        }
        if (!o.quiet && el >= next_print) {
            std::fprintf(stderr,
                         "[%5.1fs] connecting: %" PRIu64 "/%zu subscribers, %" PRIu64
                         "/%zu publishers\n",
                         el, t.subs_ready, want_subs, t.pubs_ready, o.publishers);
            next_print += 1;
        }
        sleep_ms(10);
    }
    const double connect_s = secs_since(t_connect);
    if (!o.quiet && !sh.fatal.load()) {
        // Scripts wait for this line (e.g. to sample server RSS with every subscriber connected).
        std::fprintf(stderr, "[%5.1fs] subscribed %" PRIu64 "/%zu\n", connect_s, sum(sh).subs_ready,
                     want_subs);
    }

    // Phase 2: publish for --duration (or until --messages).
    double publish_s = 0;
    if (!sh.fatal.load()) {
        sleep_ms(static_cast<int>(o.settle_s * 1000));
        sh.publish_start_ns = sy::now_ns();
        for (std::size_t i = 0; i < o.threads; ++i)
            group->post(i, [w = workers[i].get()] { w->begin_publishing(); });
        totals prev{};
        next_print = 1;
        while (!sh.fatal.load() && !sh.stop_publishing.load()) {
            double el = secs_since(sh.publish_start_ns);
            if (el >= o.duration_s) break;
            if (!o.quiet && el >= next_print) {
                totals t = sum(sh);
                std::fprintf(stderr,
                             "[%5.1fs] published %" PRIu64 " (+%" PRIu64 "/s) errors %" PRIu64
                             "  deliveries %" PRIu64 " (+%" PRIu64 "/s)  subs %" PRIu64
                             " lost %" PRIu64 "\n",
                             el, t.ok, t.ok - prev.ok, t.errors, t.unique, t.unique - prev.unique,
                             t.subs_ready, t.subs_closed);
                prev = t;
                next_print += 1;
            }
            sleep_ms(5);
        }
        sh.stop_publishing.store(true);
        publish_s = secs_since(sh.publish_start_ns);

        // Phase 3: answers to the last publishes, then late deliveries (--drain).
        const std::int64_t t_end = sy::now_ns();
        while (!sh.fatal.load() && sum(sh).outstanding > 0 && secs_since(t_end) < 5 + o.drain_s)
            sleep_ms(5);
        const std::int64_t t_drain = sy::now_ns();
        while (o.cmd != mode::http && !sh.fatal.load() && secs_since(t_drain) < o.drain_s) {
            totals t = sum(sh);
            if (t.unique >= t.expected) break;
            sleep_ms(5);
        }
    }

    for (std::size_t i = 0; i < o.threads; ++i)
        group->post(i, [w = workers[i].get()] { w->shutdown(); });
    sleep_ms(50);  // let the closes run (frees are deferred to the next turn)
    group->stop();
    group.reset();

    totals t = sum(sh);
    histogram lat;
    for (auto& w : workers) lat.merge(w->stats().latency);
    double throughput_s = 0;
    if (t.last_delivery_ns > static_cast<std::uint64_t>(sh.publish_start_ns))
        throughput_s = static_cast<double>(t.last_delivery_ns - sh.publish_start_ns) / 1e9;
    result_view r{o,
                  t,
                  lat,
                  connect_s,
                  publish_s,
                  throughput_s,
                  t.expected > t.unique ? t.expected - t.unique : 0,
                  sh.first_error()};
    print_human(r);
    if (o.json) print_json(r);
    std::fflush(stdout);
    return sh.fatal.load() ? 1 : 0;
}
