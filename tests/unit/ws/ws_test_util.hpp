// Test driver for the WebSocket decoder: feeds the same wire bytes whole, split at every byte
// (two feeds) and one byte at a time, through a caller-style byte_buffer, and collects events.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/proto/ws/decoder.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace sy::ws::test {

using bytes = std::vector<std::uint8_t>;

struct got {
    event_kind kind;
    opcode op;
    std::string payload;
    std::uint16_t code = 0;
    bool compressed = false;
    bool zero_copy = false;
    bool operator==(const got& o) const {
        return kind == o.kind && op == o.op && payload == o.payload && code == o.code &&
               compressed == o.compressed;
    }
};

inline std::ostream& operator<<(std::ostream& os, const got& g) {
    return os << "{kind=" << int(g.kind) << " op=" << int(g.op) << " len=" << g.payload.size()
              << " code=" << g.code << " z=" << g.compressed << "}";
}

struct run_result {
    std::vector<got> events;
    error err = error::none;
};

inline got msg(opcode op, std::string p, bool compressed = false) {
    return {event_kind::message, op, std::move(p), 0, compressed, false};
}
inline got ctl(event_kind k, std::string p, std::uint16_t code = 0) {
    opcode op = k == event_kind::ping ? opcode::ping
                                      : (k == event_kind::pong ? opcode::pong : opcode::close);
    return {k, op, std::move(p), code, false, false};
}

/// Feeds `wire` cut into chunks at `cuts` (ascending offsets).
inline run_result run(const bytes& wire, const std::vector<std::size_t>& cuts,
                      const decoder_config& cfg) {
    decoder dec(cfg);
    byte_buffer in;
    run_result r;
    std::size_t start = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(wire.size());
    for (std::size_t end : ends) {
        if (end > start) in.append(wire.data() + start, end - start);
        start = end;
        for (;;) {
            event ev;
            auto res = dec.feed(mutable_byte_view{in.data(), in.size()}, ev);
            in.consume(res.consumed);
            if (res.out == outcome::error) {
                r.err = dec.last_error();
                EXPECT_EQ(dec.state(), decode_state::failed);
                return r;
            }
            if (res.out == outcome::need_more) {
                EXPECT_TRUE(in.empty());
                break;
            }
            got g{ev.kind,       ev.op,         std::string(ev.text()),
                  ev.close_code, ev.compressed, ev.zero_copy};
            r.events.push_back(g);
        }
    }
    return r;
}

/// Runs every split mode and checks each gives `want` events and `want_err`.
inline void check_all(const bytes& wire, const decoder_config& cfg, const std::vector<got>& want,
                      error want_err = error::none) {
    {
        SCOPED_TRACE("whole");
        auto r = run(wire, {}, cfg);
        EXPECT_EQ(r.events, want);
        EXPECT_EQ(r.err, want_err) << to_string(r.err);
    }
    for (std::size_t i = 1; i < wire.size(); ++i) {
        SCOPED_TRACE("split at " + std::to_string(i));
        auto r = run(wire, {i}, cfg);
        EXPECT_EQ(r.events, want);
        ASSERT_EQ(r.err, want_err) << to_string(r.err);
    }
    {
        SCOPED_TRACE("byte at a time");
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
        auto r = run(wire, cuts, cfg);
        EXPECT_EQ(r.events, want);
        EXPECT_EQ(r.err, want_err) << to_string(r.err);
    }
}

inline bytes b(std::initializer_list<int> v) {
    bytes out;
    for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
    return out;
}
inline bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
inline bytes to_bytes(std::string_view s) {
    return bytes(s.begin(), s.end());
}

/// A frame as a client would send it (masked with a fixed key), built with the encoder.
inline bytes client_frame(opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    byte_buffer out;
    frame_options o;
    o.fin = fin;
    o.rsv1 = rsv1;
    o.mask = mask_key{0x37, 0xfa, 0x21, 0x3d};
    encode_frame(out, op, as_bytes(payload), o);
    return bytes(out.data(), out.data() + out.size());
}
inline bytes client_frame(opcode op, const bytes& payload, bool fin = true, bool rsv1 = false) {
    return client_frame(
        op, std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), fin,
        rsv1);
}

/// A raw frame with arbitrary first byte (FIN/RSV/opcode), masked with a fixed key.
inline bytes raw_masked(std::uint8_t b0, const bytes& payload) {
    byte_buffer out;
    frame_options o;
    o.mask = mask_key{1, 2, 3, 4};
    encode_frame(out, opcode::binary, byte_view{payload.data(), payload.size()}, o);
    bytes r(out.data(), out.data() + out.size());
    r[0] = b0;
    return r;
}

inline decoder_config server_cfg(std::size_t limit = 1 << 20) {
    decoder_config c;
    c.side = role::server;
    c.max_message_size = limit;
    return c;
}
inline decoder_config client_cfg(std::size_t limit = 1 << 20) {
    decoder_config c = server_cfg(limit);
    c.side = role::client;
    return c;
}

}  // namespace sy::ws::test
