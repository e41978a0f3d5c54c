// HTTP/1.1 request parser (RFC 9112), sans-IO and zero-copy.
//
// Input model: the caller keeps every unconsumed byte contiguous (a sy::byte_buffer) and calls
// feed(buffer.readable()) whenever bytes arrive. Each call decodes at most one event and says
// how many bytes to consume; the parser remembers how far it scanned an incomplete head, so no
// byte is scanned twice however the input is split. One message at a time: with pipelining,
// loop while feed() returns outcome::complete.
//
//     for (;;) {
//         auto r = parser.feed(in.readable());
//         if (r.out == outcome::error) { reply(reply_for(r.err)); close(); break; }
//         if (r.out == outcome::complete) handle(r.ev, parser, r.body);  // views valid here
//         in.consume(r.consumed);                                        // views die here
//         if (r.out == outcome::need_more) break;                        // read more
//     }
//
// Lifetime: head(), trailers() and parse_result::body point into the caller's buffer and are
// valid until the caller consumes those bytes or modifies the buffer (append/prepare may move
// it). head() is reported once the whole head is in; copy what you need before consuming.
//
// Events per message: head, body* (zero or more), end. An h2 prior-knowledge preface as the
// first bytes gives event::h2_preface instead (the parser then stays in state switched).
// After the end of a message that is not keep-alive the parser enters state closed and
// ignores further input (feed() returns need_more, consuming nothing).
//
// Strictness (each case its own error, all 400 + close unless errors.hpp says otherwise):
// CRLF only (bare CR and bare LF rejected), no obs-fold, no whitespace before the colon, no
// CTL or DEL in field lines, tchar-only methods and field names, Content-Length exactly
// 1*DIGIT on one line (identical duplicates and "5, 5" lists rejected too), Transfer-Encoding
// exactly "chunked", never both CL and TE, no TE in HTTP/1.0, exactly one Host in HTTP/1.1.
//
// Thread: one parser per connection, used by one thread. No allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "switchyard/base/bytes.hpp"
#include "switchyard/proto/http1/detail/section.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1 {

namespace detail {
template <typename P>
parse_result on_chunked(P& p, byte_view in);  // src/proto/http1/common.hpp
}  // namespace detail

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
inline constexpr std::string_view k_h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class request_parser {
  public:
    explicit request_parser(const limits& lim = {});
    request_parser(const request_parser&) = delete;
    request_parser& operator=(const request_parser&) = delete;

    /// Decodes from `unconsumed` (all input not yet consumed, oldest byte first).
    parse_result feed(byte_view unconsumed);

    /// Valid after event::head until the head bytes are consumed.
    const request_head& head() const { return head_; }
    /// Valid after event::end (chunked messages) until those bytes are consumed.
    std::span<const header> trailers() const { return {fields_, n_trailers_}; }

    parser_state state() const { return state_; }
    const diagnostics& diag() const { return diag_; }
    /// Messages completed (event::end reported) so far.
    std::uint64_t messages() const { return messages_; }
    const limits& lim() const { return lim_; }

  private:
    template <typename P>
    friend parse_result detail::on_chunked(P& p, byte_view in);
    parse_result step(byte_view in);
    parse_result on_head(byte_view in);
    void park_fields(const std::uint8_t* h);
    static parse_result need_more_head(std::size_t skip);
    error on_request_line(const std::uint8_t* h, std::uint32_t b, std::uint32_t e, std::size_t skip,
                          const std::uint8_t* h_end);
    error on_field(const std::uint8_t* h, detail::raw_field f);
    parse_result finish_head(byte_view in, std::size_t skip, std::size_t consumed);
    parse_result on_h2_preface(byte_view in, std::size_t skip);
    parse_result on_body_length(byte_view in);
    parse_result on_chunked(byte_view in);
    parse_result on_message_end();
    parse_result fail(error e, std::size_t in_off, byte_view in);
    void set_state(parser_state s);
    void start_message();

    limits lim_;
    parser_state state_ = parser_state::head;
    request_head head_;
    detail::line_reader lines_;
    detail::framing framing_;
    detail::chunked_decoder chunk_;
    bool start_line_done_ = false;
    bool h2_start_line_ = false;
    std::uint8_t version_minor_ = 1;
    method method_ = method::other;
    // Request line and selected fields as section offsets (the buffer may move until the
    // head is complete); index -1 = absent.
    std::uint32_t method_len_ = 0, target_off_ = 0, target_len_ = 0, query_at_ = 0;
    std::uint32_t path_off_ = 0, path_len_ = 0;
    std::int16_t host_idx_ = -1, upgrade_idx_ = -1, settings_idx_ = -1;
    bool expect_continue_ = false, upgrade_websocket_ = false, upgrade_h2c_ = false;
    std::uint16_t n_fields_ = 0;
    std::uint16_t n_trailers_ = 0;
    std::uint64_t remaining_ = 0;   // Content-Length body bytes left
    std::uint64_t stream_off_ = 0;  // bytes consumed since construction (for diagnostics)
    std::uint64_t messages_ = 0;
    diagnostics diag_;
    detail::raw_field raw_[k_max_headers];
    header fields_[k_max_headers];
};

}  // namespace sy::http1
