// How hub messages look on the push transports (WebSocket frames, SSE events, JSON bodies).
// One place for the formats the gateway documents in docs/patterns/*.md, so the WebSocket, SSE
// and poll paths agree.
//
// Framing-cache slots (hub::delivery::framed): each slot has exactly one encoder, listed here, so
// a message is framed once per protocol per loop and the same shared_bytes goes to every
// subscriber of that protocol on the loop.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/hub/message.hpp"

namespace sy::session {

namespace push_slot {
inline constexpr unsigned ws_raw = 0;       // the payload as one text/binary frame
inline constexpr unsigned ws_envelope = 1;  // {"type":"message","id",...} as a text frame
inline constexpr unsigned sse_raw = 2;      // id + data lines (no event name)
inline constexpr unsigned sse_envelope = 3;
inline constexpr unsigned grpc_event = 4;  // switchyard.v1.Event, gRPC length-prefixed, identity
}  // namespace push_slot

/// True when the payload goes out as text (WebSocket text frame, JSON string): the content type
/// is text/*, JSON, XML, JavaScript, form data or empty, and the bytes are valid UTF-8
/// (message::utf8, decided at publish).
bool is_text_message(const hub::message& m);

/// The payload as one JSON value written by w: embedded as is when the content type is JSON
/// (application/json or +json) and the payload is valid JSON (json::valid, UTF-8 included); a
/// JSON string for other text and for malformed JSON; a base64 string for binary (returns true).
bool write_json_data(json::writer& w, const hub::message& m);
/// The same appended to out (base64 set as write_json_data returns).
void append_json_data(std::string& out, const hub::message& m, bool& base64);

/// {"type":"message","id":N,"topic":"t","time":MS,"content_type":"..","data":..[,"encoding":"base64"]}
std::string envelope_json(const hub::message& m);
/// {"type":"gap","topic":"t","from":F,"to":T,"lost":N}
std::string gap_json(std::string_view topic, std::uint64_t from, std::uint64_t to,
                     std::uint64_t lost);

/// The message framed for WebSocket (unmasked server frame). envelope: the JSON envelope as a
/// text frame; otherwise the payload as a text or binary frame (is_text_message). A gap message
/// is always the gap JSON as a text frame.
shared_bytes ws_frame(const hub::message& m, bool envelope);
/// The message as one SSE event: "id: N" then data lines; `event` empty: no event line.
/// envelope: data is envelope_json. A gap message is "event: gap" with gap_json data.
shared_bytes sse_event(const hub::message& m, bool envelope, std::string_view event);

}  // namespace sy::session
