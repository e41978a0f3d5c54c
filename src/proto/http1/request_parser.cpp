// HTTP/1.1 request parser (RFC 9112). See request_parser.hpp for the contract.
#include "switchyard/proto/http1/request_parser.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>

#include "common.hpp"
#include "lines.hpp"
#include "scan.hpp"

namespace sy::http1 {

namespace {

bool is_digit(std::uint8_t c) {
    return c >= '0' && c <= '9';
}

// Known methods by length and a 4-byte (plus tail) compare; no library memcmp per request.
method method_of(const std::uint8_t* m, std::size_t n) {
    auto w = [&](std::size_t i) {
        return static_cast<std::uint32_t>(m[i]) | static_cast<std::uint32_t>(m[i + 1]) << 8 |
               static_cast<std::uint32_t>(m[i + 2]) << 16;
    };
    auto lit = [](const char* s) {
        return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[0])) |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[1])) << 8 |
               static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[2])) << 16;
    };
    if (n < 3 || n > 7) return method::other;
    const std::uint32_t head = w(0);
    switch (n) {
        case 3:
            if (head == lit("GET")) return method::get;
            if (head == lit("PUT")) return method::put;
            break;
        case 4:
            if (head == lit("POS") && m[3] == 'T') return method::post;
            if (head == lit("HEA") && m[3] == 'D') return method::head;
            break;
        case 5:
            if (head == lit("PAT") && m[3] == 'C' && m[4] == 'H') return method::patch;
            if (head == lit("TRA") && m[3] == 'C' && m[4] == 'E') return method::trace;
            break;
        case 6:
            if (head == lit("DEL") && w(3) == lit("ETE")) return method::delete_;
            break;
        case 7:
            if (head == lit("OPT") && w(3) == lit("ION") && m[6] == 'S') return method::options;
            if (head == lit("CON") && w(3) == lit("NEC") && m[6] == 'T') return method::connect;
            break;
        default:
            break;
    }
    return method::other;
}

constexpr std::array<std::uint8_t, 256> make_host_table() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = 1;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = 1;
    for (int c = '0'; c <= '9'; ++c) t[c] = 1;
    for (char c : std::string_view("-._~!$&'()*+,;=:[]%")) t[static_cast<std::uint8_t>(c)] = 1;
    return t;
}
constexpr auto k_host = make_host_table();

bool valid_host(std::string_view v) {
    // Accumulate instead of exiting early: one predictable loop over a short value.
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    std::uint8_t ok = 1;
    for (std::size_t i = 0; i < v.size(); ++i) ok &= k_host[p[i]];
    return ok != 0;
}

// First letter (lowercase) of the field names on_field() acts on, by name length; 14 has two
// ("content-length", "http2-settings"). Most fields fail this test and skip the call.
constexpr std::array<char, 18> k_special_first{0, 0,   0, 0, 'h', 0,   'e', 'u', 0,
                                               0, 'c', 0, 0, 0,   'c', 0,   0,   't'};

inline bool special_field(const std::uint8_t* h, const detail::raw_field& f) {
    if (f.name_len >= k_special_first.size()) return false;
    const char c = static_cast<char>(h[f.name_off] | 0x20);
    return c == k_special_first[f.name_len] || (f.name_len == 14 && c == 'h');
}

