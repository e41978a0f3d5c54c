// Byte classification and fast scanning for the HTTP/1.1 parsers (internal).
//
// x86-64: SSE2 compare + movemask over 16 bytes at a time (SSE2 is in the x86-64 baseline; it
// also beats SSE4.2 pcmpestri, whose latency is ~10 cycles, on the short lines HTTP heads are
// made of). Elsewhere: a scalar loop over a byte-class table.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "switchyard/base/text.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sy::http1::detail {

constexpr std::array<std::uint8_t, 256> make_tchar_table() {
    std::array<std::uint8_t, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = 1;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = 1;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<std::uint8_t>(c)] = 1;
    return t;
}

constexpr std::array<std::uint8_t, 256> make_line_stop_table() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = c == '\t' ? 0 : 1;
    t[0x7f] = 1;
    return t;
}

constexpr std::array<std::uint8_t, 256> make_target_table() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0x21; c < 0x7f; ++c) t[c] = 1;
    for (int c = 0x80; c < 0x100; ++c) t[c] = 1;  // obs-text: lenient, like nginx
    t['#'] = 0;
    t['?'] = 0;
    return t;
}

/// tchar (RFC 9110 section 5.6.2): "!#$%&'*+-.^_`|~" DIGIT ALPHA.
inline constexpr std::array<std::uint8_t, 256> k_tchar = make_tchar_table();
/// 1 for a byte that stops a line scan: CTL other than HTAB (0x00-0x08, 0x0a-0x1f) and DEL.
inline constexpr std::array<std::uint8_t, 256> k_line_stop = make_line_stop_table();
/// 1 for a byte allowed in a request-target besides '?': VCHAR except '#', and obs-text.
inline constexpr std::array<std::uint8_t, 256> k_target = make_target_table();

inline const std::uint8_t* find_line_stop_scalar(const std::uint8_t* p, const std::uint8_t* end) {
    while (end - p >= 4) {
        if (k_line_stop[p[0]]) return p;
        if (k_line_stop[p[1]]) return p + 1;
        if (k_line_stop[p[2]]) return p + 2;
        if (k_line_stop[p[3]]) return p + 3;
        p += 4;
    }
    while (p < end && !k_line_stop[*p]) ++p;
    return p;
}

/// First byte in [p, end) that is a CTL other than HTAB, or DEL; end if none.
inline const std::uint8_t* find_line_stop(const std::uint8_t* p, const std::uint8_t* end) {
#if defined(__SSE2__)
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
    const __m128i lim = _mm_set1_epi8(static_cast<char>(0x20 ^ 0x80));  // unsigned < 0x20
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, bias), lim);
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl);
        ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, del));
        unsigned m = static_cast<unsigned>(_mm_movemask_epi8(ctl));
        if (m != 0) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    return find_line_stop_scalar(p, end);
}

/// Scans a request-target [p, end): returns the first byte that is not a target byte (so '?',
/// '#', SP, HTAB, CTL); end if none. Bytes up to readable_end (>= end) may be loaded, so a
/// short target is classified with one vector load instead of a byte loop.
inline const std::uint8_t* find_target_stop(const std::uint8_t* p, const std::uint8_t* end,
                                            const std::uint8_t* readable_end) {
#if defined(__SSE2__)
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
    const __m128i lim = _mm_set1_epi8(static_cast<char>(0x21 ^ 0x80));  // unsigned <= 0x20
    const __m128i q = _mm_set1_epi8('?');
    const __m128i hash = _mm_set1_epi8('#');
    const __m128i del = _mm_set1_epi8(0x7f);
    while (p < end && readable_end - p >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i s = _mm_cmplt_epi8(_mm_xor_si128(v, bias), lim);
        s = _mm_or_si128(s, _mm_cmpeq_epi8(v, q));
        s = _mm_or_si128(s, _mm_cmpeq_epi8(v, hash));
        s = _mm_or_si128(s, _mm_cmpeq_epi8(v, del));
        unsigned m = static_cast<unsigned>(_mm_movemask_epi8(s));
        if (m != 0) {
            const std::uint8_t* r = p + __builtin_ctz(m);
            return r < end ? r : end;
        }
        p += 16;
    }
    if (p >= end) return end;
#else
    (void)readable_end;
#endif
    while (p < end && k_target[*p]) ++p;
    return p;
}

/// Index of the first byte of [p, p+n) that is not a tchar, or n. `readable` (>= n) is how
/// many bytes from p may be loaded: with 16, one SIMD block classifies a typical field name
/// (names end at ':', itself not a tchar) without a per-byte loop.
inline std::size_t token_length(const std::uint8_t* p, std::size_t n, std::size_t readable) {
    std::size_t i = 0;
#if defined(__SSE2__)
    if (readable >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i x = _mm_xor_si128(v, _mm_set1_epi8(static_cast<char>(0x80)));
        auto in_range = [&](int lo, int hi) {  // lo <= v <= hi, for 0x21 <= lo, hi <= 0x7e
            return _mm_and_si128(
                _mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>((lo - 1) ^ 0x80))),
                _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>((hi + 1) ^ 0x80))));
        };
        auto eq = [&](char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
        // Not tchar: outside 0x21..0x7e, or one of the delimiters "(),/:;<=>?@[\]{}.
        __m128i bad = _mm_andnot_si128(in_range(0x21, 0x7e), _mm_set1_epi8(-1));
        bad = _mm_or_si128(bad, in_range(0x3a, 0x40));
        bad = _mm_or_si128(bad, in_range(0x5b, 0x5d));
        bad = _mm_or_si128(bad, _mm_or_si128(eq('"'), in_range(0x28, 0x29)));
        bad = _mm_or_si128(bad, _mm_or_si128(eq(','), eq('/')));
        bad = _mm_or_si128(bad, _mm_or_si128(eq('{'), eq('}')));
        const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(bad));
        if (m != 0) {
            const std::size_t k = static_cast<std::size_t>(__builtin_ctz(m));
            return k < n ? k : n;
        }
        i = 16;
    }
#else
    (void)readable;
#endif
    while (i < n && k_tchar[p[i]]) ++i;
    return i < n ? i : n;
}

inline std::size_t token_length(const std::uint8_t* p, std::size_t n) {
    return token_length(p, n, n);
}

/// The first 4 bytes of a literal as the word memcpy loads from the same bytes.
constexpr std::uint32_t word4(const char* s) {
    if constexpr (std::endian::native == std::endian::little) {
        return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[0])) |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[1])) << 8 |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[2])) << 16 |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[3])) << 24;
    } else {
        return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[3])) |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[2])) << 8 |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[1])) << 16 |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[0])) << 24;
    }
}

/// Case-insensitive compare of s against a lowercase literal of the same length, a word at a
/// time: each byte of s is OR-ed with 0x20 and compared. Exact for the literals used here
/// (letters, '-', digits: every byte has 0x20 set) as long as s holds no CTL, which the line
/// scan guarantees for field names and values (0x0d would match '-', 0x12 '2').
inline bool equals_lower(const char* s, const char* lower, std::size_t n) {
    auto word = [](const char* p, std::size_t k) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, k);
        return w;
    };
    // Bytes a partial word leaves zero get 0x20 on both sides, so they compare equal.
    constexpr std::uint64_t k_case = 0x2020202020202020ull;
    auto same = [&](std::size_t at, std::size_t k) {
        return (word(s + at, k) | k_case) == (word(lower + at, k) | k_case);
    };
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (!same(i, 8)) return false;
    }
    return i == n || same(i, n - i);
}

}  // namespace sy::http1::detail
