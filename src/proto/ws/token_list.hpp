// Private helpers for HTTP header token lists (RFC 9110 5.6.1: `#element`, comma-separated with
// optional whitespace, empty elements ignored).
#pragma once

#include <cstddef>
#include <string_view>

namespace sy::ws {

inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

/// Calls fn(element) for each non-empty, OWS-trimmed element of s separated by sep.
template <typename Fn>
void for_each_token(std::string_view s, char sep, Fn&& fn) {
    while (true) {
        std::size_t pos = s.find(sep);
        std::string_view e = trim_ows(s.substr(0, pos));
        if (!e.empty()) fn(e);
        if (pos == std::string_view::npos) break;
        s.remove_prefix(pos + 1);
    }
}

/// True when the comma-separated list contains token (case-insensitive).
inline bool list_contains_ci(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_token(list, ',', [&](std::string_view e) { found = found || iequals(e, token); });
    return found;
}

}  // namespace sy::ws
