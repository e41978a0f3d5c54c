// bench_ws: decoder throughput on masked text frames (unmask + UTF-8 validation), server frame
// encoding (byte_buffer and shared_bytes), SSE encoding.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/proto/ws/decoder.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace {

std::string text_of(std::size_t n, bool ascii) {
    std::string s;
    const std::string unit = ascii ? "abcdefgh" : "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    while (s.size() + unit.size() <= n) s += unit;
    while (s.size() < n) s += 'x';
    return s;
}

// Decodes a buffer holding many masked frames; re-masks between iterations is avoided by keeping
// a pristine copy and memcpy'ing it back (counted: memcpy is far faster than the decode).
void decode_text(benchmark::State& st, bool ascii) {
    const std::size_t n = static_cast<std::size_t>(st.range(0));
    const std::string payload = text_of(n, ascii);
    const std::size_t frames = std::max<std::size_t>(1, (256 * 1024) / (n + 14));
    sy::byte_buffer wire;
    sy::ws::frame_options o;
    o.mask = sy::ws::mask_key{0x12, 0x34, 0x56, 0x78};
    for (std::size_t i = 0; i < frames; ++i)
        sy::ws::encode_frame(wire, sy::ws::opcode::text, sy::as_bytes(payload), o);
    std::vector<std::uint8_t> pristine(wire.data(), wire.data() + wire.size());
    std::vector<std::uint8_t> buf(pristine.size());
    sy::ws::decoder dec({.side = sy::ws::role::server, .max_message_size = 1 << 20});
    std::size_t messages = 0;
    for (auto _ : st) {
        std::memcpy(buf.data(), pristine.data(), buf.size());
        sy::mutable_byte_view in{buf.data(), buf.size()};
        while (!in.empty()) {
            sy::ws::event ev;
            auto r = dec.feed(in, ev);
            if (r.out != sy::ws::outcome::complete) {
                st.SkipWithError("decode failed");
                return;
            }
            benchmark::DoNotOptimize(ev.payload.data());
            in = in.subspan(r.consumed);
            ++messages;
        }
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * pristine.size()));
    st.SetItemsProcessed(static_cast<std::int64_t>(messages));
}

void BM_ws_decode_masked_text_ascii(benchmark::State& st) {
    decode_text(st, true);
}
void BM_ws_decode_masked_text_utf8(benchmark::State& st) {
    decode_text(st, false);
}
BENCHMARK(BM_ws_decode_masked_text_ascii)->Arg(16)->Arg(1024)->Arg(65536);
BENCHMARK(BM_ws_decode_masked_text_utf8)->Arg(16)->Arg(1024)->Arg(65536);

void BM_ws_encode_server_frame(benchmark::State& st) {
    const std::string payload(static_cast<std::size_t>(st.range(0)), 'p');
    sy::byte_buffer out(1 << 20);
    for (auto _ : st) {
        sy::ws::encode_frame(out, sy::ws::opcode::text, sy::as_bytes(payload));
        benchmark::DoNotOptimize(out.data());
        out.clear();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * payload.size()));
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
BENCHMARK(BM_ws_encode_server_frame)->Arg(16)->Arg(1024)->Arg(65536);

void BM_ws_encode_shared(benchmark::State& st) {
    const std::string payload(static_cast<std::size_t>(st.range(0)), 'p');
    for (auto _ : st) {
        auto s = sy::ws::encode_shared(sy::ws::opcode::text, sy::as_bytes(payload));
        benchmark::DoNotOptimize(s.data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * payload.size()));
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
BENCHMARK(BM_ws_encode_shared)->Arg(16)->Arg(1024)->Arg(65536);

void BM_ws_unmask(benchmark::State& st) {
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(st.range(0)), 7);
    for (auto _ : st) {
        sy::ws::apply_mask(buf.data(), buf.size(), {1, 2, 3, 4}, 1);
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.size()));
}
BENCHMARK(BM_ws_unmask)->Arg(65536);

void BM_sse_encode(benchmark::State& st) {
    const std::string data = text_of(static_cast<std::size_t>(st.range(0)), true);
    sy::byte_buffer out(1 << 20);
    for (auto _ : st) {
        (void)sy::sse::encode(out, {.id = "12345", .event = "tick", .data = data});
        benchmark::DoNotOptimize(out.data());
        out.clear();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * data.size()));
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
BENCHMARK(BM_sse_encode)->Arg(16)->Arg(1024);

void BM_sse_encode_shared(benchmark::State& st) {
    const std::string data = text_of(static_cast<std::size_t>(st.range(0)), true);
    for (auto _ : st) {
        auto s = sy::sse::encode_shared({.id = "12345", .event = "tick", .data = data});
        benchmark::DoNotOptimize(s);
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
BENCHMARK(BM_sse_encode_shared)->Arg(16)->Arg(1024);

}  // namespace
