// Fuzz target for the AMQP codec: protocol header, frame decoder, method and content header
// decoding, content assembly and table iteration. The first byte picks the chunk size
// (1 + b % 64) and whether the stream starts with a protocol header (bit 7); the rest is fed in
// chunks through a byte_buffer, as a connection would.
#include <cstddef>
#include <cstdint>
#include <map>

#include "switchyard/proto/amqp/content.hpp"
#include "switchyard/proto/amqp/frame.hpp"

namespace {

using namespace sy::amqp;

// Touches every entry so iteration over validated views is exercised (and checked by ASan).
std::size_t walk(const table_view& t, int depth = 0);
std::size_t walk_value(const field_value& v, int depth) {
    if (const auto* t = std::get_if<table_view>(&v)) return walk(*t, depth + 1);
    if (const auto* a = std::get_if<array_view>(&v)) {
        std::size_t n = 0;
        for (const auto& x : a->values()) n += walk_value(x, depth + 1);
        return n;
    }
    if (const auto* s = std::get_if<std::string_view>(&v)) return s->size();
    return 1;
}
std::size_t walk(const table_view& t, int depth) {
    std::size_t n = 0;
    if (depth > max_table_depth + 1) __builtin_trap();  // validation must bound nesting
    for (const auto& e : t.entries()) n += e.key.size() + walk_value(e.value, depth);
    return n;
}

void check_round_trip(const method_variant& m) {
    sy::byte_buffer out;
    encode_method(out, m);
    auto back = decode_method(out.readable());
    if (!back || !(*back == m)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    frame_decoder dec({.expect_protocol_header = (data[0] & 0x80) != 0, .frame_max = 0x10000});
    std::map<std::uint16_t, content_assembler> chans;
    sy::byte_buffer buf;
    std::size_t off = 1;
    std::size_t sink = 0;
    while (off < size) {
        const std::size_t n = std::min(chunk, size - off);
        buf.append(data + off, n);
        off += n;
        for (;;) {
            feed_result r = dec.feed(buf.readable());
            if (r.status != outcome::complete) {
                if (r.status != outcome::need_more) return 0;
                break;
            }
            if (r.kind == event_kind::frame && r.f.type == frame_type::method) {
                if (auto m = decode_method(r.f.payload)) check_round_trip(*m);
            }
            if (r.kind == event_kind::frame && r.f.type == frame_type::header) {
                if (auto h = decode_content_header(r.f.payload))
                    sink += walk(h->properties.headers);
            }
            if (r.kind == event_kind::frame && r.f.type != frame_type::heartbeat) {
                auto& a = chans.try_emplace(r.f.channel, assembler_options{1 << 20}).first->second;
                auto res = a.on_frame(r.f);
                if (!res) return 0;
                if (*res == assembly::complete && a.header()) sink += a.body().size();
            }
            buf.consume(r.consumed);
        }
    }
    // Tables on their own, from the raw input.
    if (auto t = decode_table({data + 1, size - 1})) sink += walk(*t);
    volatile std::size_t keep = sink;
    (void)keep;
    return 0;
}
