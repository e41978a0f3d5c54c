// Chunked transfer coding decoder (RFC 9112 section 7.1), shared by both parsers.
#include <algorithm>

#include "lines.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/proto/http1/detail/section.hpp"

namespace sy::http1::detail {

namespace {

chunk_step chunk_error(error e, std::size_t off) {
    chunk_step s;
    s.k = chunk_step::kind::error;
    s.err = e;
    s.err_off = off;
    return s;
}

}  // namespace

parser_state chunked_decoder::state() const {
    switch (phase_) {
        case phase::size:
            return parser_state::chunk_size;
        case phase::data:
            return parser_state::chunk_data;
        case phase::data_end:
            return parser_state::chunk_data_end;
        case phase::trailers:
            break;
    }
    return parser_state::trailers;
}

chunk_step chunked_decoder::decode(byte_view in, const limits& lim, raw_field* raw) {
    chunk_step out;
    std::size_t pos = 0;
    for (;;) {
        switch (phase_) {
            case phase::size:
                if (!size_line(in, pos, lim, out)) return out;
                break;
            case phase::data: {
                if (pos == in.size()) {
                    out.consumed = pos;
                    return out;
                }
                const auto n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(in.size() - pos, remaining_));
                remaining_ -= n;
                if (remaining_ == 0) phase_ = phase::data_end;
                out.k = chunk_step::kind::body;
                out.body = in.subspan(pos, n);
                out.consumed = pos + n;
                return out;
            }
            case phase::data_end:
                // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
                if (pos < in.size() && in[pos] != '\r')
                    return chunk_error(error::bad_chunk_end, pos);
                if (pos + 1 < in.size() && in[pos + 1] != '\n') {
                    return chunk_error(error::bad_chunk_end, pos + 1);
                }
                if (in.size() - pos < 2) {
                    out.consumed = pos;
                    return out;
                }
                pos += 2;
                phase_ = phase::size;
                break;
            case phase::trailers:
                trailer_lines(in, pos, lim, raw, out);
                return out;
        }
    }
}

// chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ).
// Returns false when `out` is final (need_more or error).
bool chunked_decoder::size_line(byte_view in, std::size_t& pos, const limits& lim,
                                chunk_step& out) {
    const line_rules rules{lim.max_chunk_line, lim.max_chunk_line, error::chunk_line_too_long,
                           error::chunk_line_too_long, error::bad_chunk_size};
    std::uint32_t b = 0, e = 0, eoff = 0;
    error err = error::none;
    const std::uint8_t* base = in.data() + pos;
    auto st = lines_.next(base, in.size() - pos, rules, b, e, err, eoff);
    if (st == line_step::need_more) {
        out.consumed = pos;  // the partial line stays unconsumed
        return false;
    }
    if (st == line_step::error) {
        out = chunk_error(err, pos + eoff);
        return false;
    }
    std::uint64_t size = 0;
    std::uint32_t i = b;
    for (int d; i < e && (d = hex_value(static_cast<char>(base[i]))) >= 0; ++i) {
        if (size >> 56) {  // a 15th significant digit: refuse sizes of 2^60 and more
            out = chunk_error(error::chunk_size_overflow, pos + i);
            return false;
        }
        size = size << 4 | static_cast<std::uint64_t>(d);
    }
    if (i == b) {
        out = chunk_error(error::bad_chunk_size, pos + b);
        return false;
    }
    while (i < e && (base[i] == ' ' || base[i] == '\t')) ++i;  // BWS before ';' only
    if (i < e && base[i] != ';') {
        out = chunk_error(error::bad_chunk_size, pos + i);
        return false;
    }
    if (i == e && (base[e - 1] == ' ' || base[e - 1] == '\t')) {
        out = chunk_error(error::bad_chunk_size, pos + e - 1);  // trailing BWS without ext
        return false;
    }
    total_ += size;
    if (total_ > lim.max_body_bytes) {
        out = chunk_error(error::body_too_large, pos + b);
        return false;
    }
    pos += e - b + 2;
    lines_.reset();
    if (size == 0) {
        phase_ = phase::trailers;
        n_trailers_ = 0;
    } else {
        remaining_ = size;
        phase_ = phase::data;
    }
    return true;
}

// trailer-section = *( field-line CRLF ) CRLF. The section stays unconsumed until complete:
// its fields are offsets from `pos`, which the caller consumes on need_more.
bool chunked_decoder::trailer_lines(byte_view in, std::size_t pos, const limits& lim,
                                    raw_field* raw, chunk_step& out) {
    const line_rules rules{lim.max_trailer_bytes, lim.max_trailer_bytes, error::trailers_too_large,
                           error::trailers_too_large, error::ctl_in_field};
    const std::uint8_t* base = in.data() + pos;
    for (;;) {
        std::uint32_t b = 0, e = 0, eoff = 0;
        error err = error::none;
        auto st = lines_.next(base, in.size() - pos, rules, b, e, err, eoff);
        if (st == line_step::need_more) {
            out.consumed = pos;
            return false;
        }
        if (st == line_step::error) {
            out = chunk_error(err, pos + eoff);
            return false;
        }
        if (b == e) break;
        if (n_trailers_ >= lim.max_headers) {
            out = chunk_error(error::trailers_too_large, pos + b);
            return false;
        }
        raw_field f;
        if (error fe = parse_field_line(base, b, e, f, in.size() - pos); fe != error::none) {
            out = chunk_error(fe, pos + b);
            return false;
        }
        raw[n_trailers_++] = f;
    }
    out.k = chunk_step::kind::done;
    out.trailer_off = pos;
    out.n_trailers = n_trailers_;
    out.consumed = pos + lines_.pos();
    reset();
    return true;
}

}  // namespace sy::http1::detail
