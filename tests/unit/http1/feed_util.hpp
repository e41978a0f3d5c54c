// Test helpers: feed an input to a parser in chunks and record a canonical transcript, so the
// same input fed whole, split at every byte, and one byte at a time can be compared.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/proto/http1/request_parser.hpp"
#include "switchyard/proto/http1/response_parser.hpp"

namespace sy::http1::test {

struct transcript {
    std::vector<std::string> events;  // consecutive body events merged
    outcome last = outcome::need_more;
    error err = error::none;
    bool operator==(const transcript&) const = default;
};

inline std::string describe(const request_head& h) {
    std::string s =
        "head " + std::string(h.method_name) + " " + std::string(h.target) +
        " path=" + std::string(h.path) + " query=" + std::string(h.query) + " v=1." +
        std::to_string(h.version_minor) + " body=" + std::to_string(static_cast<int>(h.body)) +
        " cl=" + std::to_string(h.content_length) + " ka=" + (h.keep_alive ? "1" : "0") +
        " expect=" + (h.expect_continue ? "1" : "0") +
        " conn_upgrade=" + (h.connection_upgrade ? "1" : "0") +
        " ws=" + (h.upgrade_websocket ? "1" : "0") + " h2c=" + (h.upgrade_h2c ? "1" : "0") +
        " upgrade=" + std::string(h.upgrade) + " settings=" + std::string(h.http2_settings) +
        " host=" + std::string(h.host);
    for (const header& f : h.headers)
        s += " [" + std::string(f.name) + ":" + std::string(f.value) + "]";
    return s;
}

inline std::string describe(const response_head& h) {
    std::string s = "head " + std::to_string(h.status) + " " + std::string(h.reason) + " v=1." +
                    std::to_string(h.version_minor) +
                    " body=" + std::to_string(static_cast<int>(h.body)) +
                    " cl=" + std::to_string(h.content_length) + " ka=" + (h.keep_alive ? "1" : "0");
    for (const header& f : h.headers)
        s += " [" + std::string(f.name) + ":" + std::string(f.value) + "]";
    return s;
}

inline std::string describe_end(std::span<const header> trailers) {
    std::string s = "end";
    for (const header& f : trailers)
        s += " [" + std::string(f.name) + ":" + std::string(f.value) + "]";
    return s;
}

/// Feeds `input` in pieces given by `cuts` (ascending split offsets) through a real
/// sy::byte_buffer (so the buffer moves between feeds) and records the transcript. `eof`
/// calls finish() at the end (response parser only).
template <typename Parser>
transcript run_pieces(Parser& p, std::string_view input, const std::vector<std::size_t>& cuts,
                      bool eof = false) {
    transcript t;
    byte_buffer buf(1);
    std::size_t from = 0;
    auto record = [&](const parse_result& r) {
        t.last = r.out;
        t.err = r.err;
        if (r.out != outcome::complete) return;
        switch (r.ev) {
            case event::head:
                t.events.push_back(describe(p.head()));
                break;
            case event::body:
                if (!t.events.empty() && t.events.back().rfind("body:", 0) == 0) {
                    t.events.back() += std::string(as_string_view(r.body));
                } else {
                    t.events.push_back("body:" + std::string(as_string_view(r.body)));
                }
                break;
            case event::end:
                t.events.push_back(describe_end(p.trailers()));
                break;
            case event::h2_preface:
                t.events.push_back("h2_preface");
                break;
            case event::none:
                t.events.push_back("none?");
                break;
        }
    };
    auto drain = [&] {
        for (int guard = 0; guard < 100000; ++guard) {
            parse_result r = p.feed(buf.readable());
            record(r);
            if (r.out == outcome::error) return false;
            buf.consume(r.consumed);
            if (r.out == outcome::need_more) return true;
        }
        t.events.push_back("loop?");
        return false;
    };
    std::vector<std::size_t> ends = cuts;
    ends.push_back(input.size());
    for (std::size_t to : ends) {
        if (to < from) continue;
        buf.append(input.substr(from, to - from));
        from = to;
        if (!drain()) return t;
    }
    if constexpr (requires { p.finish(); }) {
        if (eof) {
            parse_result r = p.finish();
            record(r);
            if (r.out == outcome::complete) drain();
        }
    }
    return t;
}

/// Runs the input whole, split at every byte, and one byte at a time; checks that every run
/// gives the same transcript (reported through `mismatch`) and returns the whole-feed one.
template <typename Parser>
transcript run_all_splits(const limits& lim, std::string_view input, std::string& mismatch,
                          bool eof = false) {
    auto whole_p = std::make_unique<Parser>(lim);
    transcript whole = run_pieces(*whole_p, input, {}, eof);
    for (std::size_t k = 1; k < input.size(); ++k) {
        auto p = std::make_unique<Parser>(lim);
        transcript t = run_pieces(*p, input, {k}, eof);
        if (!(t == whole)) {
            mismatch = "split at " + std::to_string(k);
            return whole;
        }
    }
    std::vector<std::size_t> bytes;
    for (std::size_t k = 1; k < input.size(); ++k) bytes.push_back(k);
    auto p1 = std::make_unique<Parser>(lim);
    if (!(run_pieces(*p1, input, bytes, eof) == whole)) mismatch = "byte at a time";
    return whole;
}

}  // namespace sy::http1::test
