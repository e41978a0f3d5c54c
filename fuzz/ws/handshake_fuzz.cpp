// fuzz_ws_handshake: splits the input into the handshake header values (NUL-separated), runs the
// server side with deflate enabled, and the client-side response-head parser on the raw input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "switchyard/proto/ws/handshake.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    std::string_view s(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string_view f[10];
    for (auto& v : f) {
        const std::size_t p = s.find('\0');
        v = s.substr(0, p);
        s = p == std::string_view::npos ? std::string_view{} : s.substr(p + 1);
    }
    sy::ws::handshake_request req{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]};
    sy::ws::handshake_config cfg;
    cfg.subprotocols = {"chat", "superchat"};
    cfg.deflate.enabled = true;
    cfg.deflate.client_max_window_bits = 10;
    if (chunk & 1) cfg.allowed_origins = {"https://a.example"};
    auto r = sy::ws::accept_handshake(req, cfg);
    sy::byte_buffer out;
    if (r) {
        r->write(out);
        if (r->deflate) {
            // Our own response must satisfy a client that made the same offer.
            sy::ws::deflate_config cc;
            cc.enabled = true;
            std::optional<sy::ws::deflate_params> back;
            (void)sy::ws::accept_deflate_response(r->deflate->to_header(), cc, back);
        }
    } else {
        sy::ws::write_rejection(out, r.error());
    }
    // Client side: parse the raw bytes as a response head, growing chunk by chunk.
    sy::ws::client_handshake c({.host = "h", .subprotocols = {"chat"}, .deflate = cfg.deflate},
                               "dGhlIHNhbXBsZSBub25jZQ==");
    for (std::size_t n = 0; n <= size - 1; n += chunk) {
        auto h = sy::ws::parse_response_head({data + 1, n});
        if (!h) break;
        if (*h) {
            (void)c.validate(**h);
            break;
        }
    }
    return 0;
}
