// fuzz_ws_frame: the server-role decoder, without and with permessage-deflate (chosen by the
// second input byte), fed in chunks whose size comes from the first byte.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/proto/ws/decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::uint8_t mode = data[1];
    data += 2;
    size -= 2;
    sy::ws::decoder_config cfg;
    cfg.side = (mode & 4) ? sy::ws::role::client : sy::ws::role::server;
    cfg.max_message_size = 64 * 1024;
    cfg.allow_non_minimal_length = mode & 8;
    if (mode & 1) {
        sy::ws::deflate_params p;
        p.client_no_context_takeover = mode & 2;
        p.server_no_context_takeover = mode & 2;
        p.client_max_window_bits = 9 + (mode >> 4) % 7;
        p.server_max_window_bits = p.client_max_window_bits;
        cfg.deflate = p;
    }
    sy::ws::decoder dec(cfg);
    sy::byte_buffer in;
    std::size_t total = 0;
    for (std::size_t off = 0; off < size; off += chunk) {
        const std::size_t n = size - off < chunk ? size - off : chunk;
        in.append(data + off, n);
        for (;;) {
            sy::ws::event ev;
            auto r = dec.feed(sy::mutable_byte_view{in.data(), in.size()}, ev);
            if (r.out == sy::ws::outcome::error) {
                (void)sy::ws::close_code_for(dec.last_error());
                return 0;
            }
            if (r.consumed > in.size()) __builtin_trap();
            in.consume(r.consumed);
            if (r.out == sy::ws::outcome::need_more) {
                if (!in.empty()) __builtin_trap();  // the decoder must take everything
                break;
            }
            // Touch the payload so ASan checks the view.
            for (std::uint8_t c : ev.payload) total += c;
            if (ev.op == sy::ws::opcode::text && !sy::is_valid_utf8(ev.payload)) __builtin_trap();
            if (ev.payload.size() > cfg.max_message_size) __builtin_trap();
        }
    }
    return total == 1 ? 1 : 0;
}
