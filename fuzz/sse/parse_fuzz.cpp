// fuzz_sse_parse: the event-stream parser fed in chunks (size from the first byte); the second
// byte toggles comment reporting. Checks the dispatch invariants.
#include <cstddef>
#include <cstdint>

#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/proto/sse/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    sy::sse::parser_config cfg;
    cfg.report_comments = data[1] & 1;
    cfg.max_line = 4096;
    cfg.max_data = 8192;
    data += 2;
    size -= 2;
    sy::sse::parser p(cfg);
    for (std::size_t off = 0; off < size; off += chunk) {
        sy::byte_view in{data + off, size - off < chunk ? size - off : chunk};
        while (true) {
            sy::sse::event ev;
            auto r = p.feed(in, ev);
            if (r.out == sy::sse::outcome::error) return 0;
            if (r.consumed > in.size()) __builtin_trap();
            in = in.subspan(r.consumed);
            if (r.out == sy::sse::outcome::need_more) break;
            if (ev.kind == sy::sse::event_kind::message) {
                if (ev.type.empty() || ev.data.size() > cfg.max_data) __builtin_trap();
                // Re-encoding what was parsed must be possible when the fields are clean.
                sy::byte_buffer out;
                (void)sy::sse::encode(out,
                                      {.id = ev.last_event_id, .event = ev.type, .data = ev.data});
            }
        }
    }
    return 0;
}
