#include <gtest/gtest.h>

#include "switchyard/proto/ws/frame.hpp"
#include "ws_test_util.hpp"

namespace sy::ws::test {
namespace {

TEST(WsEncoder, ServerFramesUnmasked) {
    byte_buffer out;
    encode_frame(out, opcode::text, as_bytes("Hello"));
    EXPECT_EQ(bytes(out.data(), out.data() + out.size()),
              b({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    for (std::size_t n : {0u, 125u, 126u, 65535u, 65536u, 200000u}) {
        std::string p(n, 'x');
        auto s = encode_shared(opcode::binary, as_bytes(p));
        EXPECT_EQ(s.size(), header_size(n, false) + n);
        auto r = run(bytes(s.data(), s.data() + s.size()), {}, client_cfg(1 << 20));
        ASSERT_EQ(r.events.size(), 1u) << n;
        EXPECT_EQ(r.events[0].payload, p);
    }
}

TEST(WsEncoder, SharedFrameIsOneAllocation) {
    auto s = encode_shared(opcode::text, as_bytes("fan-out"));
    shared_bytes a = s, c = s;
    EXPECT_EQ(s.use_count(), 3u);
    EXPECT_EQ(a.data(), c.data());
}

TEST(WsEncoder, ClientFramesMaskedRfcExample) {
    byte_buffer out;
    frame_options o;
    o.mask = mask_key{0x37, 0xfa, 0x21, 0x3d};
    encode_frame(out, opcode::text, as_bytes("Hello"), o);
    EXPECT_EQ(bytes(out.data(), out.data() + out.size()),
              b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WsEncoder, ApplyMaskAnyOffsetAndLength) {
    mask_key k{0xde, 0xad, 0xbe, 0xef};
    for (std::size_t n = 0; n < 200; n += 7) {
        for (std::size_t off = 0; off < 4; ++off) {
            bytes data(n), ref(n);
            for (std::size_t i = 0; i < n; ++i) data[i] = ref[i] = static_cast<std::uint8_t>(i);
            apply_mask(data.data(), n, k, off);
            for (std::size_t i = 0; i < n; ++i) ref[i] ^= k[(i + off) & 3];
            ASSERT_EQ(data, ref) << n << " " << off;
        }
    }
    EXPECT_NE(random_mask_key(), random_mask_key());  // 2^-32 flake chance
}

TEST(WsEncoder, CloseFrames) {
    byte_buffer out;
    encode_close(out, 1000, "bye");
    EXPECT_EQ(bytes(out.data(), out.data() + out.size()),
              b({0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'}));
    byte_buffer empty;
    encode_close(empty, close_code::no_status);
    EXPECT_EQ(empty.size(), 2u);
    // Long reasons are cut to 123 bytes at a UTF-8 boundary.
    std::string reason(121, 'a');
    reason += "\xe2\x82\xac";  // 3 bytes straddling byte 123
    byte_buffer lng;
    encode_close(lng, 4000, reason, mask_key{1, 2, 3, 4});
    auto r = run(bytes(lng.data(), lng.data() + lng.size()), {}, server_cfg());
    ASSERT_EQ(r.err, error::none);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].code, 4000);
    EXPECT_EQ(r.events[0].payload, std::string(121, 'a'));
}

}  // namespace
}  // namespace sy::ws::test
