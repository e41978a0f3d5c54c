// The one table mapping codec errors to wire replies, and state/error names.
#include <array>

#include "switchyard/proto/http1/message.hpp"

namespace sy::http1 {

namespace {

struct error_row {
    std::string_view name;
    error_reply reply;
};

// Indexed by error. Every parse error closes the connection (see errors.hpp).
constexpr std::array<error_row, static_cast<std::size_t>(error::count_)> k_rows{{
    {"none", {200, "OK", false}},
    {"bad_method", {400, "Bad Request", true}},
    {"bad_request_line", {400, "Bad Request", true}},
    {"bad_target", {400, "Bad Request", true}},
    {"bad_version", {400, "Bad Request", true}},
    {"unsupported_version", {505, "HTTP Version Not Supported", true}},
    {"request_line_too_long", {414, "URI Too Long", true}},
    {"bare_cr", {400, "Bad Request", true}},
    {"bare_lf", {400, "Bad Request", true}},
    {"ctl_in_field", {400, "Bad Request", true}},
    {"obs_fold", {400, "Bad Request", true}},
    {"bad_header_name", {400, "Bad Request", true}},
    {"ws_before_colon", {400, "Bad Request", true}},
    {"head_too_large", {431, "Request Header Fields Too Large", true}},
    {"too_many_headers", {431, "Request Header Fields Too Large", true}},
    {"missing_host", {400, "Bad Request", true}},
    {"duplicate_host", {400, "Bad Request", true}},
    {"bad_host", {400, "Bad Request", true}},
    {"bad_content_length", {400, "Bad Request", true}},
    {"duplicate_content_length", {400, "Bad Request", true}},
    {"cl_and_te", {400, "Bad Request", true}},
    {"bad_transfer_encoding", {400, "Bad Request", true}},
    {"unsupported_transfer_encoding", {501, "Not Implemented", true}},
    {"te_in_http10", {400, "Bad Request", true}},
    {"body_too_large", {413, "Content Too Large", true}},
    {"bad_chunk_size", {400, "Bad Request", true}},
    {"chunk_size_overflow", {400, "Bad Request", true}},
    {"chunk_line_too_long", {400, "Bad Request", true}},
    {"bad_chunk_end", {400, "Bad Request", true}},
    {"trailers_too_large", {431, "Request Header Fields Too Large", true}},
    {"bad_h2_preface", {400, "Bad Request", true}},
    {"bad_status_line", {502, "Bad Gateway", true}},
    {"truncated_message", {502, "Bad Gateway", true}},
}};

constexpr std::array<std::string_view, 11> k_states{
    "head",     "body_length", "body_close", "chunk_size", "chunk_data", "chunk_data_end",
    "trailers", "message_end", "closed",     "switched",   "failed"};

}  // namespace

error_reply reply_for(error e) {
    const auto i = static_cast<std::size_t>(e);
    return i < k_rows.size() ? k_rows[i].reply : error_reply{500, "Internal Server Error", true};
}

std::string_view to_string(error e) {
    const auto i = static_cast<std::size_t>(e);
    return i < k_rows.size() ? k_rows[i].name : "unknown";
}

std::string_view to_string(parser_state s) {
    const auto i = static_cast<std::size_t>(s);
    return i < k_states.size() ? k_states[i] : "unknown";
}

}  // namespace sy::http1
