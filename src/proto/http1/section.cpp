// Line reader, field-line grammar and framing fields shared by both parsers.
#include "switchyard/proto/http1/detail/section.hpp"

#include "scan.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1 {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (detail::ascii_lower(static_cast<std::uint8_t>(a[i])) !=
            detail::ascii_lower(static_cast<std::uint8_t>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view find_header(std::span<const header> headers, std::string_view name) {
    for (const header& h : headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

}  // namespace sy::http1

namespace sy::http1::detail {

// RFC 9112 section 2.2: lines end in CRLF. A bare CR is rejected (MUST), and so is a bare LF
// (the MAY-accept is declined: it is a classic smuggling disagreement between hops).
line_step line_reader::next(const std::uint8_t* data, std::size_t n, const line_rules& rules,
                            std::uint32_t& begin, std::uint32_t& end, error& err,
                            std::uint32_t& err_off) {
    // Nothing past total_limit can be accepted; capping n bounds the scan and keeps offsets in
    // 32 bits.
    const std::size_t cap = std::size_t{rules.total_limit} + 2;
    if (n > cap) n = cap;
    const std::uint8_t* s = find_line_stop(data + scan_, data + n);
    const auto stop = static_cast<std::uint32_t>(s - data);
    // Limits first, at the scan's stop position: the result is then the same for any split.
    if (stop - line_start_ > rules.line_limit) {
        err = rules.line_err;
        err_off = line_start_ + rules.line_limit;
        return line_step::error;
    }
    if (stop > rules.total_limit) {
        err = rules.total_err;
        err_off = rules.total_limit;
        return line_step::error;
    }
    if (s == data + n) {
        scan_ = stop;
        return line_step::need_more;
    }
    if (*s == '\r') {
        if (stop + 1 == n) {
            scan_ = stop;  // resume at the CR: the next byte decides
            return line_step::need_more;
        }
        if (s[1] != '\n') {
            err = error::bare_cr;
            err_off = stop;
            return line_step::error;
        }
        begin = line_start_;
        end = stop;
        line_start_ = scan_ = stop + 2;
        return line_step::line;
    }
    err = *s == '\n' ? error::bare_lf : rules.ctl_err;
    err_off = stop;
    return line_step::error;
}

error parse_field_line(const std::uint8_t* base, std::uint32_t begin, std::uint32_t end,
                       raw_field& out) {
    const std::uint8_t* l = base + begin;
    const std::uint32_t len = end - begin;
    // RFC 9112 section 5.2: obs-fold is rejected; so is whitespace before the first field
    // line (section 2.2), which looks the same here.
    if (l[0] == ' ' || l[0] == '\t') return error::obs_fold;
    const auto nl = static_cast<std::uint32_t>(token_length(l, len));
    if (nl == len) return error::bad_header_name;
    if (l[nl] != ':') {
        // RFC 9112 section 5.1: no whitespace between field name and colon; MUST reject.
        if (nl > 0 && (l[nl] == ' ' || l[nl] == '\t')) return error::ws_before_colon;
        return error::bad_header_name;
    }
    if (nl == 0) return error::bad_header_name;
    std::uint32_t vb = nl + 1, ve = len;
    while (vb < ve && (l[vb] == ' ' || l[vb] == '\t')) ++vb;
    while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t')) --ve;
    out = raw_field{begin, nl, begin + vb, ve - vb};
    return error::none;
}

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
