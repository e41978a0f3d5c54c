// Shared by the http1 fuzz targets: feed an input whole or in fixed-size chunks through a
// sy::byte_buffer and record what the parser reported, so the two runs can be compared.
#pragma once

#include <cstdint>
#include <string>

#include "switchyard/base/buffer.hpp"
#include "switchyard/proto/http1/request_parser.hpp"
#include "switchyard/proto/http1/response_parser.hpp"

namespace sy::http1::fuzz {

inline void append_fields(std::string& s, std::span<const header> fields) {
    for (const header& f : fields) {
        s += '[';
        s.append(f.name);
        s += ':';
        s.append(f.value);
        s += ']';
    }
}

inline std::string describe(const request_head& h) {
    std::string s = "head ";
    s.append(h.method_name).append(" ").append(h.target).append(" ").append(h.path);
    s.append("?").append(h.query).append(" ").append(h.host).append(" ").append(h.upgrade);
    s += std::to_string(h.version_minor) + std::to_string(static_cast<int>(h.body)) +
         std::to_string(h.content_length) + (h.keep_alive ? "k" : "-") +
         (h.expect_continue ? "e" : "-") + (h.upgrade_websocket ? "w" : "-") +
         (h.upgrade_h2c ? "2" : "-") + (h.connection_upgrade ? "u" : "-");
    append_fields(s, h.headers);
    return s;
}

inline std::string describe(const response_head& h) {
    std::string s = "head " + std::to_string(h.status) + " ";
    s.append(h.reason);
    s += std::to_string(h.version_minor) + std::to_string(static_cast<int>(h.body)) +
         std::to_string(h.content_length) + (h.keep_alive ? "k" : "-");
    append_fields(s, h.headers);
    return s;
}

struct transcript {
    std::string events;
    std::string body;  // all body bytes, whatever the chunking
    outcome last = outcome::need_more;
    error err = error::none;
    bool operator==(const transcript&) const = default;
};

template <typename Parser>
void record(Parser& p, const parse_result& r, byte_view in, transcript& t) {
    if (r.consumed > in.size()) __builtin_trap();
    t.last = r.out;
    t.err = r.err;
    if (r.out != outcome::complete) return;
    switch (r.ev) {
        case event::head:
            t.events += describe(p.head()) + "\n";
            break;
        case event::body:
            if (r.body.data() < in.data() ||
                r.body.data() + r.body.size() > in.data() + in.size()) {
                __builtin_trap();
            }
            t.body.append(as_string_view(r.body));
            break;
        case event::end:
            t.events += "end";
            append_fields(t.events, p.trailers());
            t.events += "\n";
            break;
        case event::h2_preface:
            t.events += "h2\n";
            break;
        case event::none:
            __builtin_trap();
    }
}

/// Feeds `input` in pieces of `chunk` bytes (all at once when chunk == 0).
template <typename Parser>
transcript run(Parser& p, std::string_view input, std::size_t chunk, bool eof) {
    transcript t;
    byte_buffer buf;
    std::size_t from = 0;
    do {
        const std::size_t n = chunk == 0 ? input.size() : std::min(chunk, input.size() - from);
        buf.append(input.substr(from, n));
        from += n;
        for (int guard = 0;; ++guard) {
            if (guard > 1000000) __builtin_trap();  // no progress
            const byte_view in = buf.readable();
            parse_result r = p.feed(in);
            record(p, r, in, t);
            if (r.out == outcome::error) return t;
            buf.consume(r.consumed);
            if (r.out == outcome::need_more) break;
        }
    } while (from < input.size());
    if constexpr (requires { p.finish(); }) {
        if (eof) {
            parse_result r = p.finish();
            record(p, r, {}, t);
            while (r.out == outcome::complete && p.state() == parser_state::message_end) {
                r = p.feed({});
                record(p, r, {}, t);
            }
        }
    }
    return t;
}

inline limits fuzz_limits() {
    limits l;
    l.max_request_line = 256;
    l.max_head_bytes = 1024;
    l.max_headers = 16;
    l.max_body_bytes = 4096;
    l.max_chunk_line = 64;
    l.max_trailer_bytes = 256;
    return l;
}

}  // namespace sy::http1::fuzz
