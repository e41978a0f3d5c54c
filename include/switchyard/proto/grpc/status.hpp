// gRPC status codes (grpc/doc/statuscodes.md) and the codec errors mapped onto them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sy::grpc {

enum class status_code : std::uint8_t {
    ok = 0,
    cancelled = 1,
    unknown = 2,
    invalid_argument = 3,
    deadline_exceeded = 4,
    not_found = 5,
    already_exists = 6,
    permission_denied = 7,
    resource_exhausted = 8,
    failed_precondition = 9,
    aborted = 10,
    out_of_range = 11,
    unimplemented = 12,
    internal = 13,
    unavailable = 14,
    data_loss = 15,
    unauthenticated = 16,
};

/// "OK", "CANCELLED", ... as in the gRPC documentation.
std::string_view to_string(status_code c);
/// Parses the decimal grpc-status value ("0".."16"); nullopt otherwise.
std::optional<status_code> parse_status(std::string_view s);
/// The grpc-status text for a code ("0".."16"), static storage.
std::string_view status_text(status_code c);
/// HTTP status -> gRPC status for responses that are not gRPC (PROTOCOL-HTTP2.md, http-grpc
/// status mapping): 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED,
/// 429/502/503/504 UNAVAILABLE, anything else UNKNOWN.
status_code from_http_status(int http_status);

}  // namespace sy::grpc
