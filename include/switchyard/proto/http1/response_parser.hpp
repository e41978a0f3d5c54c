// HTTP/1.1 response parser (RFC 9112), sans-IO and zero-copy: the client side used by the load
// generator and the integration tests. Same input model, events and lifetime rule as
// request_parser (see request_parser.hpp and message.hpp): views point into the caller's
// buffer and die when those bytes are consumed.
//
// Body framing (RFC 9112 section 6.3): no body for responses to HEAD (call
// expect_head_response() before feeding that response), for 1xx, 204 and 304; chunked when
// Transfer-Encoding is "chunked"; Content-Length; otherwise until the connection closes, which
// the caller reports with finish(). Interim 1xx responses are reported as head + end and the
// parser then waits for the final response; after 101 it enters state switched.
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

class response_parser {
  public:
    explicit response_parser(const limits& lim = {});
    response_parser(const response_parser&) = delete;
    response_parser& operator=(const response_parser&) = delete;

    /// The next final response answers a HEAD request: it has no body whatever its fields say.
    void expect_head_response() { head_request_ = true; }

    parse_result feed(byte_view unconsumed);
    /// The peer closed the connection. Completes an until-close body (event::end, then state
    /// closed); returns need_more if no message was in progress; error::truncated_message
    /// otherwise.
    parse_result finish();

    /// Valid after event::head until the head bytes are consumed.
    const response_head& head() const { return head_; }
    std::span<const header> trailers() const { return {fields_, n_trailers_}; }
    parser_state state() const { return state_; }
    const diagnostics& diag() const { return diag_; }
    std::uint64_t messages() const { return messages_; }

  private:
    template <typename P>
    friend parse_result detail::on_chunked(P& p, byte_view in);
    parse_result step(byte_view in);
    parse_result on_head(byte_view in);
    error on_status_line(const std::uint8_t* h, std::uint32_t b, std::uint32_t e);
    parse_result finish_head(byte_view in, std::size_t consumed);
    parse_result on_body(byte_view in);
    parse_result on_chunked(byte_view in);
    parse_result on_message_end();
    parse_result fail(error e, std::size_t off, byte_view in);
    void set_state(parser_state s);
    void start_message();

    limits lim_;
    parser_state state_ = parser_state::head;
    response_head head_;
    detail::line_reader lines_;
    detail::framing framing_;
    detail::chunked_decoder chunk_;
    bool start_line_done_ = false;
    bool head_request_ = false;
    std::uint8_t version_minor_ = 1;
    int status_ = 0;
    std::uint32_t reason_off_ = 0, reason_len_ = 0;
    std::uint16_t n_fields_ = 0;
    std::uint16_t n_trailers_ = 0;
    std::uint64_t remaining_ = 0;
    std::uint64_t stream_off_ = 0;
    std::uint64_t messages_ = 0;
    diagnostics diag_;
    detail::raw_field raw_[k_max_headers];
    header fields_[k_max_headers];
};

}  // namespace sy::http1
