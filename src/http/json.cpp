// is_json_value: a strict RFC 8259 checker (no parse tree), for text the server embeds in JSON it
// serves to other clients (job results, hub envelopes): what passes here parses everywhere.
#include <cstdint>

#include "switchyard/http/util.hpp"

namespace sy::http {

namespace {

constexpr int k_max_depth = 512;  // nesting; deeper documents are refused, not recursed into

class json_checker {
  public:
    explicit json_checker(std::string_view s) : s_(s) {}

    bool document() {
        ws();
        if (!value(0)) return false;
        ws();
        return i_ == s_.size();
    }

  private:
    bool value(int depth) {  // NOLINT(misc-no-recursion): bounded by k_max_depth
        if (i_ >= s_.size() || depth > k_max_depth) return false;
        switch (s_[i_]) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"':
                return string();
            case 't':
                return literal("true");
            case 'f':
                return literal("false");
            case 'n':
                return literal("null");
            default:
                return number();
        }
    }

    bool object(int depth) {  // NOLINT(misc-no-recursion)
        ++i_;
        ws();
        if (eat('}')) return true;
        do {
            ws();
            if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
            ws();
            if (!eat(':')) return false;
            ws();
            if (!value(depth)) return false;
            ws();
        } while (eat(','));
        return eat('}');
    }

    bool array(int depth) {  // NOLINT(misc-no-recursion)
        ++i_;
        ws();
        if (eat(']')) return true;
        do {
            ws();
            if (!value(depth)) return false;
            ws();
        } while (eat(','));
        return eat(']');
    }

    // RFC 8259 7: no raw control characters, escapes from the short list or \uXXXX, UTF-8 (8.1).
    bool string() {
        ++i_;
        while (i_ < s_.size()) {
            const auto c = static_cast<std::uint8_t>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (!escape()) return false;
            } else if (c >= 0x80) {
                if (!utf8_sequence()) return false;
            } else {
                ++i_;
            }
        }
        return false;
    }

    bool escape() {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_++];
        if (e != 'u') return std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos;
        for (int k = 0; k < 4; ++k, ++i_) {
            if (i_ >= s_.size() || !is_hex(s_[i_])) return false;
        }
        return true;
    }

    // One well-formed UTF-8 sequence (RFC 3629 4): no overlong forms, no surrogates, <= U+10FFFF.
    bool utf8_sequence() {
        const auto b0 = static_cast<std::uint8_t>(s_[i_]);
        int n = 0;
        std::uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
        if (b0 >= 0xc2 && b0 <= 0xdf) {
            n = 1;
        } else if (b0 >= 0xe0 && b0 <= 0xef) {
            n = 2;
            if (b0 == 0xe0) lo = 0xa0;
            if (b0 == 0xed) hi = 0x9f;
        } else if (b0 >= 0xf0 && b0 <= 0xf4) {
            n = 3;
            if (b0 == 0xf0) lo = 0x90;
            if (b0 == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (i_ + static_cast<std::size_t>(n) >= s_.size()) return false;
        for (int k = 1; k <= n; ++k) {
            const auto b = static_cast<std::uint8_t>(s_[i_ + static_cast<std::size_t>(k)]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return false;
        }
        i_ += static_cast<std::size_t>(n) + 1;
        return true;
    }

    // RFC 8259 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    bool number() {
        eat('-');
        if (eat('0')) {
            // no leading zeros
        } else if (!digits()) {
            return false;
        }
        if (eat('.') && !digits()) return false;
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }

    bool digits() {
        const std::size_t start = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        return i_ > start;
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

bool is_json_value(std::string_view text) {
    return json_checker(text).document();
}

}  // namespace sy::http
