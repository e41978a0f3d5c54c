// WebSocket framing (RFC 6455 5.2): opcodes, the masking transform and the frame encoder.
//
// Server frames are unmasked, so a published message is framed ONCE into a sy::shared_bytes and
// the same bytes are queued on every subscriber (encode_shared). Client frames are masked with a
// caller-supplied key, or with random_mask_key().
//
// All functions are pure (no state) and thread-safe, except random_mask_key (thread-local state).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"

namespace sy::ws {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

constexpr bool is_control(opcode op) {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}
constexpr bool is_known_opcode(std::uint8_t op) {
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

using mask_key = std::array<std::uint8_t, 4>;

/// XORs data with the mask, starting at mask byte `offset % 4` (so a payload can be unmasked in
/// pieces). 16 bytes per step with SSE2, 8 bytes per step otherwise.
void apply_mask(std::uint8_t* data, std::size_t n, mask_key key, std::size_t offset = 0);

/// Mask key from a thread-local generator seeded from the OS (RFC 6455 10.3 wants keys the
/// application cannot predict; a seeded PRNG is what browsers' peers in load tests need).
mask_key random_mask_key();

/// Options of one outgoing frame.
struct frame_options {
    bool fin = true;
    bool rsv1 = false;             // set on the first frame of a permessage-deflate message
    std::optional<mask_key> mask;  // client role: set (RFC 6455 5.3); server role: empty
};

/// Size of the header (2..14 bytes) for a payload of payload_len bytes.
constexpr std::size_t header_size(std::uint64_t payload_len, bool masked) {
    std::size_t n = 2 + (masked ? 4 : 0);
    if (payload_len > 0xFFFF)
        n += 8;
    else if (payload_len > 125)
        n += 2;
    return n;
}
inline constexpr std::size_t max_header_size = 14;

/// Writes the frame header into out (at least header_size() bytes); returns the bytes written.
std::size_t write_header(std::uint8_t* out, opcode op, std::uint64_t payload_len,
                         const frame_options& o = {});

/// Appends one frame (header + payload, masked when o.mask is set) to out.
void encode_frame(byte_buffer& out, opcode op, byte_view payload, const frame_options& o = {});

/// One unmasked frame in freshly allocated shared bytes: the server's fan-out path. The same
/// shared_bytes may be written to any number of connections (it is never mutated again).
shared_bytes encode_shared(opcode op, byte_view payload, const frame_options& o = {});

/// Close frame (RFC 6455 5.5.1): a 2-byte code in network order then a UTF-8 reason. The reason
/// is truncated to 123 bytes (control payloads are at most 125), at a UTF-8 boundary.
/// code == close_code::no_status (1005) writes an empty close frame.
void encode_close(byte_buffer& out, std::uint16_t code, std::string_view reason = {},
                  std::optional<mask_key> mask = std::nullopt);

}  // namespace sy::ws
