// gRPC request/response metadata (grpc/doc/PROTOCOL-HTTP2.md): grpc-timeout, grpc-message
// percent-encoding, content-type, and the header/trailer lists the HTTP/2 session submits.
// Pure functions; no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/base/result.hpp"
#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/proto/grpc/status.hpp"

namespace sy::grpc {

/// An owned header field; the h2 layer views these as http2::header_field when submitting.
struct field {
    std::string name;
    std::string value;
};
using field_list = std::vector<field>;

enum class timeout_error : std::uint8_t { empty, too_many_digits, bad_digit, bad_unit };
/// grpc-timeout = TimeoutValue TimeoutUnit; TimeoutValue = 1*8 digits; TimeoutUnit = H M S m u n
/// (hours, minutes, seconds, millis, micros, nanos). Saturates rather than overflowing.
sy::result<std::chrono::nanoseconds, timeout_error> parse_timeout(std::string_view v);
/// The shortest exact-or-rounded-up form with at most 8 digits ("100m", "5S", "1H").
std::string format_timeout(std::chrono::nanoseconds d);

/// grpc-message encoding: bytes outside 0x20..0x7E and '%' become %XX (uppercase hex).
std::string percent_encode(std::string_view s);
/// Decodes %XX; an invalid escape is kept as is (the spec forbids failing on bad input).
std::string percent_decode(std::string_view s);

enum class content_type_kind : std::uint8_t { not_grpc, grpc, grpc_proto, grpc_other };
/// "application/grpc" [("+proto" | "+json" | "+...")] [";" params]; case-insensitive type.
content_type_kind classify_content_type(std::string_view v);
inline bool is_grpc_content_type(std::string_view v) {
    return classify_content_type(v) != content_type_kind::not_grpc;
}

/// Response-Headers without :status (the h2 session adds :status 200):
/// content-type, and grpc-encoding when the response is compressed.
field_list response_headers(compression encoding = compression::identity,
                            std::string_view content_type = "application/grpc");
/// Trailers: grpc-status, and grpc-message (percent-encoded) when `message` is not empty.
field_list response_trailers(status_code code, std::string_view message = {});
/// Trailers-Only (status 200 + these + END_STREAM on HEADERS): content-type + trailers.
field_list trailers_only(status_code code, std::string_view message = {},
                         std::string_view content_type = "application/grpc");

}  // namespace sy::grpc
