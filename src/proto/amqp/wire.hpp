// Private: big-endian readers and writers for AMQP 0-9-1 primitive types (amqp0-9-1.pdf 4.2.5),
// shared by the hand-written codec and the generated method (de)serializers.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/proto/amqp/error.hpp"
#include "switchyard/proto/amqp/field_table.hpp"

namespace sy::amqp::detail {

inline std::uint16_t load_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
    return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}
inline void store_u16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) {
    store_u32(p, static_cast<std::uint32_t>(v >> 32));
    store_u32(p + 4, static_cast<std::uint32_t>(v));
}

/// Bounds-checked cursor over a method/header payload. Every read returns false when the input
/// is too short; views returned point into the input.
struct reader {
    const std::uint8_t* p;
    const std::uint8_t* end;

    explicit reader(byte_view b) : p(b.data()), end(b.data() + b.size()) {}
    std::size_t left() const { return static_cast<std::size_t>(end - p); }

    bool u8(std::uint8_t& v) {
        if (left() < 1) return false;
        v = *p++;
        return true;
    }
    bool u16(std::uint16_t& v) {
        if (left() < 2) return false;
        v = load_u16(p);
        p += 2;
        return true;
    }
    bool u32(std::uint32_t& v) {
        if (left() < 4) return false;
        v = load_u32(p);
        p += 4;
        return true;
    }
    bool u64(std::uint64_t& v) {
        if (left() < 8) return false;
        v = load_u64(p);
        p += 8;
        return true;
    }
    bool bytes(std::size_t n, const std::uint8_t*& out) {
        if (left() < n) return false;
        out = p;
        p += n;
        return true;
    }
    bool shortstr(std::string_view& s) {
        std::uint8_t n;
        const std::uint8_t* b;
        if (!u8(n) || !bytes(n, b)) return false;
        s = {reinterpret_cast<const char*>(b), n};
        return true;
    }
    bool longstr(std::string_view& s) {
        std::uint32_t n;
        const std::uint8_t* b;
        if (!u32(n) || !bytes(n, b)) return false;
        s = {reinterpret_cast<const char*>(b), n};
        return true;
    }
};

/// Reads and validates a table (4-byte length + entries) at r; on failure sets err.
bool read_table(reader& r, table_view& t, error& err, int depth = 0);
bool read_array(reader& r, array_view& a, error& err, int depth = 0);

inline void put_u8(byte_buffer& out, std::uint8_t v) {
    out.append(&v, 1);
}
inline void put_u16(byte_buffer& out, std::uint16_t v) {
    std::uint8_t b[2];
    store_u16(b, v);
    out.append(b, 2);
}
inline void put_u32(byte_buffer& out, std::uint32_t v) {
    std::uint8_t b[4];
    store_u32(b, v);
    out.append(b, 4);
}
inline void put_u64(byte_buffer& out, std::uint64_t v) {
    std::uint8_t b[8];
    store_u64(b, v);
    out.append(b, 8);
}
/// Precondition: s.size() <= 255 (longer strings are clamped; the spec has no way to send them).
inline void put_shortstr(byte_buffer& out, std::string_view s) {
    if (s.size() > 255) s = s.substr(0, 255);
    put_u8(out, static_cast<std::uint8_t>(s.size()));
    out.append(s);
}
inline void put_longstr(byte_buffer& out, std::string_view s) {
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}

/// Writes a 4-byte placeholder and returns its offset from out.data(); patch_u32 fills it.
/// Valid as long as nothing is consumed from `out` in between.
inline std::size_t reserve_u32(byte_buffer& out) {
    std::size_t at = out.size();
    put_u32(out, 0);
    return at;
}
inline void patch_u32(byte_buffer& out, std::size_t at, std::uint32_t v) {
    store_u32(out.data() + at, v);
}

}  // namespace sy::amqp::detail
