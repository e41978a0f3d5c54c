// fuzz_stun: the stream framer fed in chunks whose size comes from the first byte; every frame
// it hands out goes through parse() (STUN) or parse_channel_data(), and a parsed message's
// accessors and integrity checks run, so ASan checks every view the codec returns.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "switchyard/proto/stun/framer.hpp"
#include "switchyard/proto/stun/message.hpp"

namespace {

std::size_t touch(const sy::stun::message& m) {
    std::size_t total = 0;
    for (const auto& a : m.attributes())
        for (std::uint8_t c : a.value) total += c;
    (void)m.xor_address(sy::stun::attr::xor_mapped_address);
    (void)m.xor_address(sy::stun::attr::xor_peer_address);
    (void)m.plain_address(sy::stun::attr::mapped_address);
    (void)m.u32(sy::stun::attr::lifetime);
    (void)m.error_code();
    total += m.unknown_required().size();
    const std::uint8_t key[16] = {};
    total += m.check_integrity(key) ? 1 : 0;
    total += m.check_integrity_sha256(key) ? 1 : 0;
    return total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    ++data;
    --size;
    // The whole input as one datagram, as the UDP path sees it.
    sy::stun::message m;
    std::size_t total = 0;
    if (sy::stun::parse(sy::byte_view{data, size}, m) == sy::stun::parse_error::none)
        total += touch(m);
    sy::stun::stream_framer f;
    for (std::size_t off = 0; off < size; off += chunk) {
        sy::byte_view in{data + off, size - off < chunk ? size - off : chunk};
        while (true) {
            sy::stun::frame fr;
            auto r = f.feed(in, fr);
            if (r.out == sy::stun::outcome::error) return 0;
            if (r.consumed > in.size()) __builtin_trap();
            in = in.subspan(r.consumed);
            if (r.out == sy::stun::outcome::need_more) {
                if (!in.empty()) __builtin_trap();
                break;
            }
            if (fr.kind == sy::stun::frame_kind::stun) {
                if (sy::stun::parse(fr.bytes, m) == sy::stun::parse_error::none) total += touch(m);
            } else if (!sy::stun::parse_channel_data(fr.bytes, true)) {
                __builtin_trap();  // the framer only hands out well-formed ChannelData
            }
        }
    }
    return total == 1 ? 1 : 0;
}
