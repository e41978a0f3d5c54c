// WebSocket errors and close codes (RFC 6455 7.4). Every decoder error maps to the close code the
// endpoint must send, in ONE table (close_code_for); handshake errors map to HTTP statuses in
// handshake.hpp.
#pragma once

#include <cstdint>
#include <string_view>

namespace sy::ws {

/// Close status codes, RFC 6455 7.4.1 (and 7.4.2 for the reserved ones).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: "close had no payload"
inline constexpr std::uint16_t abnormal = 1006;   // never on the wire: "connection dropped"
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t try_again_later = 1013;  // IANA registry: the 503 of WebSocket
inline constexpr std::uint16_t tls_handshake = 1015;    // never on the wire
}  // namespace close_code

/// True for a code that may appear in a received close frame: 1000-1003, 1007-1011 (the IANA
/// registry also has 1012-1014 but RFC 6455 peers and Autobahn 7.9.x treat them as undefined;
/// we accept 1012-1014 since they are registered and browsers send 1012/1013), 3000-4999.
constexpr bool is_valid_close_code(std::uint16_t c) {
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/// Frame decoder errors. All are fatal for the connection: the endpoint sends a close frame with
/// close_code_for(e) and then closes (RFC 6455 7.1.7 "fail the WebSocket connection").
enum class error : std::uint8_t {
    none = 0,
    unmasked_frame,           // server role: client frame without MASK (5.1)
    masked_frame,             // client role: server frame with MASK (5.1)
    reserved_bits,            // RSV1-3 set without a negotiated extension (5.2)
    reserved_opcode,          // opcode 3-7 or 0xB-0xF (5.2)
    control_too_long,         // control frame payload > 125 (5.5)
    control_fragmented,       // control frame with FIN clear (5.5)
    unexpected_continuation,  // continuation frame with no message in progress (5.4)
    expected_continuation,    // new text/binary frame while a message is in progress (5.4)
    length_msb_set,           // 64-bit length with the most significant bit set (5.2)
    non_minimal_length,       // length not in the shortest form (5.2 "MUST"), see decoder.hpp
    message_too_big,          // message (after inflating) above the configured limit
    invalid_utf8,             // text message not UTF-8 (8.1)
    close_payload_too_short,  // close payload of exactly one byte (5.5.1)
    invalid_close_code,       // close code not allowed on the wire (7.4)
    invalid_close_reason,     // close reason not UTF-8 (5.5.1)
    inflate_failed,           // permessage-deflate data that zlib rejects (RFC 7692 6.2)
    compressed_control,       // RSV1 on a control frame (RFC 7692 6)
    compressed_continuation,  // RSV1 on a continuation frame (RFC 7692 6)
    out_of_memory,            // zlib could not allocate
};

struct error_info {
    std::uint16_t close_code;
    std::string_view name;
};

/// The one table: error -> close code to send, and a stable name for logs and metrics.
constexpr error_info info_for(error e) {
    switch (e) {
        case error::none:
            return {close_code::normal, "none"};
        case error::unmasked_frame:
            return {close_code::protocol_error, "unmasked_frame"};
        case error::masked_frame:
            return {close_code::protocol_error, "masked_frame"};
        case error::reserved_bits:
            return {close_code::protocol_error, "reserved_bits"};
        case error::reserved_opcode:
            return {close_code::protocol_error, "reserved_opcode"};
        case error::control_too_long:
            return {close_code::protocol_error, "control_too_long"};
        case error::control_fragmented:
            return {close_code::protocol_error, "control_fragmented"};
        case error::unexpected_continuation:
            return {close_code::protocol_error, "unexpected_continuation"};
        case error::expected_continuation:
            return {close_code::protocol_error, "expected_continuation"};
        case error::length_msb_set:
            return {close_code::protocol_error, "length_msb_set"};
        case error::non_minimal_length:
            return {close_code::protocol_error, "non_minimal_length"};
        case error::message_too_big:
            return {close_code::message_too_big, "message_too_big"};
        case error::invalid_utf8:
            return {close_code::invalid_payload, "invalid_utf8"};
        case error::close_payload_too_short:
            return {close_code::protocol_error, "close_payload_too_short"};
        case error::invalid_close_code:
            return {close_code::protocol_error, "invalid_close_code"};
        case error::invalid_close_reason:
            return {close_code::invalid_payload, "invalid_close_reason"};
        case error::inflate_failed:
            return {close_code::invalid_payload, "inflate_failed"};
        case error::compressed_control:
            return {close_code::protocol_error, "compressed_control"};
        case error::compressed_continuation:
            return {close_code::protocol_error, "compressed_continuation"};
        case error::out_of_memory:
            return {close_code::internal_error, "out_of_memory"};
    }
    return {close_code::internal_error, "unknown"};
}

constexpr std::uint16_t close_code_for(error e) {
    return info_for(e).close_code;
}
constexpr std::string_view to_string(error e) {
    return info_for(e).name;
}

}  // namespace sy::ws
