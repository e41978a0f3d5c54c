// Micro-benchmarks for the reactor: cross-thread post throughput, timer arm/cancel, and echo round
// trips over loopback TCP through listener + connection.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "switchyard/core/loop.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/listener.hpp"

using namespace sy;
using namespace std::chrono_literals;

// One producer thread posts state.range(0) tasks per iteration to a loop running on its own thread.
static void BM_PostCrossThread(benchmark::State& state) {
    core::loop l;
    std::atomic<std::uint64_t> ran{0};
    std::atomic<bool> quit{false};
    std::thread t([&] {
        while (!quit.load(std::memory_order_relaxed)) l.run_once(1);
    });
    const auto batch = static_cast<std::uint64_t>(state.range(0));
    std::uint64_t expected = 0;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < batch; ++i)
            l.post([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
        expected += batch;
        while (ran.load(std::memory_order_acquire) < expected) std::this_thread::yield();
    }
    quit = true;
    l.post([] {});
    t.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(expected));
}
BENCHMARK(BM_PostCrossThread)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

// The queue itself without a thread hop: post a batch, run one turn.
static void BM_PostThenRun(benchmark::State& state) {
    core::loop l;
    std::uint64_t ran = 0;
    for (auto _ : state) {
        for (int i = 0; i < 256; ++i) l.post([&ran] { ++ran; });
        l.run_once(0);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(ran));
}
BENCHMARK(BM_PostThenRun);

static void BM_TimerArmCancel(benchmark::State& state) {
    core::loop l;
    // A realistic population: n other timers pending.
    for (int i = 0; i < state.range(0); ++i)
        l.add_timer(std::chrono::milliseconds(1000 + i), [] {});
    for (auto _ : state) {
        auto id = l.add_timer(30s, [] {});
        benchmark::DoNotOptimize(l.cancel_timer(id));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerArmCancel)->Arg(0)->Arg(10000);

static void BM_TimerReschedule(benchmark::State& state) {
    core::loop l;
    for (int i = 0; i < state.range(0); ++i)
        l.add_timer(std::chrono::milliseconds(1000 + i), [] {});
    auto id = l.add_timer(30s, [] {});
    std::int64_t ms = 0;
    for (auto _ : state) l.reschedule_timer(id, std::chrono::milliseconds(5000 + (++ms % 10000)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerReschedule)->Arg(10000);

namespace {
struct echo_handler : net::connection_handler {
    void on_data(net::connection& c, byte_buffer& in) override {
        c.write(in.readable());
        in.consume(in.size());
    }
};
}  // namespace

// Client (benchmark thread, blocking socket) <-> echo connection on a loop thread, 64-byte
// messages: measures the full path read -> on_data -> queued write -> before-sleep writev.
static void BM_EchoRoundTrip(benchmark::State& state) {
    core::loop l;
    net::connection_options co;
    net::connection_list conns;
    auto lst = net::listener::open(
        l, *net::address::parse("127.0.0.1:0"), {}, [&](net::accepted_socket&& s) {
            net::connection::create(l, net::tcp_stream(std::move(s.fd)),
                                    std::make_unique<echo_handler>(), co, {}, &conns);
        });
    if (!lst) {
        state.SkipWithError("listen failed");
        return;
    }
    std::atomic<bool> quit{false};
    std::thread t([&] {
        while (!quit.load(std::memory_order_relaxed)) l.run_once(10);
        conns.close_all(net::close_mode::immediate);
        l.run_once(0);
    });
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto addr = net::address::ipv4_loopback((*lst)->port());
    if (::connect(fd, addr.sa(), addr.len()) != 0) state.SkipWithError("connect failed");
    (void)net::set_nodelay(fd);
    char msg[64] = {1}, buf[64];
    for (auto _ : state) {
        if (::send(fd, msg, sizeof msg, 0) != sizeof msg) break;
        std::size_t got = 0;
        while (got < sizeof buf) {
            ssize_t r = ::recv(fd, buf + got, sizeof buf - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
    }
    ::close(fd);
    quit = true;
    l.post([] {});
    t.join();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EchoRoundTrip)->UseRealTime();
BENCHMARK_MAIN();
