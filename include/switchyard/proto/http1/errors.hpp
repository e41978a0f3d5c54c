// HTTP/1.1 codec errors and the one table that maps each to a wire reply.
//
// Every parse error is fatal for the connection: after a framing error the receiver cannot know
// where the next message starts (RFC 9112 section 11.2, request smuggling), so the session sends
// the mapped status with "Connection: close" and closes. Errors are sticky in the parsers.
#pragma once

#include <cstdint>
#include <string_view>

namespace sy::http1 {

enum class error : std::uint8_t {
    none = 0,
    // Request line (RFC 9112 section 3).
    bad_method,             // empty or non-tchar method
    bad_request_line,       // not exactly "method SP target SP version", or a CTL in it
    bad_target,             // request-target chars or form invalid for the method
    bad_version,            // not "HTTP/" DIGIT "." DIGIT
    unsupported_version,    // well-formed but major version != 1 (505)
    request_line_too_long,  // > limits::max_request_line (414)
    // Field lines (RFC 9112 section 5, RFC 9110 section 5).
    bare_cr,           // CR not followed by LF
    bare_lf,           // LF without CR (we require CRLF everywhere; see request_parser.hpp)
    ctl_in_field,      // NUL or another CTL (other than HTAB) or DEL in a field line
    obs_fold,          // a field line starting with SP/HTAB (obsolete line folding)
    bad_header_name,   // empty or non-tchar field name
    ws_before_colon,   // whitespace between field name and colon (RFC 9112 section 5.1)
    head_too_large,    // head bytes > limits::max_head_bytes (431)
    too_many_headers,  // field lines > limits::max_headers (431)
    missing_host,      // HTTP/1.1 request without Host (RFC 9112 section 3.2)
    duplicate_host,    // more than one Host field line
    bad_host,          // Host value with characters outside uri-host [":" port]
    // Message framing (RFC 9112 section 6).
    bad_content_length,             // not 1*DIGIT, a list, or overflows 64 bits
    duplicate_content_length,       // a second Content-Length line, even an identical one
    cl_and_te,                      // both Content-Length and Transfer-Encoding
    bad_transfer_encoding,          // final coding not "chunked", or chunked applied twice
    unsupported_transfer_encoding,  // codings before chunked (e.g. "gzip, chunked"): 501
    te_in_http10,                   // Transfer-Encoding in an HTTP/1.0 message
    body_too_large,                 // Content-Length or chunk total > limits::max_body_bytes
    // Chunked coding (RFC 9112 section 7.1).
    bad_chunk_size,       // no hex digit, junk after the size, or a CTL in an extension
    chunk_size_overflow,  // chunk size does not fit in 60 bits
    chunk_line_too_long,  // chunk-size line > limits::max_chunk_line
    bad_chunk_end,        // chunk data not followed by CRLF
    trailers_too_large,   // trailer section > limits::max_trailer_bytes or too many fields
    // Connection preface.
    bad_h2_preface,  // "PRI * HTTP/2.0" start line not followed by the rest of the preface
    // Response parser only (client side).
    bad_status_line,    // not "HTTP/1.x SP 3DIGIT [SP reason]"
    truncated_message,  // connection closed (finish()) before the message was complete
    count_
};

/// What the server sends for an error: status code, reason phrase, and whether to close.
struct error_reply {
    int status;
    std::string_view reason;
    bool close;
};

/// The single error -> reply table. Response-parser errors map to 502 (a client or proxy
/// received a bad response from upstream).
error_reply reply_for(error e);
/// Stable identifier, e.g. "cl_and_te", for logs and tests.
std::string_view to_string(error e);

}  // namespace sy::http1
