// Server-Sent Events stream parser (WHATWG HTML 9.2.6 "Interpreting an event stream"), sans-IO.
// For clients, tests and sy-bench; the server only encodes.
//
//   sy::sse::parser p;
//   sy::sse::event ev;
//   for (byte_view in = read(); !in.empty();) {
//       auto r = p.feed(in, ev);
//       in = in.subspan(r.consumed);
//       if (r.out == outcome::complete) handle(ev.type, ev.data, ev.last_event_id);
//       else if (r.out == outcome::error) break;   // only size limits can fail
//   }
//
// Handles: a leading UTF-8 BOM (once, even split across feeds), CR / LF / CRLF line ends (a CR
// at the end of one feed and the LF at the start of the next are one line end), comments,
// field parsing (one leading space of the value stripped), dispatch on a blank line, the last
// event ID (ids with U+0000 are ignored), retry (ASCII digits only).
//
// Contract: feed() consumes up to the line that completes an event and returns complete, or
// consumes everything and returns need_more. Event views point into the parser's own buffers
// and are valid until the next feed(). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/base/bytes.hpp"

namespace sy::sse {

struct parser_config {
    std::size_t max_line = 64 * 1024;    // longest line (bytes, without its end)
    std::size_t max_data = 1024 * 1024;  // largest data buffer of one event
    bool report_comments = false;        // return comment lines as event_kind::comment
};

enum class outcome : std::uint8_t { complete, need_more, error };
enum class parse_error : std::uint8_t { none, line_too_long, data_too_big };
std::string_view to_string(parse_error e);

enum class event_kind : std::uint8_t { message, comment };

struct event {
    event_kind kind = event_kind::message;
    std::string_view type;           // "message" when the stream gave no event name
    std::string_view data;           // lines joined with LF, no trailing LF
    std::string_view last_event_id;  // the last event ID string at dispatch
    std::string_view comment;        // comment text (one leading space stripped)
};

struct parse_result {
    outcome out;
    std::size_t consumed;
};

enum class parse_state : std::uint8_t { bom, lines, failed };

class parser {
  public:
    explicit parser(const parser_config& cfg = {}) : cfg_(cfg) {}

    parse_result feed(byte_view in, event& ev);

    /// Reconnection time from the last valid "retry:" field.
    std::optional<std::uint64_t> retry_ms() const { return retry_; }
    /// The last event ID string (what a reconnecting client sends as Last-Event-ID).
    std::string_view last_event_id() const { return last_id_; }
    parse_error last_error() const { return err_; }
    parse_state state() const { return state_; }
    std::uint64_t bytes_consumed() const { return offset_; }

  private:
    enum class line_result : std::uint8_t { none, event, fail };
    std::size_t skip_bom(byte_view in);
    line_result process_line(std::string_view line, event& ev);
    line_result dispatch(event& ev);
    line_result fail(parse_error e);

    parser_config cfg_;
    parse_state state_ = parse_state::bom;
    parse_error err_ = parse_error::none;
    std::uint8_t bom_have_ = 0;
    bool skip_lf_ = false;        // the previous line ended with CR: an LF next is part of it
    bool reset_pending_ = false;  // data_/type_ back the last event's views: clear on next feed
    std::uint64_t offset_ = 0;
    std::string line_;  // a line that straddles feeds
    std::string data_;
    std::string type_;
    std::string id_buf_;
    std::string last_id_;
    std::string comment_;
    std::optional<std::uint64_t> retry_;
};

}  // namespace sy::sse
