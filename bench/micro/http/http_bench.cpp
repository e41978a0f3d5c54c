// Micro-benchmarks for the http layer: router matching over ~50 routes and static path
// resolution (open + fstat below a root).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/http/router.hpp"
#include "switchyard/http/static_files.hpp"

namespace {

using namespace sy::http;

router make_router() {
    router r;
    handler h = [](request&, response&) {};
    const char* resources[] = {"users", "orders",   "products", "carts",  "reviews",
                               "teams", "projects", "issues",   "builds", "tags"};
    for (const char* res : resources) {
        std::string base = std::string("/api/v1/") + res;
        r.get(base, h);
        r.post(base, h);
        r.get(base + "/:id", h);
        r.put(base + "/:id", h);
        r.get(base + "/:id/history/:rev", h);
    }
    r.get("/static/*path", h);
    return r;
}

void run_match(benchmark::State& state, const char* method, const char* target) {
    router r = make_router();
    request req;
    req.set_method(method);
    if (!req.set_target(target)) state.SkipWithError("bad target");
    for (auto _ : state) {
        auto m = r.match(req);
        benchmark::DoNotOptimize(m);
    }
}

void BM_RouterStatic(benchmark::State& s) {
    run_match(s, "GET", "/api/v1/tags");
}
void BM_RouterParam(benchmark::State& s) {
    run_match(s, "GET", "/api/v1/builds/12345");
}
void BM_RouterTwoParams(benchmark::State& s) {
    run_match(s, "GET", "/api/v1/projects/77/history/9");
}
void BM_RouterWildcard(benchmark::State& s) {
    run_match(s, "GET", "/static/css/site/main.css");
}
void BM_Router405(benchmark::State& s) {
    run_match(s, "DELETE", "/api/v1/users/1");
}
void BM_Router404(benchmark::State& s) {
    run_match(s, "GET", "/nope/nothing/here");
}
BENCHMARK(BM_RouterStatic);
BENCHMARK(BM_RouterParam);
BENCHMARK(BM_RouterTwoParams);
BENCHMARK(BM_RouterWildcard);
BENCHMARK(BM_Router405);
BENCHMARK(BM_Router404);

// set_target: percent-decoding + normalisation of a typical path.
void BM_SetTarget(benchmark::State& state) {
    request req;
    for (auto _ : state) {
        req.reset();
        auto r = req.set_target("/static/css/site%20v2/../main.css?v=123");
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_SetTarget);

struct temp_tree {
    std::filesystem::path dir;
    temp_tree() {
        char tmpl[] = "/tmp/sy_http_bench_XXXXXX";
        dir = ::mkdtemp(tmpl);
        std::filesystem::create_directories(dir / "css/site");
        std::ofstream(dir / "css/site/main.css") << "body{}";
    }
    ~temp_tree() { std::filesystem::remove_all(dir); }
};

void resolve_bench(benchmark::State& state, static_options::symlinks policy) {
    temp_tree t;
    static_options o;
    o.symlink_policy = policy;
    static_root root(t.dir.string(), o);
    for (auto _ : state) {
        auto f = root.resolve("css/site/main.css", false);
        benchmark::DoNotOptimize(f);
    }
}
void BM_StaticResolveBeneath(benchmark::State& s) {
    resolve_bench(s, static_options::symlinks::within_root);
}
void BM_StaticResolveWalk(benchmark::State& s) {
    resolve_bench(s, static_options::symlinks::never);
}
BENCHMARK(BM_StaticResolveBeneath);
BENCHMARK(BM_StaticResolveWalk);

}  // namespace

BENCHMARK_MAIN();
