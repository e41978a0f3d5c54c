// gRPC status codes (grpc/doc/statuscodes.md).
#include "switchyard/proto/grpc/status.hpp"

#include <array>

namespace sy::grpc {

namespace {
struct status_row {
    std::string_view name;
    std::string_view text;
};
constexpr std::array<status_row, 17> status_table = {{
    {"OK", "0"},
    {"CANCELLED", "1"},
    {"UNKNOWN", "2"},
    {"INVALID_ARGUMENT", "3"},
    {"DEADLINE_EXCEEDED", "4"},
    {"NOT_FOUND", "5"},
    {"ALREADY_EXISTS", "6"},
    {"PERMISSION_DENIED", "7"},
    {"RESOURCE_EXHAUSTED", "8"},
    {"FAILED_PRECONDITION", "9"},
    {"ABORTED", "10"},
    {"OUT_OF_RANGE", "11"},
    {"UNIMPLEMENTED", "12"},
    {"INTERNAL", "13"},
    {"UNAVAILABLE", "14"},
    {"DATA_LOSS", "15"},
    {"UNAUTHENTICATED", "16"},
}};
}  // namespace

std::string_view to_string(status_code c) {
    auto i = static_cast<std::size_t>(c);
    return i < status_table.size() ? status_table[i].name : "UNKNOWN";
}

std::string_view status_text(status_code c) {
    auto i = static_cast<std::size_t>(c);
    return i < status_table.size() ? status_table[i].text : "2";
}

std::optional<status_code> parse_status(std::string_view s) {
    for (std::size_t i = 0; i < status_table.size(); ++i)
        if (status_table[i].text == s) return static_cast<status_code>(i);
    return std::nullopt;
}

status_code from_http_status(int http_status) {
    switch (http_status) {
        case 400:
            return status_code::internal;
        case 401:
            return status_code::unauthenticated;
        case 403:
            return status_code::permission_denied;
        case 404:
            return status_code::unimplemented;
        case 429:
        case 502:
        case 503:
        case 504:
            return status_code::unavailable;
        default:
            return status_code::unknown;
    }
}

}  // namespace sy::grpc
