// Private helpers for HTTP header token lists (RFC 9110 5.6.1: `#element`, comma-separated with
// optional whitespace, empty elements ignored).
#pragma once

#include <cstddef>
#include <string_view>

#include "switchyard/base/text.hpp"

namespace sy::ws {

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
