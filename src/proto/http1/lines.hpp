// Inline definitions of the line reader and the field-line grammar (internal): they run once
// per head line, so the parsers' translation units inline them.
#pragma once

#include "scan.hpp"
#include "switchyard/proto/http1/detail/section.hpp"

namespace sy::http1::detail {

// RFC 9112 section 2.2: lines end in CRLF. A bare CR is rejected (MUST), and so is a bare LF
// (the MAY-accept is declined: it is a classic smuggling disagreement between hops).
[[gnu::always_inline]] inline line_step line_reader::next(const std::uint8_t* data, std::size_t n,
                                                          const line_rules& rules,
                                                          std::uint32_t& begin, std::uint32_t& end,
                                                          error& err, std::uint32_t& err_off) {
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

inline error parse_field_line(const std::uint8_t* base, std::uint32_t begin, std::uint32_t end,
                              raw_field& out, std::size_t readable) {
    const std::uint8_t* l = base + begin;
    const std::uint32_t len = end - begin;
    // RFC 9112 section 5.2: obs-fold is rejected; so is whitespace before the first field
    // line (section 2.2), which looks the same here.
    if (l[0] == ' ' || l[0] == '\t') return error::obs_fold;
    const auto nl = static_cast<std::uint32_t>(token_length(l, len, readable - begin));
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

}  // namespace sy::http1::detail
