// Server-Sent Events encoder (WHATWG HTML, "Server-sent events", 9.2.5 the event stream format).
//
// A published message is encoded ONCE into a sy::shared_bytes (encode_shared) and the same bytes
// are queued on every subscriber's output. Pure functions, thread-safe.
//
//   sy::sse::event_fields f{.id = "42", .event = "tick", .data = "line1\nline2"};
//   sy::shared_bytes b = sy::sse::encode_shared(f).value();
//   // "id: 42\nevent: tick\ndata: line1\ndata: line2\n\n"
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/result.hpp"

namespace sy::sse {

enum class encode_error : std::uint8_t {
    newline_in_field,  // id or event name contains CR or LF (would split the field)
    nul_in_id,         // id with U+0000: receivers ignore such an id
};
std::string_view to_string(encode_error e);

struct event_fields {
    /// "id:" line. Present-but-empty resets the client's last event ID.
    std::optional<std::string_view> id;
    /// "event:" line; empty = omitted (the client then dispatches a "message" event).
    std::string_view event;
    /// Data, split on CRLF, LF and CR, one "data:" line per line. nullopt = no data lines (the
    /// block then only carries id/retry and dispatches nothing). Empty string = one "data:" line
    /// (an event whose data is empty).
    std::optional<std::string_view> data;
    /// "retry:" line, the reconnection time in milliseconds.
    std::optional<std::uint32_t> retry_ms;
};

/// Exact encoded size (the fields must be valid).
std::size_t encoded_size(const event_fields& f);

/// Appends the event block, ending with the blank line that dispatches it.
result<void, encode_error> encode(byte_buffer& out, const event_fields& f);
result<shared_bytes, encode_error> encode_shared(const event_fields& f);

/// Comment block ": text\n\n" (a heartbeat keeps proxies from timing the stream out). Lines of a
/// multi-line text each get their own ":".
void encode_comment(byte_buffer& out, std::string_view text = {});
shared_bytes encode_comment_shared(std::string_view text = {});

}  // namespace sy::sse
