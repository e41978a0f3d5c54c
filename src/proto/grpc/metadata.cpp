// gRPC metadata helpers (grpc/doc/PROTOCOL-HTTP2.md).
#include "switchyard/proto/grpc/metadata.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "switchyard/base/text.hpp"

namespace sy::grpc {

namespace {
struct unit_row {
    char unit;
    std::int64_t nanos;
};
// Largest unit first: format_timeout picks the first one that represents the value in <= 8 digits.
constexpr std::array<unit_row, 6> units = {{
    {'H', 3600'000'000'000LL},
    {'M', 60'000'000'000LL},
    {'S', 1'000'000'000LL},
    {'m', 1'000'000LL},
    {'u', 1'000LL},
    {'n', 1LL},
}};
constexpr std::int64_t max_value = 99'999'999;  // 8 digits
}  // namespace

sy::result<std::chrono::nanoseconds, timeout_error> parse_timeout(std::string_view v) {
    if (v.size() < 2) return sy::unexpected(timeout_error::empty);
    std::string_view digits = v.substr(0, v.size() - 1);
    if (digits.size() > 8) return sy::unexpected(timeout_error::too_many_digits);
    std::int64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return sy::unexpected(timeout_error::bad_digit);
        n = n * 10 + (c - '0');
    }
    for (const auto& u : units) {
        if (u.unit == v.back()) {
            // 99999999 hours is 3.6e20 ns, past int64 (9.2e18): saturate instead of wrapping.
            constexpr std::int64_t max_ns = INT64_MAX;
            if (n > max_ns / u.nanos) return std::chrono::nanoseconds(max_ns);
            return std::chrono::nanoseconds(n * u.nanos);
        }
    }
    return sy::unexpected(timeout_error::bad_unit);
}

std::string format_timeout(std::chrono::nanoseconds d) {
    std::int64_t ns = std::max<std::int64_t>(0, d.count());
    // Exact in the largest unit that fits in 8 digits; else rounded up in the smallest unit
    // that fits (a deadline a little late beats one that fires early).
    for (const auto& u : units)
        if (ns % u.nanos == 0 && ns / u.nanos <= max_value)
            return std::to_string(ns / u.nanos) + u.unit;
    for (auto it = units.rbegin(); it != units.rend(); ++it) {
        std::int64_t v = ns / it->nanos + (ns % it->nanos ? 1 : 0);
        if (v <= max_value) return std::to_string(v) + it->unit;
    }
    return std::to_string(max_value) + "H";
}

std::string percent_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (c >= 0x20 && c <= 0x7e && c != '%') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    return out;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

content_type_kind classify_content_type(std::string_view v) {
    constexpr std::string_view base = "application/grpc";
    if (!istarts_with(v, base)) return content_type_kind::not_grpc;
    std::string_view rest = v.substr(base.size());
    if (auto semi = rest.find(';'); semi != std::string_view::npos) rest = rest.substr(0, semi);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    if (rest.empty()) return content_type_kind::grpc;
    if (rest[0] != '+' || rest.size() == 1) return content_type_kind::not_grpc;
    if (istarts_with(rest, "+proto") && rest.size() == 6) return content_type_kind::grpc_proto;
    return content_type_kind::grpc_other;
}

field_list response_headers(compression encoding, std::string_view content_type) {
    field_list f;
    f.push_back({"content-type", std::string(content_type)});
    if (encoding != compression::identity)
        f.push_back({"grpc-encoding", std::string(to_string(encoding))});
    return f;
}

field_list response_trailers(status_code code, std::string_view message) {
    field_list f;
    f.push_back({"grpc-status", std::string(status_text(code))});
    if (!message.empty()) f.push_back({"grpc-message", percent_encode(message)});
    return f;
}

field_list trailers_only(status_code code, std::string_view message,
                         std::string_view content_type) {
    field_list f;
    f.push_back({"content-type", std::string(content_type)});
    for (auto& t : response_trailers(code, message)) f.push_back(std::move(t));
    return f;
}

}  // namespace sy::grpc
