#include "switchyard/http/util.hpp"

#include "switchyard/base/http_status.hpp"

#include <array>
#include <cstring>

namespace sy::http {

result<void, decode_error> percent_decode(std::string_view in, std::string& out, decode_mode mode) {
    out.reserve(out.size() + in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return unexpected(decode_error::bad_escape);
            int hi = hex_value(in[i + 1]);
            int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return unexpected(decode_error::bad_escape);
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
            if (c == '\0' && mode == decode_mode::path) return unexpected(decode_error::nul_byte);
        } else if (c == '+' && mode == decode_mode::form) {
            c = ' ';
        } else if (c == '\0' && mode == decode_mode::path) {
            return unexpected(decode_error::nul_byte);
        }
        out.push_back(c);
    }
    return {};
}

void percent_encode_path(std::string_view in, std::string& out) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (char ch : in) {
        auto c = static_cast<unsigned char>(ch);
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::strchr("-._~!$&'()*+,;=:@/", c) != nullptr;
        if (keep && c != 0) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
}

// Invariant: the write index w never passes the read index i, so the copy is in place, and
// out[0..w) always ends with '/' before a segment is processed.
result<std::size_t, path_error> normalize_path_inplace(char* p, std::size_t n) {
    if (n == 0 || p[0] != '/') return unexpected(path_error::not_absolute);
    std::size_t w = 1;
    std::size_t i = 1;
    while (i <= n) {
        std::size_t j = i;
        while (j < n && p[j] != '/') ++j;
        std::size_t len = j - i;
        bool has_slash = j < n;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            // empty segment ("//") or "." : nothing to write
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (w == 1) return unexpected(path_error::escapes_root);
            --w;  // drop the '/' that ends the previous segment, then the segment itself
            while (p[w - 1] != '/') --w;
        } else {
            std::memmove(p + w, p + i, len);
            w += len;
            if (has_slash) p[w++] = '/';
        }
        i = j + 1;
    }
    return w;
}

std::optional<std::string> query_param(std::string_view raw_query, std::string_view name) {
    std::optional<std::string> found;
    std::string dn;
    for_each_query_pair(raw_query, [&](std::string_view n, std::string_view v) {
        dn.clear();
        if (!percent_decode(n, dn, decode_mode::form) || dn != name) return true;
        std::string dv;
        if (!percent_decode(v, dv, decode_mode::form)) return true;
        found = std::move(dv);
        return false;
    });
    return found;
}

std::string_view status_reason(int status) {
    return http_reason_phrase(status);
}

// ---- HTTP-date -------------------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 7> k_wkday = {"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> k_weekday = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> k_month = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    auto yoe = static_cast<unsigned>(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(std::int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
    static constexpr unsigned k[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : k[m - 1];
}

void put2(char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

// A tiny cursor for the fixed-layout date grammars.
struct date_reader {
    std::string_view s;
    bool lit(std::string_view x) {
        if (s.substr(0, x.size()) != x) return false;
        s.remove_prefix(x.size());
        return true;
    }
    bool digits(int count, int& out) {
        if (s.size() < static_cast<std::size_t>(count)) return false;
        out = 0;
        for (int i = 0; i < count; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        s.remove_prefix(count);
        return true;
    }
    bool month(int& out) {
        for (int i = 0; i < 12; ++i)
            if (lit(k_month[i])) return out = i + 1, true;
        return false;
    }
    bool time_of_day(int& h, int& mi, int& se) {
        return digits(2, h) && lit(":") && digits(2, mi) && lit(":") && digits(2, se);
    }
};

std::optional<std::time_t> make_time(int y, int mo, int d, int h, int mi, int se) {
    if (mo < 1 || mo > 12 || d < 1 || d > static_cast<int>(days_in_month(y, mo)) || h > 23 ||
        mi > 59 || se > 60) {
        return std::nullopt;
    }
    std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    return static_cast<std::time_t>(days * 86400 + h * 3600 + mi * 60 + se);
}

}  // namespace

void format_http_date(std::time_t t, char* out) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::memcpy(out, k_wkday[tm.tm_wday].data(), 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, k_month[tm.tm_mon].data(), 3);
    out[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
}

std::string format_http_date(std::time_t t) {
    std::string s(http_date_len, ' ');
    format_http_date(t, s.data());
    return s;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    for (int wd = 0; wd < 7; ++wd) {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        date_reader r{s};
        if (r.lit(k_wkday[wd]) && r.lit(", ") && r.digits(2, d) && r.lit(" ") && r.month(mo) &&
            r.lit(" ") && r.digits(4, y) && r.lit(" ") && r.time_of_day(h, mi, se) &&
            r.lit(" GMT") && r.s.empty()) {
            return make_time(y, mo, d, h, mi, se);
        }
        // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
        r = date_reader{s};
        if (r.lit(k_weekday[wd]) && r.lit(", ") && r.digits(2, d) && r.lit("-") && r.month(mo) &&
            r.lit("-") && r.digits(2, y) && r.lit(" ") && r.time_of_day(h, mi, se) &&
            r.lit(" GMT") && r.s.empty()) {
            // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is in the past.
            std::time_t now = std::time(nullptr);
            std::tm tm{};
            gmtime_r(&now, &tm);
            int cur = tm.tm_year + 1900;
            int full = cur / 100 * 100 + y;
            if (full > cur + 50) full -= 100;
            return make_time(full, mo, d, h, mi, se);
        }
        // asctime-date: "Sun Nov  6 08:49:37 1994" (day is space-padded)
        r = date_reader{s};
        if (r.lit(k_wkday[wd]) && r.lit(" ") && r.month(mo) && r.lit(" ")) {
            bool ok = r.lit(" ") ? r.digits(1, d) : r.digits(2, d);
            if (ok && r.lit(" ") && r.time_of_day(h, mi, se) && r.lit(" ") && r.digits(4, y) &&
                r.s.empty()) {
                return make_time(y, mo, d, h, mi, se);
            }
        }
    }
    return std::nullopt;
}

// ---- MIME ----------------------------------------------------------------------------------

std::string_view mime_type_for(std::string_view file_name) {
    struct entry {
        std::string_view ext, type;
    };
    static constexpr entry k_types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"txt", "text/plain; charset=utf-8"},
        {"wasm", "application/wasm"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"xml", "application/xml"},
        {"pdf", "application/pdf"},
    };
    std::size_t slash = file_name.rfind('/');
    if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
    std::size_t dot = file_name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
    std::string_view ext = file_name.substr(dot + 1);
    for (const entry& e : k_types)
        if (iequals(e.ext, ext)) return e.type;
    return "application/octet-stream";
}

}  // namespace sy::http
