// Helpers shared by the two parsers (internal).
#pragma once

#include <algorithm>
#include <cstring>

#include "switchyard/proto/http1/detail/section.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1::detail {

inline limits clamp_limits(limits l) {
    constexpr std::uint32_t k_max_section = 1u << 30;
    l.max_headers = std::min<std::uint32_t>(l.max_headers, k_max_headers);
    l.max_head_bytes = std::min(l.max_head_bytes, k_max_section);
    l.max_request_line = std::min(l.max_request_line, l.max_head_bytes);
    l.max_trailer_bytes = std::min(l.max_trailer_bytes, k_max_section);
    l.max_chunk_line = std::clamp<std::uint32_t>(l.max_chunk_line, 3, k_max_section);
    return l;
}

/// One chunked-body step, the same for both parsers (P: request_parser or response_parser,
/// which befriend this). need_more and a body piece are returned as they are; an error fails the
/// message; the last chunk ends it, its trailers materialised into the parser's fields.
template <typename P>
parse_result on_chunked(P& p, byte_view in) {
    const chunk_step st = p.chunk_.decode(in, p.lim_, p.raw_);
    parse_result r;
    switch (st.k) {
        case chunk_step::kind::need_more:
            p.state_ = p.chunk_.state();
            r.consumed = st.consumed;
            return r;
        case chunk_step::kind::body:
            p.state_ = p.chunk_.state();
            r.out = outcome::complete;
            r.ev = event::body;
            r.body = st.body;
            r.consumed = st.consumed;
            return r;
        case chunk_step::kind::error:
            p.state_ = p.chunk_.state();
            return p.fail(st.err, st.err_off, in);
        case chunk_step::kind::done:
            break;
    }
    p.state_ = parser_state::trailers;  // done: the last chunk and its trailers are in
    r = p.on_message_end();
    materialise(in.data() + st.trailer_off, p.raw_, st.n_trailers, p.fields_);
    p.n_trailers_ = st.n_trailers;
    r.consumed = st.consumed;
    return r;
}

/// The parsers' legal state changes; set_state() asserts them.
inline bool legal_transition(parser_state from, parser_state to) {
    using s = parser_state;
    switch (to) {
        case s::head:
            return from == s::message_end || from == s::chunk_size || from == s::trailers ||
                   from == s::head;
        case s::body_length:
        case s::body_close:
        case s::switched:
            return from == s::head || from == s::message_end;
        case s::chunk_size:
        case s::chunk_data:
        case s::chunk_data_end:
        case s::trailers:
            return from == s::head || (from >= s::chunk_size && from <= s::trailers);
        case s::message_end:
            return from == s::head || from == s::body_length || from == s::body_close;
        case s::closed:
            return from == s::message_end || from == s::trailers || from == s::chunk_size;
        case s::failed:
            return true;
    }
    return false;
}

inline void fill_diagnostics(diagnostics& d, error e, parser_state st, std::uint64_t stream_off,
                             std::size_t off, byte_view in) {
    d.err = e;
    d.state = st;
    d.offset = stream_off + off;
    off = std::min(off, in.size());
    d.snippet_len = static_cast<std::uint8_t>(std::min(in.size() - off, sizeof d.snippet));
    if (d.snippet_len) std::memcpy(d.snippet, in.data() + off, d.snippet_len);
}

/// Turns section offsets into views once the section is complete.
inline void materialise(const std::uint8_t* base, const raw_field* raw, std::size_t n,
                        header* out) {
    const char* b = reinterpret_cast<const char*>(base);
    for (std::size_t i = 0; i < n; ++i) {
        out[i].name = std::string_view(b + raw[i].name_off, raw[i].name_len);
        out[i].value = std::string_view(b + raw[i].value_off, raw[i].value_len);
    }
}

}  // namespace sy::http1::detail
