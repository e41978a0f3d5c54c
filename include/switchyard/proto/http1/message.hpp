// Types shared by the HTTP/1.1 request parser, response parser and serializer.
//
// Lifetime rule for every std::string_view / byte_view handed out by the parsers: they point
// into the caller's input buffer (the byte_view passed to feed()). They stay valid until the
// caller consumes those bytes or modifies the buffer (consume(), append(), prepare() may move
// or reuse memory). Handle the event, copy what must outlive it, then consume.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "switchyard/base/bytes.hpp"
#include "switchyard/proto/http1/errors.hpp"

namespace sy::http1 {

/// Hard capacity of the fixed header array inside each parser (no allocation per request).
inline constexpr std::size_t k_max_headers = 100;

/// Parser limits. Defaults are safe for a public server. Values are clamped on construction:
/// max_headers <= k_max_headers, max_request_line <= max_head_bytes <= 1 GiB.
struct limits {
    std::uint32_t max_request_line = 8 * 1024;        // start line bytes, excluding CRLF -> 414
    std::uint32_t max_head_bytes = 64 * 1024;         // start line + field lines -> 431
    std::uint32_t max_headers = 100;                  // field lines -> 431
    std::uint64_t max_body_bytes = 16 * 1024 * 1024;  // Content-Length or chunk sum -> 413
    std::uint32_t max_chunk_line = 1024;              // chunk-size line incl. extensions -> 400
    std::uint32_t max_trailer_bytes = 16 * 1024;      // trailer section -> 431
};

/// A field line. name is as received (compare case-insensitively); value has leading and
/// trailing whitespace removed.
struct header {
    std::string_view name;
    std::string_view value;
};

enum class method : std::uint8_t {
    other = 0,
    get,
    head,
    post,
    put,
    delete_,
    connect,
    options,
    trace,
    patch
};

enum class body_kind : std::uint8_t {
    none,         // no body (request without framing headers, 1xx/204/304, HEAD response)
    length,       // Content-Length bytes
    chunked,      // Transfer-Encoding: chunked
    until_close,  // response without framing: body ends at connection close (finish())
};

/// Result of one feed() call.
enum class outcome : std::uint8_t {
    complete,   // an event is ready (parse_result::ev); consume parse_result::consumed bytes
    need_more,  // nothing more can be decoded; consume `consumed` (may be > 0), read more input
    error,      // parse_result::err; sticky; send reply_for(err) and close
};

enum class event : std::uint8_t {
    none,
    head,        // parser.head() is valid
    body,        // parse_result::body holds the next body bytes
    end,         // end of message; parser.trailers() holds the trailer fields (maybe empty)
    h2_preface,  // HTTP/2 prior-knowledge preface consumed (request parser, first message only)
};

struct parse_result {
    outcome out = outcome::need_more;
    event ev = event::none;
    error err = error::none;
    std::size_t consumed = 0;  // bytes of the input to consume after handling the event
    byte_view body;            // for event::body: points into the input
};

enum class parser_state : std::uint8_t {
    head,            // reading start line and field lines
    body_length,     // Content-Length body
    body_close,      // body until connection close (responses only)
    chunk_size,      // reading a chunk-size line
    chunk_data,      // inside chunk data
    chunk_data_end,  // expecting CRLF after chunk data
    trailers,        // reading the trailer section
    message_end,     // next feed() reports event::end
    closed,          // after a non-persistent message; feed() returns need_more, consumes 0
    switched,        // protocol switch (h2 preface, 101): caller stops feeding this parser
    failed,          // error reported; sticky
};

std::string_view to_string(parser_state s);

/// Where and why the parser failed: for logs. The snippet is copied (views may be gone).
struct diagnostics {
    error err = error::none;
    parser_state state = parser_state::head;
    std::uint64_t offset = 0;  // absolute stream offset of the offending byte (best effort)
    std::uint8_t snippet_len = 0;
    char snippet[32] = {};  // input bytes starting at offset
    std::string_view snippet_view() const { return {snippet, snippet_len}; }
};

/// First value of a field named `name` (case-insensitive), or empty.
std::string_view find_header(std::span<const header> headers, std::string_view name);

struct request_head {
    std::string_view method_name;
    http1::method method = method::other;
    std::string_view target;         // request-target as received
    std::string_view path;           // target before '?' (origin-form); path part of absolute-form
    std::string_view query;          // after '?', without it; empty if none
    std::uint8_t version_minor = 1;  // 0 or 1 (HTTP/1.2+ is treated as 1.1)
    std::span<const header> headers;
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0;  // when body == length
    bool keep_alive = true;            // RFC 9112 section 9.3 (1.1 default, 1.0 keep-alive)
    bool expect_continue = false;      // "Expect: 100-continue" on an HTTP/1.1 request
    bool connection_upgrade = false;   // "upgrade" token in Connection
    bool upgrade_websocket = false;    // "websocket" in Upgrade
    bool upgrade_h2c = false;          // "h2c" in Upgrade
    std::string_view upgrade;          // Upgrade value (first line), empty if absent
    std::string_view http2_settings;   // HTTP2-Settings value (for h2c), empty if absent
    std::string_view host;             // Host value, empty if absent
    std::string_view header_value(std::string_view name) const {
        return find_header(headers, name);
    }
};

struct response_head {
    int status = 0;
    std::string_view reason;
    std::uint8_t version_minor = 1;
    std::span<const header> headers;
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0;
    bool keep_alive = true;
    std::string_view header_value(std::string_view name) const {
        return find_header(headers, name);
    }
};

}  // namespace sy::http1
