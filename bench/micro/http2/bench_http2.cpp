// bench_http2: in-memory HTTP/2 GET round trips (client_session <-> server_session, both
// nghttp2, no sockets) with 1 and 16 concurrent streams, and gRPC message encode/decode.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/proto/http2/client_session.hpp"
#include "switchyard/proto/http2/server_session.hpp"

using namespace sy;

namespace {

struct srv_obs : http2::server_observer {
    http2::server_session* s = nullptr;
    shared_bytes body = shared_bytes::copy_of("hello, world\n");
    void on_request(const http2::request_head& r) override {
        http2::header_field h[] = {{"content-type", "text/plain"}};
        (void)s->submit_response(r.id, 200, h, false);
        (void)s->submit_data(r.id, body, true);
    }
    void on_data(http2::stream_id, byte_view, bool) override {}
};

struct cli_obs : http2::client_observer {
    int done = 0;
    void on_response(const http2::response_head&) override {}
    void on_data(http2::stream_id, byte_view, bool end) override { done += end ? 1 : 0; }
};

void bm_h2_get(benchmark::State& state) {
    const int concurrent = static_cast<int>(state.range(0));
    srv_obs so;
    cli_obs co;
    http2::server_session server(so);
    so.s = &server;
    http2::client_session client(co);
    byte_buffer c2s, s2c;
    auto pump = [&] {
        for (;;) {
            client.pull_output(c2s);
            if (!c2s.empty()) (void)server.feed(c2s.readable());
            server.pull_output(s2c);
            if (!s2c.empty()) client.feed(s2c.readable());
            bool idle = c2s.empty() && s2c.empty();
            c2s.clear();
            s2c.clear();
            if (idle) return;
        }
    };
    pump();
    http2::header_field h[] = {{"user-agent", "bench"}, {"accept", "*/*"}};
    for (auto _ : state) {
        co.done = 0;
        for (int i = 0; i < concurrent; ++i)
            (void)client.submit_request("GET", "http", "localhost", "/hello", h, {});
        pump();
        if (co.done != concurrent) state.SkipWithError("lost responses");
    }
    state.SetItemsProcessed(state.iterations() * concurrent);
}
BENCHMARK(bm_h2_get)->Arg(1)->Arg(16);

void bm_grpc_encode(benchmark::State& state) {
    std::string msg(static_cast<std::size_t>(state.range(0)), 'm');
    byte_buffer out(1 << 16);
    for (auto _ : state) {
        (void)grpc::encode(as_bytes(msg), out);
        out.clear();
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_grpc_encode)->Arg(64)->Arg(1024)->Arg(16384);

void bm_grpc_decode(benchmark::State& state) {
    std::string msg(static_cast<std::size_t>(state.range(0)), 'm');
    byte_buffer wire;
    for (int i = 0; i < 16; ++i) (void)grpc::encode(as_bytes(msg), wire);
    grpc::decoder dec;
    for (auto _ : state) {
        byte_view in = wire.readable();
        grpc::message m;
        while (!in.empty()) {
            auto r = dec.feed(in, m);
            in = in.subspan(r.consumed);
            benchmark::DoNotOptimize(m.payload.data());
        }
    }
    state.SetItemsProcessed(state.iterations() * 16);
    state.SetBytesProcessed(state.iterations() * 16 * state.range(0));
}
BENCHMARK(bm_grpc_decode)->Arg(64)->Arg(1024)->Arg(16384);

void bm_grpc_gzip_round_trip(benchmark::State& state) {
    std::string msg;
    for (int i = 0; i < 256; ++i) msg += "field_" + std::to_string(i) + "=value;";
    byte_buffer wire;
    grpc::decoder dec({.encoding = grpc::compression::gzip});
    for (auto _ : state) {
        (void)grpc::encode(as_bytes(msg), wire, grpc::compression::gzip);
        grpc::message m;
        auto r = dec.feed(wire.readable(), m);
        benchmark::DoNotOptimize(r);
        wire.clear();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(bm_grpc_gzip_round_trip);

}  // namespace

BENCHMARK_MAIN();
