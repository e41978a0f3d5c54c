// Small HTTP utilities shared by sessions and handlers: percent-decoding, path normalisation,
// query parsing, status reasons, HTTP-date, JSON string escaping,
// MIME types by extension. All functions are pure (no I/O, no globals written), thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/base/result.hpp"
#include "switchyard/base/text.hpp"

namespace sy::http {

// ---- Case-insensitive ASCII ----------------------------------------------------------------

// ascii_lower, iequals and trim_ows are the base/ text helpers (switchyard/base/text.hpp).

/// Calls fn(item) for each non-empty element of a comma-separated list field value
/// (RFC 9110 5.6.1), each trimmed of OWS. Quoted strings are not special-cased: commas never
/// occur inside entity-tags, which is what this is used for. fn returns false to stop early.
template <typename Fn>
void for_each_list_item(std::string_view v, Fn&& fn) {
    while (!v.empty()) {
        std::size_t c = v.find(',');
        std::string_view item = trim_ows(v.substr(0, c));
        v = c == std::string_view::npos ? std::string_view{} : v.substr(c + 1);
        if (!item.empty() && !fn(item)) return;
    }
}

// ---- Percent-decoding and paths (RFC 3986 2.1, 5.2.4) -------------------------------------

enum class decode_error : std::uint8_t {
    bad_escape,  ///< '%' not followed by two hex digits
    nul_byte,    ///< decoded NUL in a path (never valid in a file name, a classic truncation trick)
};

enum class decode_mode : std::uint8_t {
    path,  ///< '+' stays '+', %00 is rejected
    form,  ///< application/x-www-form-urlencoded: '+' means space, %00 allowed
};

/// Appends the decoded form of `in` to `out`. On error `out` holds a partial result.
result<void, decode_error> percent_decode(std::string_view in, std::string& out,
                                          decode_mode mode = decode_mode::path);

/// Appends `in` percent-encoded for a path (unreserved, sub-delims, ':', '@', '/' kept).
void percent_encode_path(std::string_view in, std::string& out);

enum class path_error : std::uint8_t {
    not_absolute,  ///< does not start with '/'
    escapes_root,  ///< a ".." segment would climb above "/"
};

/// Normalises a decoded absolute path in place (RFC 3986 5.2.4 remove_dot_segments, plus
/// merging of repeated slashes): "." segments vanish, ".." pops one segment, "//" becomes "/".
/// A trailing slash is kept ("/a/" stays "/a/", "/a/." and "/a/b/.." become "/a/"). ".." above
/// the root is an error rather than being clamped, so "/../etc" can never alias "/etc".
/// Returns the new length (never longer than n).
result<std::size_t, path_error> normalize_path_inplace(char* p, std::size_t n);

// ---- Query strings -------------------------------------------------------------------------

/// Calls fn(raw_name, raw_value) for each '&'-separated pair of a raw query string (no '?').
/// A pair without '=' yields an empty value. Values are NOT decoded (see query_param).
/// fn returns false to stop early.
template <typename Fn>
void for_each_query_pair(std::string_view q, Fn&& fn) {
    while (!q.empty()) {
        std::size_t amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (pair.empty()) continue;
        std::size_t eq = pair.find('=');
        std::string_view n = pair.substr(0, eq);
        std::string_view v =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (!fn(n, v)) return;
    }
}

/// The form-decoded value of the first parameter whose decoded name equals `name`, or nullopt.
/// A malformed escape makes that pair be skipped.
std::optional<std::string> query_param(std::string_view raw_query, std::string_view name);

// ---- Status reasons --------------------------------------------------------------------------

/// Reason phrase for a status code (RFC 9110 15), "" for unknown codes. HTTP/2 and /3 do not
/// send it; HTTP/1.1 sessions may.
std::string_view status_reason(int status);

// ---- HTTP-date (RFC 9110 5.6.7) --------------------------------------------------------------

inline constexpr std::size_t http_date_len = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

/// Writes the IMF-fixdate for t (seconds since the epoch, UTC) into out[0..29). No NUL.
void format_http_date(std::time_t t, char* out);
std::string format_http_date(std::time_t t);

/// Parses any of the three formats a recipient must accept: IMF-fixdate, obsolete RFC 850
/// ("Sunday, 06-Nov-94 08:49:37 GMT", two-digit years per RFC 9110 5.6.7: more than 50 years in
/// the future means the previous century) and asctime ("Sun Nov  6 08:49:37 1994").
std::optional<std::time_t> parse_http_date(std::string_view s);

// ---- MIME types ----------------------------------------------------------------------------

/// Content-Type for a file name by its extension (case-insensitive); text types carry
/// "; charset=utf-8". Unknown: "application/octet-stream".
std::string_view mime_type_for(std::string_view file_name);

}  // namespace sy::http
