// Line reader, field-line grammar and framing fields shared by both parsers.
#include "switchyard/proto/http1/detail/section.hpp"

#include "lines.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1 {

std::string_view find_header(std::span<const header> headers, std::string_view name) {
    for (const header& h : headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

}  // namespace sy::http1

namespace sy::http1::detail {

error framing::on_content_length(std::string_view v) {
    if (has_content_length) return error::duplicate_content_length;
    has_content_length = true;
    if (v.empty() || v.size() > 19) return error::bad_content_length;  // 19 digits fit in 63 bits
    std::uint64_t x = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return error::bad_content_length;
        x = x * 10 + static_cast<std::uint64_t>(c - '0');
    }
    content_length = x;
    return error::none;
}

error framing::on_transfer_encoding(std::string_view v) {
    // A second line would mean chunked applied twice or a coding after chunked: both invalid.
    if (has_transfer_encoding) return error::bad_transfer_encoding;
    has_transfer_encoding = true;
    if (v.size() == 7 && equals_lower(v.data(), "chunked", 7)) return error::none;
    int chunked = 0, count = 0;
    bool last_chunked = false;
    for_each_token(v, [&](std::string_view t) {
        ++count;
        last_chunked = t.size() == 7 && equals_lower(t.data(), "chunked", 7);
        chunked += last_chunked;
    });
    // RFC 9112 section 6.3: a request whose final coding is not chunked is rejected (400). A
    // coding we do not implement before chunked is 501 (section 6.1).
    if (count > 1 && chunked == 1 && last_chunked) return error::unsupported_transfer_encoding;
    return error::bad_transfer_encoding;
}

void framing::on_connection(std::string_view v) {
    for_each_token(v, [&](std::string_view t) {
        if (t.size() == 5 && equals_lower(t.data(), "close", 5)) conn_close = true;
        if (t.size() == 10 && equals_lower(t.data(), "keep-alive", 10)) conn_keep_alive = true;
        if (t.size() == 7 && equals_lower(t.data(), "upgrade", 7)) conn_upgrade = true;
    });
}

}  // namespace sy::http1::detail
