// HTTP/1.1 response parser (RFC 9112). See response_parser.hpp for the contract.
#include "switchyard/proto/http1/response_parser.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "common.hpp"
#include "lines.hpp"
#include "scan.hpp"

namespace sy::http1 {

response_parser::response_parser(const limits& lim) : lim_(detail::clamp_limits(lim)) {
    start_message();
}

void response_parser::set_state(parser_state s) {
    assert(detail::legal_transition(state_, s));
    state_ = s;
}

void response_parser::start_message() {
    lines_.reset();
    framing_ = {};
    chunk_.reset();
    start_line_done_ = false;
    n_fields_ = n_trailers_ = 0;
    remaining_ = 0;
}

parse_result response_parser::feed(byte_view in) {
    parse_result r = step(in);  // returned in place: no copy of the result
    stream_off_ += r.consumed;
    return r;
}

parse_result response_parser::step(byte_view in) {
    switch (state_) {
        case parser_state::head:
            return on_head(in);
        case parser_state::body_length:
        case parser_state::body_close:
            return on_body(in);
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
        case parser_state::closed:
        case parser_state::switched:
            break;
    }
    return {};
}

parse_result response_parser::finish() {
    parse_result r;
    if (state_ == parser_state::body_close) {
        set_state(parser_state::message_end);
        return on_message_end();  // until_close is never keep-alive: ends in closed
    }
    if (state_ == parser_state::message_end) return on_message_end();
    if (state_ == parser_state::failed) {
        r.out = outcome::error;
        r.err = diag_.err;
        return r;
    }
    if ((state_ == parser_state::head && lines_.fresh()) || state_ == parser_state::closed ||
        state_ == parser_state::switched) {
        return r;
    }
    return fail(error::truncated_message, 0, {});
}

parse_result response_parser::fail(error e, std::size_t off, byte_view in) {
    detail::fill_diagnostics(diag_, e, state_, stream_off_, off, in);
    state_ = parser_state::failed;
    parse_result r;
    r.out = outcome::error;
    r.err = e;
    return r;
}

parse_result response_parser::on_head(byte_view in) {
    const detail::line_rules start_rules{lim_.max_request_line, lim_.max_head_bytes,
                                         error::bad_status_line, error::head_too_large,
                                         error::bad_status_line};
    const detail::line_rules field_rules{lim_.max_head_bytes, lim_.max_head_bytes,
                                         error::head_too_large, error::head_too_large,
                                         error::ctl_in_field};
    const std::uint8_t* h = in.data();
    for (;;) {
        std::uint32_t b = 0, e = 0, eoff = 0;
        error err = error::none;
        auto st = lines_.next(h, in.size(), start_line_done_ ? field_rules : start_rules, b, e, err,
                              eoff);
        if (st == detail::line_step::need_more) return {};
        if (st == detail::line_step::error) return fail(err, eoff, in);
        if (!start_line_done_) {
            if (error le = on_status_line(h, b, e); le != error::none) return fail(le, b, in);
            start_line_done_ = true;
            continue;
        }
        if (b == e) return finish_head(in, lines_.pos());
        if (n_fields_ >= lim_.max_headers) return fail(error::too_many_headers, b, in);
        detail::raw_field f;
        if (error fe = detail::parse_field_line(h, b, e, f, in.size()); fe != error::none) {
            return fail(fe, b, in);
        }
        const char* name = reinterpret_cast<const char*>(h + f.name_off);
        const std::string_view value(reinterpret_cast<const char*>(h + f.value_off), f.value_len);
        error fe = error::none;
        if (f.name_len == 14 && detail::equals_lower(name, "content-length", 14)) {
            fe = framing_.on_content_length(value);
        } else if (f.name_len == 17 && detail::equals_lower(name, "transfer-encoding", 17)) {
            fe = framing_.on_transfer_encoding(value);
        } else if (f.name_len == 10 && detail::equals_lower(name, "connection", 10)) {
            framing_.on_connection(value);
        }
        if (fe != error::none) return fail(fe, b, in);
        raw_[n_fields_++] = f;
    }
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4). A
// missing SP after the code is tolerated (seen in the wild).
error response_parser::on_status_line(const std::uint8_t* h, std::uint32_t b, std::uint32_t e) {
    const std::uint8_t* l = h + b;
    const std::uint32_t len = e - b;
    auto digit = [](std::uint8_t c) { return c >= '0' && c <= '9'; };
    if (len < 12 || std::memcmp(l, "HTTP/1.", 7) != 0 || !digit(l[7]) || l[8] != ' ' ||
        l[9] < '1' || l[9] > '5' || !digit(l[10]) || !digit(l[11]) || (len > 12 && l[12] != ' ')) {
        return error::bad_status_line;
    }
    version_minor_ = l[7] == '0' ? 0 : 1;
    status_ = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    reason_off_ = b + (len > 12 ? 13 : 12);
    reason_len_ = len > 12 ? len - 13 : 0;
    return error::none;
}

parse_result response_parser::finish_head(byte_view in, std::size_t consumed) {
    const std::uint8_t* h = in.data();
    detail::materialise(h, raw_, n_fields_, fields_);
    if (framing_.has_transfer_encoding && framing_.has_content_length) {
        return fail(error::cl_and_te, 0, in);
    }
    if (framing_.has_content_length && framing_.content_length > lim_.max_body_bytes) {
        return fail(error::body_too_large, 0, in);
    }
    response_head& hd = head_;
    hd.status = status_;
    hd.reason = std::string_view(reinterpret_cast<const char*>(h) + reason_off_, reason_len_);
    hd.version_minor = version_minor_;
    hd.headers = {fields_, n_fields_};
    hd.keep_alive = !framing_.conn_close && (version_minor_ == 1 || framing_.conn_keep_alive);
    hd.content_length = framing_.has_content_length ? framing_.content_length : 0;
    const bool interim = status_ < 200;
    if (interim || status_ == 204 || status_ == 304 || head_request_) {
        hd.body = body_kind::none;  // RFC 9112 section 6.3 rule 1
    } else if (framing_.has_transfer_encoding) {
        hd.body = body_kind::chunked;
    } else if (framing_.has_content_length) {
        hd.body = body_kind::length;
    } else {
        hd.body = body_kind::until_close;
        hd.keep_alive = false;
    }
    if (!interim) head_request_ = false;
    switch (hd.body) {
        case body_kind::chunked:
            chunk_.reset();
            set_state(parser_state::chunk_size);
            break;
        case body_kind::length:
            remaining_ = hd.content_length;
            set_state(remaining_ ? parser_state::body_length : parser_state::message_end);
            break;
        case body_kind::until_close:
            set_state(parser_state::body_close);
            break;
        case body_kind::none:
            set_state(parser_state::message_end);
            break;
    }
    parse_result r;
    r.out = outcome::complete;
    r.ev = event::head;
    r.consumed = consumed;
    return r;
}

parse_result response_parser::on_body(byte_view in) {
    parse_result r;
    if (in.empty()) return r;
    std::size_t n = in.size();
    if (state_ == parser_state::body_length) {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
        remaining_ -= n;
        if (remaining_ == 0) set_state(parser_state::message_end);
    }
    r.out = outcome::complete;
    r.ev = event::body;
    r.body = in.first(n);
    r.consumed = n;
    return r;
}

parse_result response_parser::on_chunked(byte_view in) {
    return detail::on_chunked(*this, in);
}

parse_result response_parser::on_message_end() {
    const bool interim = head_.status < 200;
    if (!interim) ++messages_;
    parser_state next = parser_state::head;
    if (head_.status == 101) {
        next = parser_state::switched;
    } else if (!interim && !head_.keep_alive) {
        next = parser_state::closed;
    }
    start_message();
    if (state_ != parser_state::closed) state_ = next;
    parse_result r;
    r.out = outcome::complete;
    r.ev = event::end;
    return r;
}

}  // namespace sy::http1
