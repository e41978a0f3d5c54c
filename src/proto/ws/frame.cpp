#include "switchyard/proto/ws/frame.hpp"

#include <cstring>
#include <random>

#include "switchyard/proto/ws/error.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sy::ws {

void apply_mask(std::uint8_t* data, std::size_t n, mask_key key, std::size_t offset) {
    // Rotate the key so that index 0 of the rotated key lines up with data[0].
    std::uint8_t k[4];
    for (int i = 0; i < 4; ++i) k[i] = key[(offset + i) & 3];
    std::uint32_t k32;
    std::memcpy(&k32, k, 4);
    std::uint64_t k64 = (std::uint64_t{k32} << 32) | k32;
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i km = _mm_set1_epi32(static_cast<int>(k32));
    for (; i + 64 <= n; i += 64) {
        auto* p = reinterpret_cast<__m128i*>(data + i);
        __m128i a = _mm_loadu_si128(p), b = _mm_loadu_si128(p + 1);
        __m128i c = _mm_loadu_si128(p + 2), d = _mm_loadu_si128(p + 3);
        _mm_storeu_si128(p, _mm_xor_si128(a, km));
        _mm_storeu_si128(p + 1, _mm_xor_si128(b, km));
        _mm_storeu_si128(p + 2, _mm_xor_si128(c, km));
        _mm_storeu_si128(p + 3, _mm_xor_si128(d, km));
    }
    for (; i + 16 <= n; i += 16) {
        auto* p = reinterpret_cast<__m128i*>(data + i);
        _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), km));
    }
#endif
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= k64;
        std::memcpy(data + i, &w, 8);
    }
    for (; i < n; ++i) data[i] ^= k[i & 3];
}

mask_key random_mask_key() {
    thread_local std::mt19937_64 gen{[] {
        std::random_device rd;
        return (std::uint64_t{rd()} << 32) ^ rd();
    }()};
    std::uint64_t v = gen();
    return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
            static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}

std::size_t write_header(std::uint8_t* out, opcode op, std::uint64_t len, const frame_options& o) {
    std::size_t n = 0;
    out[n++] = static_cast<std::uint8_t>((o.fin ? 0x80 : 0) | (o.rsv1 ? 0x40 : 0) |
                                         static_cast<std::uint8_t>(op));
    const std::uint8_t mask_bit = o.mask ? 0x80 : 0;
    if (len <= 125) {
        out[n++] = static_cast<std::uint8_t>(mask_bit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = mask_bit | 126;
        out[n++] = static_cast<std::uint8_t>(len >> 8);
        out[n++] = static_cast<std::uint8_t>(len);
    } else {
        out[n++] = mask_bit | 127;
        for (int s = 56; s >= 0; s -= 8) out[n++] = static_cast<std::uint8_t>(len >> s);
    }
    if (o.mask) {
        std::memcpy(out + n, o.mask->data(), 4);
        n += 4;
    }
    return n;
}

void encode_frame(byte_buffer& out, opcode op, byte_view payload, const frame_options& o) {
    const std::size_t total = header_size(payload.size(), o.mask.has_value()) + payload.size();
    std::uint8_t* p = out.prepare(total).data();
    std::size_t h = write_header(p, op, payload.size(), o);
    if (!payload.empty()) std::memcpy(p + h, payload.data(), payload.size());
    if (o.mask) apply_mask(p + h, payload.size(), *o.mask);
    out.commit(total);
}

shared_bytes encode_shared(opcode op, byte_view payload, const frame_options& o) {
    const std::size_t total = header_size(payload.size(), o.mask.has_value()) + payload.size();
    shared_bytes s = shared_bytes::allocate(total);
    std::uint8_t* p = s.mutable_data();
    std::size_t h = write_header(p, op, payload.size(), o);
    if (!payload.empty()) std::memcpy(p + h, payload.data(), payload.size());
    if (o.mask) apply_mask(p + h, payload.size(), *o.mask);
    return s;
}

void encode_close(byte_buffer& out, std::uint16_t code, std::string_view reason,
                  std::optional<mask_key> mask) {
    frame_options o;
    o.mask = mask;
    if (code == close_code::no_status) {
        encode_frame(out, opcode::close, {}, o);
        return;
    }
    if (reason.size() > 123) {
        std::size_t cut = 123;
        // Back up to a UTF-8 boundary (not inside a continuation run).
        while (cut > 0 && (static_cast<std::uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
        reason = reason.substr(0, cut);
    }
    std::uint8_t buf[125];
    buf[0] = static_cast<std::uint8_t>(code >> 8);
    buf[1] = static_cast<std::uint8_t>(code);
    if (!reason.empty()) std::memcpy(buf + 2, reason.data(), reason.size());
    encode_frame(out, opcode::close, byte_view{buf, 2 + reason.size()}, o);
}

}  // namespace sy::ws
