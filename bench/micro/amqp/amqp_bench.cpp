// AMQP codec micro-benchmarks: the broker's per-message paths.
//   decode_publish: frame_decoder + content_assembler over basic.publish + header + 64 B body
//   encode_publish: the same three frames encoded
//   encode_deliver: basic.deliver + header + 64 B body (the fan-out framing path)
//   decode_table:   validate + iterate a 6-entry headers table
#include <benchmark/benchmark.h>

#include <string>

#include "switchyard/proto/amqp/content.hpp"
#include "switchyard/proto/amqp/frame.hpp"

namespace {

using namespace sy::amqp;
using namespace std::literals;

const std::string body64(64, 'b');

basic_properties props() {
    basic_properties p;
    p.set_content_type("application/json").set_delivery_mode(2).set_message_id("m-1");
    return p;
}

std::string publish_bytes() {
    sy::byte_buffer out;
    encode_content(out, 1, basic_publish{.exchange = "amq.topic", .routing_key = "a.b.c"}, props(),
                   sy::as_bytes(body64), 131072);
    return std::string(out.view());
}

void decode_publish(benchmark::State& st) {
    const std::string in = publish_bytes();
    content_assembler a;
    for (auto _ : st) {
        frame_decoder d({.expect_protocol_header = false, .frame_max = 131072});
        sy::byte_view v = sy::as_bytes(in);
        while (!v.empty()) {
            feed_result r = d.feed(v);
            auto res = a.on_frame(r.f);
            benchmark::DoNotOptimize(res);
            v = v.subspan(r.consumed);
        }
        benchmark::DoNotOptimize(a.body().data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * in.size()));
}
BENCHMARK(decode_publish);

void encode_publish(benchmark::State& st) {
    sy::byte_buffer out(4096);
    const basic_properties p = props();
    for (auto _ : st) {
        out.clear();
        encode_content(out, 1, basic_publish{.exchange = "amq.topic", .routing_key = "a.b.c"}, p,
                       sy::as_bytes(body64), 131072);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(encode_publish);

void encode_deliver(benchmark::State& st) {
    sy::byte_buffer out(4096);
    const basic_properties p = props();
    std::uint64_t tag = 0;
    for (auto _ : st) {
        out.clear();
        encode_content(out, 1,
                       basic_deliver{.consumer_tag = "amq.ctag-1234567890",
                                     .delivery_tag = ++tag,
                                     .exchange = "amq.topic",
                                     .routing_key = "a.b.c"},
                       p, sy::as_bytes(body64), 131072);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(encode_deliver);

void decode_table_bench(benchmark::State& st) {
    sy::byte_buffer t;
    encode_table(t, {{"x-retry", std::int32_t{3}},
                     {"x-trace-id", "4bf92f3577b34da6a3ce929d0e0e4736"sv},
                     {"x-first-death-reason", "expired"sv},
                     {"x-priority", std::uint8_t{5}},
                     {"x-ts", timestamp_value{1700000000}},
                     {"redelivered", false}});
    for (auto _ : st) {
        auto v = decode_table(t.readable());
        std::size_t n = 0;
        for (const auto& e : v->entries()) n += e.key.size() + e.value.index();
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(decode_table_bench)->Name("decode_table");

}  // namespace

BENCHMARK_MAIN();
