// AMQP 0-9-1 codec errors and the ONE table that maps each to the reply the peer must get:
// a reply code (spec constants, amqp0-9-1.pdf 1.2 "Constants"), whether it is a connection
// (hard) or channel (soft) exception, and the reply text, RabbitMQ style ("FRAME_ERROR - ...").
//
// Choices where the spec leaves room, written down here so the session layer need not guess:
//  - unknown class id or method id -> 540 NOT_IMPLEMENTED ("the client tried to use functionality
//    that is not implemented in the server"), not 503 COMMAND_INVALID, which the spec reserves for
//    an invalid *sequence* of frames (method valid but not in this state / on this channel);
//  - a content body longer than the header's body-size, or frames out of order -> 505
//    UNEXPECTED_FRAME (spec 4.2.6: "a peer that receives a frame in an unexpected place");
//  - a message above the configured size cap -> 406 PRECONDITION_FAILED, a channel error, as
//    RabbitMQ 3.8+ does for max_message_size.
#pragma once

#include <cstdint>
#include <string_view>

namespace sy::amqp {

enum class error : std::uint8_t {
    none = 0,
    bad_protocol_header,     // not "AMQP\0\0\x09\x01": reply with our header, then close (4.2.2)
    unknown_frame_type,      // frame type not 1, 2, 3 or 8 (4.2.3)
    frame_too_large,         // payload > negotiated frame_max - 8 (4.2.3, 4.2.6)
    bad_frame_end,           // frame-end octet not 0xCE (4.2.3)
    bad_heartbeat,           // heartbeat on a channel other than 0, or with a payload (4.2.7)
    truncated_method,        // method frame payload shorter than its arguments (4.2.4)
    trailing_method_bytes,   // bytes left after the last argument
    bad_table,               // field table/array malformed: length, unknown type, bad key
    table_too_deep,          // tables nested deeper than max_table_depth
    unknown_class,           // class id not in the spec
    unknown_method,          // method id not in its class
    bad_content_header,      // content header payload truncated or with trailing bytes (4.2.6)
    bad_property_flags,      // property flag bits not defined for the class
    unexpected_method,       // method frame while a content header or body was expected
    unexpected_header,       // content header with no content method before it
    unexpected_body,         // body frame with no content header before it
    content_class_mismatch,  // content header class differs from its method's class
    body_too_long,           // body frames carry more bytes than the header's body-size
    wrong_channel,           // connection method off channel 0, or other methods on channel 0
    message_too_large,       // body-size above the configured cap (soft error)
};

/// Reply codes (spec "constants"; also generated as reply_code::... in spec.hpp).
namespace reply {
inline constexpr std::uint16_t success = 200;
inline constexpr std::uint16_t precondition_failed = 406;
inline constexpr std::uint16_t frame_error = 501;
inline constexpr std::uint16_t syntax_error = 502;
inline constexpr std::uint16_t command_invalid = 503;
inline constexpr std::uint16_t channel_error = 504;
inline constexpr std::uint16_t unexpected_frame = 505;
inline constexpr std::uint16_t not_implemented = 540;
}  // namespace reply

struct error_info {
    std::uint16_t reply_code;  // 0 for bad_protocol_header: no close method, only our header
    bool hard;                 // true: connection.close; false: channel.close
    std::string_view name;     // stable identifier for logs and metrics
    std::string_view text;     // reply-text for connection.close / channel.close
};

/// The one table.
constexpr error_info info_for(error e) {
    using namespace reply;
    switch (e) {
        case error::none:
            return {success, false, "none", ""};
        case error::bad_protocol_header:
            return {0, true, "bad_protocol_header", "bad AMQP protocol header"};
        case error::unknown_frame_type:
            return {frame_error, true, "unknown_frame_type", "FRAME_ERROR - unknown frame type"};
        case error::frame_too_large:
            return {frame_error, true, "frame_too_large",
                    "FRAME_ERROR - frame size exceeds negotiated frame_max"};
        case error::bad_frame_end:
            return {frame_error, true, "bad_frame_end", "FRAME_ERROR - frame end marker not 0xCE"};
        case error::bad_heartbeat:
            return {frame_error, true, "bad_heartbeat",
                    "FRAME_ERROR - heartbeat frame on non-zero channel or with payload"};
        case error::truncated_method:
            return {syntax_error, true, "truncated_method",
                    "SYNTAX_ERROR - method arguments truncated"};
        case error::trailing_method_bytes:
            return {syntax_error, true, "trailing_method_bytes",
                    "SYNTAX_ERROR - trailing bytes after method arguments"};
        case error::bad_table:
            return {syntax_error, true, "bad_table", "SYNTAX_ERROR - malformed field table"};
        case error::table_too_deep:
            return {syntax_error, true, "table_too_deep",
                    "SYNTAX_ERROR - field tables nested too deep"};
        case error::unknown_class:
            return {not_implemented, true, "unknown_class", "NOT_IMPLEMENTED - unknown class id"};
        case error::unknown_method:
            return {not_implemented, true, "unknown_method", "NOT_IMPLEMENTED - unknown method id"};
        case error::bad_content_header:
            return {syntax_error, true, "bad_content_header",
                    "SYNTAX_ERROR - malformed content header"};
        case error::bad_property_flags:
            return {syntax_error, true, "bad_property_flags",
                    "SYNTAX_ERROR - undefined property flags in content header"};
        case error::unexpected_method:
            return {unexpected_frame, true, "unexpected_method",
                    "UNEXPECTED_FRAME - expected content header or body, got method frame"};
        case error::unexpected_header:
            return {unexpected_frame, true, "unexpected_header",
                    "UNEXPECTED_FRAME - content header without a content method"};
        case error::unexpected_body:
            return {unexpected_frame, true, "unexpected_body",
                    "UNEXPECTED_FRAME - content body without a content header"};
        case error::content_class_mismatch:
            return {unexpected_frame, true, "content_class_mismatch",
                    "UNEXPECTED_FRAME - content header class differs from method class"};
        case error::body_too_long:
            return {unexpected_frame, true, "body_too_long",
                    "UNEXPECTED_FRAME - content body longer than header body-size"};
        case error::wrong_channel:
            return {command_invalid, true, "wrong_channel",
                    "COMMAND_INVALID - method not allowed on this channel"};
        case error::message_too_large:
            return {precondition_failed, false, "message_too_large",
                    "PRECONDITION_FAILED - message size exceeds the configured maximum"};
    }
    return {541, true, "unknown", "INTERNAL_ERROR"};
}

constexpr std::uint16_t reply_code_for(error e) {
    return info_for(e).reply_code;
}
constexpr std::string_view reply_text_for(error e) {
    return info_for(e).text;
}
constexpr std::string_view to_string(error e) {
    return info_for(e).name;
}

}  // namespace sy::amqp
