// HTTP/1.1 response serializer and Date cache. See serializer.hpp.
#include "switchyard/proto/http1/serializer.hpp"

#include "switchyard/base/http_status.hpp"

#include <cstring>

#include "scan.hpp"

namespace sy::http1 {

namespace {

// Writes v in decimal into the end of buf; returns the start.
char* format_decimal(char* end, std::uint64_t v) {
    char* p = end;
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

void append_decimal(byte_buffer& out, std::uint64_t v) {
    char buf[24];
    char* p = format_decimal(buf + sizeof buf, v);
    out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

void append_field(byte_buffer& out, std::string_view name, std::string_view value) {
    mutable_byte_view w = out.prepare(name.size() + value.size() + 4);
    std::uint8_t* p = w.data();
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p++ = '\n';
    out.commit(static_cast<std::size_t>(p - w.data()));
}

}  // namespace

std::string_view reason_phrase(int status) {
    return http_reason_phrase(status);
}

void date_cache::update(std::time_t now) {
    if (now == last_) return;
    last_ = now;
    static constexpr char k_days[] = "SunMonTueWedThuFriSat";
    static constexpr char k_months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    std::tm t{};
    gmtime_r(&now, &t);
    char* p = line_;
    auto put = [&](const char* s, std::size_t n) {
        std::memcpy(p, s, n);
        p += n;
    };
    auto two = [&](int v) {
        *p++ = static_cast<char>('0' + v / 10 % 10);
        *p++ = static_cast<char>('0' + v % 10);
    };
    put("Date: ", 6);
    put(k_days + 3 * (t.tm_wday % 7), 3);
    put(", ", 2);
    two(t.tm_mday);
    *p++ = ' ';
    put(k_months + 3 * (t.tm_mon % 12), 3);
    *p++ = ' ';
    const int year = t.tm_year + 1900;
    two(year / 100);
    two(year % 100);
    *p++ = ' ';
    two(t.tm_hour);
    *p++ = ':';
    two(t.tm_min);
    *p++ = ':';
    two(t.tm_sec);
    put(" GMT\r\n", 6);
}

bool valid_field(std::string_view name, std::string_view value) {
    if (name.empty()) return false;
    for (char c : name) {
        if (!detail::k_tchar[static_cast<std::uint8_t>(c)]) return false;
    }
    const auto* v = reinterpret_cast<const std::uint8_t*>(value.data());
    return detail::find_line_stop(v, v + value.size()) == v + value.size();
}

response_writer& response_writer::status(int code, std::string_view reason, std::uint8_t minor) {
    if (reason.empty()) reason = reason_phrase(code);
    char line[16] = {'H', 'T', 'T', 'P', '/', '1', '.', static_cast<char>('0' + (minor ? 1 : 0)),
                     ' '};
    const int c = code < 100 || code > 999 ? 500 : code;
    line[9] = static_cast<char>('0' + c / 100);
    line[10] = static_cast<char>('0' + c / 10 % 10);
    line[11] = static_cast<char>('0' + c % 10);
    line[12] = ' ';
    out_.append(line, 13);
    out_.append(reason);
    out_.append("\r\n");
    return *this;
}

response_writer& response_writer::header(std::string_view name, std::string_view value) {
    if (!valid_field(name, value)) {
        ok_ = false;
        return *this;
    }
    append_field(out_, name, value);
    return *this;
}

response_writer& response_writer::date(const date_cache& d) {
    out_.append(d.field_line());
    return *this;
}

response_writer& response_writer::connection(bool close) {
    out_.append(close ? std::string_view("Connection: close\r\n")
                      : std::string_view("Connection: keep-alive\r\n"));
    return *this;
}

void response_writer::content_length(std::uint64_t n) {
    out_.append("Content-Length: ");
    append_decimal(out_, n);
    out_.append("\r\n\r\n");
}

void response_writer::body(std::string_view content) {
    content_length(content.size());
    out_.append(content);
}

void response_writer::begin_chunked() {
    out_.append("Transfer-Encoding: chunked\r\n\r\n");
}

void response_writer::end_head() {
    out_.append("\r\n");
}

void write_chunk(byte_buffer& out, byte_view data) {
    if (data.empty()) return;
    char buf[20];
    char* end = buf + sizeof buf;
    char* p = end;
    *--p = '\n';
    *--p = '\r';
    std::size_t n = data.size();
    do {
        *--p = "0123456789abcdef"[n & 15];
        n >>= 4;
    } while (n != 0);
    out.append(p, static_cast<std::size_t>(end - p));
    out.append(data);
    out.append("\r\n");
}

void write_last_chunk(byte_buffer& out, std::span<const header> trailers) {
    out.append("0\r\n");
    for (const header& h : trailers) {
        if (valid_field(h.name, h.value)) append_field(out, h.name, h.value);
    }
    out.append("\r\n");
}

void write_simple_response(byte_buffer& out, int status, std::string_view content_type,
                           std::string_view body, const date_cache& date, bool close) {
    response_writer w(out);
    w.status(status).date(date);
    if (!content_type.empty()) w.header("Content-Type", content_type);
    if (close) w.connection(true);
    w.body(body);
}

void write_error_response(byte_buffer& out, error e, const date_cache& date) {
    const error_reply r = reply_for(e);
    response_writer w(out);
    w.status(r.status, r.reason).date(date).header("Content-Type", "text/plain");
    if (r.close) w.connection(true);
    char body[96];
    const std::string_view name = to_string(e);
    const std::size_t n = std::min(r.reason.size(), sizeof body - name.size() - 4);
    std::memcpy(body, r.reason.data(), n);
    std::memcpy(body + n, " (", 2);
    std::memcpy(body + n + 2, name.data(), name.size());
    std::memcpy(body + n + 2 + name.size(), ")\n", 2);
    w.body(std::string_view(body, n + name.size() + 4));
}

void write_continue(byte_buffer& out) {
    out.append("HTTP/1.1 100 Continue\r\n\r\n");
}

void write_request_head(byte_buffer& out, std::string_view method, std::string_view target,
                        std::string_view host, std::span<const header> fields,
                        std::uint64_t body_length) {
    out.append(method);
    out.append(" ");
    out.append(target);
    out.append(" HTTP/1.1\r\n");
    append_field(out, "Host", host);
    for (const header& h : fields) {
        if (valid_field(h.name, h.value)) append_field(out, h.name, h.value);
    }
    if (body_length > 0) {
        out.append("Content-Length: ");
        append_decimal(out, body_length);
        out.append("\r\n");
    }
    out.append("\r\n");
}

}  // namespace sy::http1