// absolute-form (RFC 9112 section 3.2.2): scheme "://" authority [path] ["?" query]. Returns the
// offset of the path within the target (== target length when the path is empty) or -1.
int absolute_path_offset(const std::uint8_t* t, std::uint32_t n) {
    std::uint32_t i = 0;
    auto alpha = [](std::uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; };
    if (n == 0 || !alpha(t[0])) return -1;
    while (i < n && (alpha(t[i]) || (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' ||
                     t[i] == '.')) {
        ++i;
    }
    if (n - i < 3 || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/') return -1;
    i += 3;
    while (i < n && t[i] != '/' && t[i] != '?') ++i;
    return static_cast<int>(i);
}

}  // namespace

request_parser::request_parser(const limits& lim) : lim_(detail::clamp_limits(lim)) {
    start_message();
}

void request_parser::set_state(parser_state s) {
    assert(detail::legal_transition(state_, s));
    state_ = s;
}

void request_parser::start_message() {
    lines_.reset();
    framing_ = {};
    start_line_done_ = h2_start_line_ = false;
    host_idx_ = upgrade_idx_ = settings_idx_ = -1;
    expect_continue_ = upgrade_websocket_ = upgrade_h2c_ = false;
    n_fields_ = n_trailers_ = 0;
}

parse_result request_parser::feed(byte_view in) {
    parse_result r = step(in);  // returned in place: no copy of the result
    stream_off_ += r.consumed;
    return r;
}

parse_result request_parser::step(byte_view in) {
    switch (state_) {
        case parser_state::head:
            return on_head(in);
        case parser_state::body_length:
            return on_body_length(in);
        case parser_state::chunk_size:
        case parser_state::chunk_data:
        case parser_state::chunk_data_end:
        case parser_state::trailers:
            return on_chunked(in);
        case parser_state::message_end:
            return on_message_end();
        case parser_state::failed: {
            parse_result r;
            r.out = outcome::error;
            r.err = diag_.err;
            return r;
        }
        case parser_state::body_close:  // responses only
        case parser_state::closed:
        case parser_state::switched:
            break;
    }
    return {};
}

parse_result request_parser::fail(error e, std::size_t off, byte_view in) {
    detail::fill_diagnostics(diag_, e, state_, stream_off_, off, in);
    state_ = parser_state::failed;
    parse_result r;
    r.out = outcome::error;
    r.err = e;
    return r;
}

parse_result request_parser::on_head(byte_view in) {
    // Work on a local copy of the line reader, written back on every return: the compiler then
    // keeps it in registers (stores into raw_ could otherwise alias the member).
    detail::line_reader lr = lines_;
    struct write_back {
        detail::line_reader& dst;
        const detail::line_reader& src;
        ~write_back() { dst = src; }
    } guard{lines_, lr};
    std::size_t skip = 0;
    if (lr.fresh()) {
        // RFC 9112 section 2.2: ignore empty lines received before the request-line.
        while (in.size() - skip >= 2 && in[skip] == '\r' && in[skip + 1] == '\n') skip += 2;
    }
    const std::uint8_t* h = in.data() + skip;
    const std::size_t hn = in.size() - skip;
    // fields_ holds views while a head is parsed within one feed (the common case); across an
    // incomplete feed they are parked as offsets in raw_, since the buffer may move.
    if (n_fields_ > 0 && !lr.fresh()) detail::materialise(h, raw_, n_fields_, fields_);
    const detail::line_rules start_rules{lim_.max_request_line, lim_.max_head_bytes,
                                         error::request_line_too_long, error::head_too_large,
                                         error::bad_request_line};
    const detail::line_rules field_rules{lim_.max_head_bytes, lim_.max_head_bytes,
                                         error::head_too_large, error::head_too_large,
                                         error::ctl_in_field};
    std::uint32_t b = 0, e = 0, eoff = 0;
    error err = error::none;
    if (!start_line_done_) {
        auto st = lr.next(h, hn, start_rules, b, e, err, eoff);
        if (st == detail::line_step::need_more) return need_more_head(skip);
        if (st == detail::line_step::error) return fail(err, skip + eoff, in);
        if (error le = on_request_line(h, b, e, skip, h + hn); le != error::none) {
            return fail(le, skip + b, in);
        }
        start_line_done_ = true;
    }
    if (h2_start_line_) return on_h2_preface(in, skip);
    // Field lines (RFC 9112 section 5) until the empty line. The count lives in a local.
    const char* hc = reinterpret_cast<const char*>(h);
    std::uint32_t n = n_fields_;
    for (;; ++n) {
        auto st = lr.next(h, hn, field_rules, b, e, err, eoff);
        if (st == detail::line_step::need_more) {
            n_fields_ = static_cast<std::uint16_t>(n);
            park_fields(h);
            return need_more_head(skip);
        }
        if (st == detail::line_step::error) return fail(err, skip + eoff, in);
        n_fields_ = static_cast<std::uint16_t>(n);
        if (b == e) return finish_head(in, skip, skip + lr.pos());
        if (n >= lim_.max_headers) return fail(error::too_many_headers, skip + b, in);
        detail::raw_field f;
        if (error fe = detail::parse_field_line(h, b, e, f, hn); fe != error::none) {
            return fail(fe, skip + b, in);
        }
        if (special_field(h, f)) {
            if (error fe = on_field(h, f); fe != error::none) return fail(fe, skip + b, in);
        }
        fields_[n] = header{std::string_view(hc + f.name_off, f.name_len),
                            std::string_view(hc + f.value_off, f.value_len)};
    }
}

parse_result request_parser::need_more_head(std::size_t skip) {
    parse_result r;
    r.consumed = skip;
    return r;
}

void request_parser::park_fields(const std::uint8_t* h) {
    const char* hc = reinterpret_cast<const char*>(h);
    for (std::size_t i = 0; i < n_fields_; ++i) {
        const header& f = fields_[i];
        raw_[i] = detail::raw_field{static_cast<std::uint32_t>(f.name.data() - hc),
                                    static_cast<std::uint32_t>(f.name.size()),
                                    static_cast<std::uint32_t>(f.value.data() - hc),
                                    static_cast<std::uint32_t>(f.value.size())};
    }
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 section 3).
error request_parser::on_request_line(const std::uint8_t* h, std::uint32_t b, std::uint32_t e,
                                      std::size_t skip, const std::uint8_t* h_end) {
    const std::uint8_t* l = h + b;
    const std::uint32_t len = e - b;
    // GET and POST with their SP: one word compare instead of the token scan.
    std::uint32_t w4 = 0;
    if (len >= 5) std::memcpy(&w4, l, 4);
    const auto ml = w4 == detail::word4("GET ") ? 3u
                    : w4 == detail::word4("POST") && l[4] == ' '
                        ? 4u
                        : static_cast<std::uint32_t>(detail::token_length(l, len, h_end - l));
    if (ml == 0 || (ml < len && l[ml] != ' ')) return error::bad_method;
    // Shortest valid tail: SP target(1) SP "HTTP/x.y"(8).
    if (len < ml + 11 || l[len - 9] != ' ') return error::bad_request_line;
    const std::uint32_t toff = ml + 1, tlen = len - 9 - toff;
    const std::uint8_t* v = l + len - 8;
    if (std::memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || !is_digit(v[5]) || !is_digit(v[7])) {
        // A stray space inside the target also lands here; call it what it looks like.
        return std::memchr(l + toff, ' ', tlen) ? error::bad_request_line : error::bad_version;
    }
    method_len_ = ml;
    target_off_ = b + toff;
    target_len_ = tlen;
    const std::uint8_t* t = l + toff;
    if (v[5] != '1') {
        // RFC 9113 section 3.4: prior-knowledge preface, only as the connection's first bytes.
        if (stream_off_ == 0 && skip == 0 && ml == 3 && std::memcmp(l, "PRI", 3) == 0 &&
            tlen == 1 && t[0] == '*' && v[5] == '2' && v[7] == '0') {
            h2_start_line_ = true;
            return error::none;
        }
        return error::unsupported_version;
    }
    version_minor_ = v[7] == '0' ? 0 : 1;  // HTTP/1.2+ is handled as 1.1 (RFC 9110 6.2)
    // Target characters: VCHAR (and obs-text) except '#'; '?' starts the query.
    const std::uint8_t* te = t + tlen;
    const std::uint8_t* q = detail::find_target_stop(t, te, h_end);
    const std::uint8_t* s = q;
    while (s < te && *s == '?') s = detail::find_target_stop(s + 1, te, h_end);
    if (s != te) return *s == ' ' ? error::bad_request_line : error::bad_target;
    query_at_ = static_cast<std::uint32_t>(q - t);  // == tlen when there is no query
    const method m = method_of(l, ml);
    method_ = m;
    path_off_ = 0;
    path_len_ = query_at_;
    if (m == method::connect) {
        // authority-form only (RFC 9112 section 3.2.3).
        if (t[0] == '/' || t[0] == '*' || q != te) return error::bad_target;
    } else if (tlen == 1 && t[0] == '*') {
        if (m != method::options) return error::bad_target;  // asterisk-form: OPTIONS only
    } else if (t[0] != '/') {
        const int po = absolute_path_offset(t, query_at_);
        if (po < 0) return error::bad_target;
        path_off_ = static_cast<std::uint32_t>(po);
        path_len_ = query_at_ - path_off_;
    }
    return error::none;
}

error request_parser::on_field(const std::uint8_t* h, detail::raw_field f) {
    const char* name = reinterpret_cast<const char*>(h + f.name_off);
    const std::string_view value(reinterpret_cast<const char*>(h + f.value_off), f.value_len);
    const auto idx = static_cast<std::int16_t>(n_fields_);
    switch (f.name_len) {
        case 4:
            if (detail::equals_lower(name, "host", 4)) {
                if (host_idx_ >= 0) return error::duplicate_host;
                if (!valid_host(value)) return error::bad_host;
                host_idx_ = idx;
            }
            break;
        case 6:
            if (detail::equals_lower(name, "expect", 6) && iequals(value, "100-continue")) {
                expect_continue_ = true;
            }
            break;
        case 7:
            if (detail::equals_lower(name, "upgrade", 7)) {
                if (upgrade_idx_ < 0) upgrade_idx_ = idx;
                detail::for_each_token(value, [&](std::string_view t) {
                    t = t.substr(0, t.find('/'));
                    if (iequals(t, "websocket")) upgrade_websocket_ = true;
                    if (iequals(t, "h2c")) upgrade_h2c_ = true;
                });
            }
            break;
        case 10:
            if (detail::equals_lower(name, "connection", 10)) framing_.on_connection(value);
            break;
        case 14:
            if (detail::equals_lower(name, "content-length", 14)) {
                return framing_.on_content_length(value);
            }
            if (detail::equals_lower(name, "http2-settings", 14) && settings_idx_ < 0) {
                settings_idx_ = idx;
            }
            break;
        case 17:
            if (detail::equals_lower(name, "transfer-encoding", 17)) {
                return framing_.on_transfer_encoding(value);
            }
            break;
        default:
            break;
    }
    return error::none;
}

parse_result request_parser::finish_head(byte_view in, std::size_t skip, std::size_t consumed) {
    const std::uint8_t* h = in.data() + skip;
    // RFC 9112 section 3.2: HTTP/1.1 requires exactly one Host.
    if (version_minor_ == 1 && host_idx_ < 0) return fail(error::missing_host, skip, in);
    // RFC 9112 section 6.1 and 6.3: CL with TE, or TE in 1.0, is faulty framing.
    if (framing_.has_transfer_encoding && framing_.has_content_length) {
        return fail(error::cl_and_te, skip, in);
    }
    if (framing_.has_transfer_encoding && version_minor_ == 0) {
        return fail(error::te_in_http10, skip, in);
    }
    if (framing_.has_content_length && framing_.content_length > lim_.max_body_bytes) {
        return fail(error::body_too_large, skip, in);
    }
    auto sv = [&](std::uint32_t off, std::uint32_t len) {
        return std::string_view(reinterpret_cast<const char*>(h) + off, len);
    };
    auto field = [&](std::int16_t i) { return i < 0 ? std::string_view{} : fields_[i].value; };
    request_head& hd = head_;
    hd.method_name = sv(0, method_len_);
    hd.method = method_;
    hd.target = sv(target_off_, target_len_);
    hd.path = hd.target.substr(path_off_, path_len_);
    hd.query = query_at_ < target_len_ ? hd.target.substr(query_at_ + 1) : std::string_view{};
    hd.version_minor = version_minor_;
    hd.headers = {fields_, n_fields_};
    hd.body = framing_.has_transfer_encoding ? body_kind::chunked
              : framing_.has_content_length  ? body_kind::length
                                             : body_kind::none;  // RFC 9112 6.3 rule 7
    hd.content_length = framing_.has_content_length ? framing_.content_length : 0;
    // RFC 9112 section 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
    hd.keep_alive = !framing_.conn_close && (version_minor_ == 1 || framing_.conn_keep_alive);
    // RFC 9110 section 10.1.1: a 100-continue in an HTTP/1.0 request is ignored.
    hd.expect_continue = expect_continue_ && version_minor_ == 1;
    hd.connection_upgrade = framing_.conn_upgrade;
    hd.upgrade_websocket = upgrade_websocket_;
    hd.upgrade_h2c = upgrade_h2c_;
    hd.upgrade = field(upgrade_idx_);
    hd.http2_settings = field(settings_idx_);
    hd.host = field(host_idx_);
    if (hd.body == body_kind::chunked) {
        chunk_.reset();
        set_state(parser_state::chunk_size);
    } else if (hd.content_length > 0) {
        remaining_ = hd.content_length;
        set_state(parser_state::body_length);
    } else {
        set_state(parser_state::message_end);
    }
    parse_result r;
    r.out = outcome::complete;
    r.ev = event::head;
    r.consumed = consumed;
    return r;
}

parse_result request_parser::on_h2_preface(byte_view in, std::size_t skip) {
    const byte_view h = in.subspan(skip);
    const std::size_t n = std::min(h.size(), k_h2_preface.size());
    if (std::memcmp(h.data(), k_h2_preface.data(), n) != 0) {
        std::size_t off = 0;
        while (h[off] == static_cast<std::uint8_t>(k_h2_preface[off])) ++off;
        return fail(error::bad_h2_preface, skip + off, in);
    }
    parse_result r;
    if (n < k_h2_preface.size()) {
        r.consumed = skip;
        return r;
    }
    set_state(parser_state::switched);
    r.out = outcome::complete;
    r.ev = event::h2_preface;
    r.consumed = skip + k_h2_preface.size();
    return r;
}

parse_result request_parser::on_body_length(byte_view in) {
    parse_result r;
    if (in.empty()) return r;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
    remaining_ -= n;
    if (remaining_ == 0) set_state(parser_state::message_end);
    r.out = outcome::complete;
    r.ev = event::body;
    r.body = in.first(n);
    r.consumed = n;
    return r;
}

parse_result request_parser::on_chunked(byte_view in) {
    return detail::on_chunked(*this, in);
}

parse_result request_parser::on_message_end() {
    ++messages_;
    const bool keep = head_.keep_alive;
    start_message();
    set_state(keep ? parser_state::head : parser_state::closed);
    parse_result r;
    r.out = outcome::complete;
    r.ev = event::end;
    return r;
}

}  // namespace sy::http1
