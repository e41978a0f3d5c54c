// ASCII text helpers shared by every layer: case-insensitive comparison, hex digits, optional
// whitespace, base64 (RFC 4648). Pure functions on bytes, no locale, no allocation except where
// a std::string is returned; thread-safe. Header names, tokens and media types are ASCII, so
// "case-insensitive" here means A-Z == a-z and nothing else (RFC 9110 5.1).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sy {

/// 'A'-'Z' to 'a'-'z'; every other byte unchanged.
constexpr char ascii_lower(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return static_cast<unsigned>(u - 'A') < 26u ? static_cast<char>(u | 0x20) : c;
}

/// Value of one hex digit (0-9, a-f, A-F), or -1 for any other byte.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    const char l = ascii_lower(c);
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}

/// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// ASCII case-insensitive "s begins with prefix".
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;

/// Lower-cased copy (ASCII only).
std::string to_lower(std::string_view s);

/// Strips optional whitespace (SP / HTAB, RFC 9110 5.6.3) at both ends.
std::string_view trim_ows(std::string_view s) noexcept;

/// base64 with the standard alphabet and '=' padding (RFC 4648 section 4).
std::string base64_encode(std::string_view in);

/// base64url without padding (RFC 4648 section 5; HTTP2-Settings, RFC 7540 3.2.1).
std::string base64url_encode(std::string_view in);

/// Decodes base64url into `out` (replacing its contents). Trailing '=' padding is tolerated.
/// Returns false on a byte outside the alphabet or an impossible length.
bool base64url_decode(std::string_view in, std::string& out);
/// Decodes standard base64 (RFC 4648 section 4) the same way (HTTP Basic credentials).
bool base64_decode(std::string_view in, std::string& out);

}  // namespace sy
