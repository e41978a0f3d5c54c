// A small DFA written for this codec (the shape of Hoehrmann's decoder: byte -> class,
// (state, class) -> state), states named below, plus an ASCII fast path.
#include "switchyard/base/utf8.hpp"

#include <array>
#include <cstring>

namespace sy {
namespace {

// Byte classes (Unicode 3.9 table 3-7).
enum cls : int {
    c_ascii,     // 00..7F
    c_cont_lo,   // 80..8F
    c_cont_mid,  // 90..9F
    c_cont_hi,   // A0..BF
    c_bad,       // C0, C1, F5..FF
    c_lead2,     // C2..DF
    c_e0,        // E0: next A0..BF
    c_lead3,     // E1..EC, EE..EF
    c_ed,        // ED: next 80..9F (no surrogates)
    c_f0,        // F0: next 90..BF
    c_lead4,     // F1..F3
    c_f4,        // F4: next 80..8F
};
constexpr int n_classes = c_f4 + 1;

// States: 0 accept, 1 need 1 more, 2 need 2 more, 3 need 3 more, 4 after E0, 5 after ED,
// 6 after F0, 7 after F4, 8 reject (sticky).
enum st : int { s_ok, s_1, s_2, s_3, s_e0, s_ed, s_f0, s_f4, s_rej };
constexpr int n_states = s_rej + 1;

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int b = 0; b < 256; ++b) {
        int c = c_bad;
        if (b < 0x80)
            c = c_ascii;
        else if (b < 0x90)
            c = c_cont_lo;
        else if (b < 0xA0)
            c = c_cont_mid;
        else if (b < 0xC0)
            c = c_cont_hi;
        else if (b < 0xC2)
            c = c_bad;
        else if (b < 0xE0)
            c = c_lead2;
        else if (b == 0xE0)
            c = c_e0;
        else if (b == 0xED)
            c = c_ed;
        else if (b < 0xF0)
            c = c_lead3;
        else if (b == 0xF0)
            c = c_f0;
        else if (b < 0xF4)
            c = c_lead4;
        else if (b == 0xF4)
            c = c_f4;
        t[b] = static_cast<std::uint8_t>(c);
    }
    return t;
}

constexpr std::array<std::uint8_t, n_states * n_classes> make_transitions() {
    std::array<std::uint8_t, n_states * n_classes> t{};
    for (auto& v : t) v = static_cast<std::uint8_t>(s_rej);
    auto set = [&t](int s, int c, int to) { t[s * n_classes + c] = static_cast<std::uint8_t>(to); };
    set(s_ok, c_ascii, s_ok);
    set(s_ok, c_lead2, s_1);
    set(s_ok, c_e0, s_e0);
    set(s_ok, c_lead3, s_2);
    set(s_ok, c_ed, s_ed);
    set(s_ok, c_f0, s_f0);
    set(s_ok, c_lead4, s_3);
    set(s_ok, c_f4, s_f4);
    for (int c : {c_cont_lo, c_cont_mid, c_cont_hi}) {
        set(s_1, c, s_ok);
        set(s_2, c, s_1);
        set(s_3, c, s_2);
    }
    set(s_e0, c_cont_hi, s_1);
    set(s_ed, c_cont_lo, s_1);
    set(s_ed, c_cont_mid, s_1);
    set(s_f0, c_cont_mid, s_2);
    set(s_f0, c_cont_hi, s_2);
    set(s_f4, c_cont_lo, s_2);
    return t;
}

constexpr auto k_class = make_classes();
constexpr auto k_next = make_transitions();

inline bool all_ascii16(const std::uint8_t* p) {
    std::uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    return ((a | b) & 0x8080808080808080ULL) == 0;
}

}  // namespace

bool utf8_validator::feed(byte_view b) {
    int s = state_;
    if (s == s_rej) return false;
    const std::uint8_t* p = b.data();
    const std::uint8_t* end = p + b.size();
    while (p < end) {
        if (s == s_ok) {
            // ASCII fast path: skip 16-byte blocks with no high bit.
            while (end - p >= 16 && all_ascii16(p)) p += 16;
            while (p < end && *p < 0x80) ++p;
            if (p == end) break;
        }
        s = k_next[s * n_classes + k_class[*p++]];
        if (s == s_rej) break;
    }
    state_ = static_cast<std::uint8_t>(s);
    return s != s_rej;
}

bool is_valid_utf8(byte_view b) {
    utf8_validator v;
    return v.feed(b) && v.complete();
}

}  // namespace sy
