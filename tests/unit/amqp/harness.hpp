// Test harness for the AMQP codec: drives frame_decoder + one content_assembler per channel
// over a byte stream delivered in chunks, the way a connection would (append to a byte_buffer,
// feed until need_more, consume), and records a transcript of what came out.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/proto/amqp/content.hpp"
#include "switchyard/proto/amqp/frame.hpp"

namespace sy::amqp::test {

using namespace std::literals;

inline std::string str(byte_view b) {
    return std::string(as_string_view(b));
}
inline byte_view bv(std::string_view s) {
    return as_bytes(s);
}

struct transcript {
    std::vector<std::string> events;
    outcome last = outcome::need_more;  // complete when the stream ended cleanly
    error err = error::none;
    std::size_t leftover = 0;  // bytes buffered but not consumed at the end
    friend bool operator==(const transcript&, const transcript&) = default;
};

inline std::string describe(std::uint16_t ch, const content_assembler& a) {
    std::string s = std::to_string(ch) + ":" + std::string(info_of(a.method()).name);
    if (const content_header* h = a.header()) {
        s += " size=" + std::to_string(h->body_size);
        if (h->properties.has_content_type()) s += " ct=" + std::string(h->properties.content_type);
        s += " body=" + std::string(a.body().view());
    }
    return s;
}

/// Runs `stream` cut at `cuts` (increasing offsets) through decoder and assemblers.
inline transcript run(std::string_view stream, const std::vector<std::size_t>& cuts,
                      decoder_options o = {}, assembler_options ao = {}) {
    frame_decoder d(o);
    std::map<std::uint16_t, content_assembler> chans;
    byte_buffer buf;
    transcript t;
    std::size_t prev = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(stream.size());
    for (std::size_t end : ends) {
        buf.append(stream.substr(prev, end - prev));
        prev = end;
        for (;;) {
            feed_result r = d.feed(buf.readable());
            if (r.status == outcome::need_more) {
                EXPECT_EQ(r.consumed, 0u);
                EXPECT_GT(r.needed, buf.size());
                break;
            }
            if (r.status != outcome::complete) {
                t.last = r.status;
                t.err = r.err;
                t.leftover = buf.size();
                return t;
            }
            if (r.kind == event_kind::protocol_header) {
                t.events.push_back("protocol-header");
            } else if (r.f.type == frame_type::heartbeat) {
                t.events.push_back("heartbeat");
            } else {
                auto it = chans.try_emplace(r.f.channel, ao).first;
                auto res = it->second.on_frame(r.f);
                if (!res) {
                    t.last = outcome::error;
                    t.err = res.error();
                    t.leftover = buf.size();
                    return t;
                }
                if (*res == assembly::complete)
                    t.events.push_back(describe(r.f.channel, it->second));
            }
            buf.consume(r.consumed);
        }
    }
    t.last = buf.empty() ? outcome::complete : outcome::need_more;
    t.leftover = buf.size();
    return t;
}

/// Runs the stream whole, split in two at every byte, and one byte at a time; every run must
/// produce the same transcript, which is returned. (The leftover differs only with the cut, so
/// it is not compared for error outcomes.)
inline transcript run_all_splits(std::string_view stream, decoder_options o = {},
                                 assembler_options ao = {}) {
    transcript whole = run(stream, {}, o, ao);
    auto same = [&](transcript t, const std::string& how) {
        if (whole.last == outcome::error || whole.last == outcome::protocol_mismatch)
            t.leftover = whole.leftover;
        EXPECT_EQ(t, whole) << how;
    };
    for (std::size_t i = 1; i < stream.size(); ++i)
        same(run(stream, {i}, o, ao), "split at " + std::to_string(i));
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < stream.size(); ++i) bytes.push_back(i);
    same(run(stream, bytes, o, ao), "byte at a time");
    return whole;
}

}  // namespace sy::amqp::test
