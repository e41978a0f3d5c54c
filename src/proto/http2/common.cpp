// HTTP/2 shared helpers: error table, flood counter, base64url (RFC 4648 5).
#include "switchyard/proto/http2/common.hpp"

#include <array>

namespace sy::http2 {

std::string_view to_string(error_code c) {
    static constexpr std::array<std::string_view, 14> names = {"NO_ERROR",
                                                               "PROTOCOL_ERROR",
                                                               "INTERNAL_ERROR",
                                                               "FLOW_CONTROL_ERROR",
                                                               "SETTINGS_TIMEOUT",
                                                               "STREAM_CLOSED",
                                                               "FRAME_SIZE_ERROR",
                                                               "REFUSED_STREAM",
                                                               "CANCEL",
                                                               "COMPRESSION_ERROR",
                                                               "CONNECT_ERROR",
                                                               "ENHANCE_YOUR_CALM",
                                                               "INADEQUATE_SECURITY",
                                                               "HTTP_1_1_REQUIRED"};
    auto i = static_cast<std::uint32_t>(c);
    return i < names.size() ? names[i] : "UNKNOWN";
}

std::string_view error_code_slot_name(std::size_t slot) {
    return slot < error_code_slots - 1 ? to_string(static_cast<error_code>(slot)) : "UNKNOWN";
}

namespace {
struct error_row {
    error e;
    std::string_view name;
    error_code code;
};
// The one table: session error -> name and the GOAWAY error code (RFC 9113 7).
constexpr std::array<error_row, 11> error_table = {{
    {error::none, "none", error_code::no_error},
    {error::bad_preface, "bad_preface", error_code::protocol_error},
    {error::protocol, "protocol", error_code::protocol_error},
    {error::stream_id_reused, "stream_id_reused", error_code::protocol_error},
    {error::rapid_reset, "rapid_reset", error_code::enhance_your_calm},
    {error::settings_flood, "settings_flood", error_code::enhance_your_calm},
    {error::ping_flood, "ping_flood", error_code::enhance_your_calm},
    {error::ack_flood, "ack_flood", error_code::enhance_your_calm},
    {error::bad_upgrade, "bad_upgrade", error_code::protocol_error},
    {error::out_of_memory, "out_of_memory", error_code::internal_error},
    {error::internal, "internal", error_code::internal_error},
}};
}  // namespace

std::string_view to_string(error e) {
    for (const auto& r : error_table)
        if (r.e == e) return r.name;
    return "unknown";
}

error_code error_code_for(error e) {
    for (const auto& r : error_table)
        if (r.e == e) return r.code;
    return error_code::internal_error;
}

bool flood_counter::hit(time_point now) {
    if (limit_.count == 0) return false;
    if (seen_ == 0 || now - window_start_ >= limit_.window) {
        window_start_ = now;
        seen_ = 0;
    }
    return ++seen_ > limit_.count;
}

}  // namespace sy::http2
