// proto/stun framing on a stream: STUN messages and padded ChannelData back to back, fed split
// at every byte and one byte at a time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/proto/stun/framer.hpp"
#include "switchyard/proto/stun/message.hpp"

namespace sy::stun {
namespace {

struct got {
    frame_kind kind;
    std::string bytes;
    bool operator==(const got&) const = default;
};

std::vector<std::uint8_t> stream_of_three(std::vector<got>& want) {
    std::vector<std::uint8_t> wire;
    transaction_id id{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
    builder b(binding, klass::request, id);
    b.add_text(attr::software, "abc").add_fingerprint();
    wire.insert(wire.end(), b.bytes().begin(), b.bytes().end());
    want.push_back({frame_kind::stun, std::string(as_string_view(b.bytes()))});
    const std::size_t at = wire.size();
    append_channel_data(wire, 0x4002, as_bytes(std::string_view("xyz")), true);
    want.push_back({frame_kind::channel_data,
                    std::string(reinterpret_cast<const char*>(wire.data() + at), 7)});
    builder e(binding, klass::indication, id);
    wire.insert(wire.end(), e.bytes().begin(), e.bytes().end());
    want.push_back({frame_kind::stun, std::string(as_string_view(e.bytes()))});
    return wire;
}

std::vector<got> run(byte_view wire, std::vector<std::size_t> cuts, frame_error& err) {
    stream_framer f;
    std::vector<got> out;
    cuts.push_back(wire.size());
    std::size_t start = 0;
    err = frame_error::none;
    for (std::size_t end : cuts) {
        byte_view in = wire.subspan(start, end - start);
        start = end;
        while (true) {
            frame fr;
            auto r = f.feed(in, fr);
            if (r.out == outcome::error) {
                err = f.last_error();
                return out;
            }
            in = in.subspan(r.consumed);
            if (r.out == outcome::need_more) {
                EXPECT_TRUE(in.empty());
                break;
            }
            out.push_back({fr.kind, std::string(as_string_view(fr.bytes))});
        }
    }
    return out;
}

TEST(stun_framer, whole_stream) {
    std::vector<got> want;
    auto wire = stream_of_three(want);
    frame_error err;
    EXPECT_EQ(run(wire, {}, err), want);
    EXPECT_EQ(err, frame_error::none);
}

TEST(stun_framer, split_at_every_byte) {
    std::vector<got> want;
    auto wire = stream_of_three(want);
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        frame_error err;
        EXPECT_EQ(run(wire, {cut}, err), want) << "cut " << cut;
        for (std::size_t cut2 = cut + 1; cut2 < wire.size(); cut2 += 3)
            EXPECT_EQ(run(wire, {cut, cut2}, err), want) << cut << "," << cut2;
    }
}

TEST(stun_framer, one_byte_at_a_time) {
    std::vector<got> want;
    auto wire = stream_of_three(want);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    frame_error err;
    EXPECT_EQ(run(wire, cuts, err), want);
}

TEST(stun_framer, garbage_is_an_error_at_any_split) {
    std::vector<got> want;
    auto wire = stream_of_three(want);
    // 0xFF: neither STUN's 0b00 nor a channel number. (Any ASCII letter frames: "GE" is
    // channel 0x4745.)
    const std::string http = "\xff\xfe not STUN";
    wire.insert(wire.end(), http.begin(), http.end());
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        frame_error err;
        auto out = run(wire, {cut}, err);
        EXPECT_EQ(out, want) << cut;
        EXPECT_EQ(err, frame_error::not_stun) << cut;
    }
    const std::vector<std::uint8_t> odd = {0x00, 0x01, 0x00, 0x05};  // length not 4-aligned
    frame_error err;
    EXPECT_TRUE(run(odd, {}, err).empty());
    EXPECT_EQ(err, frame_error::bad_length);
}

}  // namespace
}  // namespace sy::stun
