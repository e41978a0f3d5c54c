// HTTP/1.1 response serializer: status line, fields and body framing appended to a caller's
// sy::byte_buffer (RFC 9112 sections 4, 6, 7). Sans-IO: nothing here writes to a socket.
//
//     date_cache dates;                  // one per loop; dates.update(now) once per second
//     response_writer w(out);
//     w.status(200).header("Content-Type", "text/plain").date(dates).body("hello");
//
//     w.status(200).header("Content-Type", "text/event-stream").date(dates).begin_chunked();
//     write_chunk(out, as_bytes("data"));  ...  write_last_chunk(out);
//
// Field names and values are checked (tchar name; no CTL other than HTAB, so no CR/LF
// injection): header() returns false and writes nothing for an invalid field.
// Thread: none of these keep state across calls except date_cache (one per loop thread).
#pragma once

#include <cstdint>
#include <ctime>
#include <span>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1 {

/// Reason phrase for a status code (RFC 9110 section 15), "" for an unknown code.
std::string_view reason_phrase(int status);

/// Caches the IMF-fixdate for the Date field (RFC 9110 section 5.6.7). The owner calls
/// update(now) at most once per second (e.g. from a loop timer); value() is then a cheap view.
class date_cache {
  public:
    date_cache() { update(std::time(nullptr)); }
    explicit date_cache(std::time_t now) { update(now); }
    /// Reformats only when `now` differs from the cached second.
    void update(std::time_t now);
    /// "Sun, 06 Nov 1994 08:49:37 GMT"
    std::string_view value() const { return {line_ + 6, 29}; }
    /// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    std::string_view field_line() const { return {line_, 37}; }

  private:
    std::time_t last_ = -1;
    char line_[40] = {};
};

/// True if `name` is a token and `value` has no CTL other than HTAB (RFC 9110 section 5.5).
bool valid_field(std::string_view name, std::string_view value);

/// Builds one response head into `out`. Call status() first, then header()/date()/close(),
/// then exactly one of body(), content_length(), begin_chunked() or end_head().
class response_writer {
  public:
    explicit response_writer(byte_buffer& out) : out_(out) {}
    /// "HTTP/1.x <code> <reason>\r\n"; reason defaults to reason_phrase(code).
    response_writer& status(int code, std::string_view reason = {}, std::uint8_t minor = 1);
    response_writer& header(std::string_view name, std::string_view value);
    response_writer& date(const date_cache& d);
    /// "Connection: close" (or "keep-alive" for a persistent HTTP/1.0 exchange).
    response_writer& connection(bool close);
    /// Content-Length, blank line, then the body bytes.
    void body(std::string_view content);
    /// Content-Length and blank line; the caller appends exactly `n` bytes.
    void content_length(std::uint64_t n);
    /// "Transfer-Encoding: chunked" and blank line; continue with write_chunk().
    void begin_chunked();
    /// Blank line only (1xx, 204, 304, or a HEAD response whose fields the caller wrote).
    void end_head();
    /// False if a header() call was refused.
    bool ok() const { return ok_; }

  private:
    byte_buffer& out_;
    bool ok_ = true;
};

/// One chunk: hex size CRLF data CRLF. Empty data writes nothing (it would end the body).
void write_chunk(byte_buffer& out, byte_view data);
/// Last chunk "0\r\n", optional trailer fields, then CRLF.
void write_last_chunk(byte_buffer& out, std::span<const header> trailers = {});

/// A complete small response: status, Date, Content-Type (if not empty), optional
/// Connection: close, Content-Length and body.
void write_simple_response(byte_buffer& out, int status, std::string_view content_type,
                           std::string_view body, const date_cache& date, bool close = false);
/// The reply for a parser error: reply_for(e) status, a short text body, Connection: close.
void write_error_response(byte_buffer& out, error e, const date_cache& date);
/// "HTTP/1.1 100 Continue\r\n\r\n", for a head with expect_continue.
void write_continue(byte_buffer& out);

/// Request head for clients (load generator, tests): "METHOD target HTTP/1.1", Host, fields,
/// and Content-Length when body_length > 0 (the caller appends the body).
void write_request_head(byte_buffer& out, std::string_view method, std::string_view target,
                        std::string_view host, std::span<const header> fields = {},
                        std::uint64_t body_length = 0);

}  // namespace sy::http1
