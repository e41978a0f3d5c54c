#include "job_fields.hpp"

#include <charconv>

namespace sy::hub::job_fields {

namespace {

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}

/// End of the JSON value starting at i (strings, nesting); npos when malformed.
std::size_t value_end(std::string_view s, std::size_t i) {
    if (i >= s.size()) return std::string_view::npos;
    if (s[i] == '"') {
        for (++i; i < s.size(); ++i) {
            if (s[i] == '\\') {
                ++i;
            } else if (s[i] == '"') {
                return i + 1;
            }
        }
        return std::string_view::npos;
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < s.size(); ++i) {
            if (s[i] == '"') {
                i = value_end(s, i);
                if (i == std::string_view::npos) return i;
                --i;
            } else if (s[i] == '{' || s[i] == '[') {
                ++depth;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return std::string_view::npos;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n') ++i;
    return i;
}

}  // namespace

/// The raw value of a top-level key of a JSON object; nullopt if absent or malformed.
std::optional<std::string_view> json_field(std::string_view obj, std::string_view key) {
    std::size_t i = skip_ws(obj, 0);
    if (i >= obj.size() || obj[i] != '{') return std::nullopt;
    i = skip_ws(obj, i + 1);
    while (i < obj.size() && obj[i] == '"') {
        const std::size_t kend = value_end(obj, i);
        if (kend == std::string_view::npos) return std::nullopt;
        const std::string_view k = obj.substr(i + 1, kend - i - 2);
        i = skip_ws(obj, kend);
        if (i >= obj.size() || obj[i] != ':') return std::nullopt;
        i = skip_ws(obj, i + 1);
        const std::size_t vend = value_end(obj, i);
        if (vend == std::string_view::npos) return std::nullopt;
        if (k == key) return obj.substr(i, vend - i);
        i = skip_ws(obj, vend);
        if (i < obj.size() && obj[i] == ',') i = skip_ws(obj, i + 1);
    }
    return std::nullopt;
}

std::string_view unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
    return v;
}

std::optional<std::uint64_t> to_u64(std::string_view v) {
    v = unquote(v);
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || v.empty()) {
        double d = 0;  // "progress": 42.5
        auto [p2, ec2] = std::from_chars(v.data(), v.data() + v.size(), d);
        if (ec2 != std::errc() || d < 0) return std::nullopt;
        return static_cast<std::uint64_t>(d);
    }
    return n;
}

std::optional<std::uint64_t> id_of(std::string_view s) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

}  // namespace sy::hub::job_fields
