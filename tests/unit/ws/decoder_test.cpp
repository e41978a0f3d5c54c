#include <gtest/gtest.h>

#include "switchyard/proto/ws/decoder.hpp"
#include "ws_test_util.hpp"

namespace sy::ws::test {
namespace {

// RFC 6455 5.7 examples.
TEST(WsDecoder, Rfc6455MaskedHello) {
    check_all(b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), server_cfg(),
              {msg(opcode::text, "Hello")});
}

TEST(WsDecoder, Rfc6455UnmaskedHelloClientRole) {
    check_all(b({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client_cfg(),
              {msg(opcode::text, "Hello")});
}

TEST(WsDecoder, Rfc6455FragmentedUnmasked) {
    check_all(b({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}), client_cfg(),
              {msg(opcode::text, "Hello")});
}

TEST(WsDecoder, Rfc6455PingPongAndLengths) {
    check_all(b({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client_cfg(),
              {ctl(event_kind::ping, "Hello")});
    check_all(b({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}), server_cfg(),
              {ctl(event_kind::pong, "Hello")});
    std::string p256(256, 'x'), p64k(65536, 'y');
    check_all(client_frame(opcode::binary, p256), server_cfg(), {msg(opcode::binary, p256)});
    auto big = client_frame(opcode::binary, p64k);
    EXPECT_EQ(big[1], 0x80 | 127);
    // 64 KiB split at every byte is 64k runs of 64 KiB: whole + a few splits + byte-at-a-time.
    for (std::size_t cut : {std::size_t{1}, std::size_t{2}, std::size_t{9}, std::size_t{14},
                            std::size_t{15}, big.size() - 1}) {
        auto r = run(big, {cut}, server_cfg());
        ASSERT_EQ(r.events.size(), 1u);
        EXPECT_EQ(r.events[0].payload, p64k);
    }
}

TEST(WsDecoder, ZeroCopyOnlyWhenWholeMessageInOneFeed) {
    auto wire = client_frame(opcode::text, "hello world");
    auto whole = run(wire, {}, server_cfg());
    ASSERT_EQ(whole.events.size(), 1u);
    EXPECT_TRUE(whole.events[0].zero_copy);
    auto split = run(wire, {8}, server_cfg());
    ASSERT_EQ(split.events.size(), 1u);
    EXPECT_FALSE(split.events[0].zero_copy);
    auto frag = cat(
        {client_frame(opcode::text, "hello ", false), client_frame(opcode::continuation, "world")});
    auto f = run(frag, {}, server_cfg());
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_FALSE(f.events[0].zero_copy);
    EXPECT_EQ(f.events[0].payload, "hello world");
}

TEST(WsDecoder, FragmentedWithInterleavedControlFrames) {
    auto wire = cat({client_frame(opcode::text, "ab", false), client_frame(opcode::ping, "p1"),
                     client_frame(opcode::continuation, "", false), client_frame(opcode::pong, ""),
                     client_frame(opcode::continuation, "cd"),
                     client_frame(opcode::binary, "\x01\x02"), client_frame(opcode::text, "")});
    check_all(wire, server_cfg(),
              {ctl(event_kind::ping, "p1"), ctl(event_kind::pong, ""), msg(opcode::text, "abcd"),
               msg(opcode::binary, "\x01\x02"), msg(opcode::text, "")});
}

TEST(WsDecoder, CloseFrames) {
    check_all(client_frame(opcode::close, ""), server_cfg(),
              {ctl(event_kind::close, "", close_code::no_status)});
    check_all(client_frame(opcode::close, std::string("\x03\xe8"
                                                      "bye",
                                                      5)),
              server_cfg(), {ctl(event_kind::close, "bye", 1000)});
    check_all(client_frame(opcode::close, std::string("\x03", 1)), server_cfg(), {},
              error::close_payload_too_short);
    check_all(client_frame(opcode::close, std::string("\x03\xe8\xff", 3)), server_cfg(), {},
              error::invalid_close_reason);
    EXPECT_EQ(close_code_for(error::invalid_close_reason), 1007);
    EXPECT_EQ(close_code_for(error::close_payload_too_short), 1002);
}

TEST(WsDecoder, EveryCloseCode) {
    for (std::uint32_t code = 0; code <= 0xFFFF; ++code) {
        std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        auto r = run(client_frame(opcode::close, p), {}, server_cfg());
        const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                           (code >= 3000 && code <= 4999);
        if (valid) {
            ASSERT_EQ(r.err, error::none) << code;
            ASSERT_EQ(r.events.size(), 1u);
            EXPECT_EQ(r.events[0].code, code);
        } else {
            ASSERT_EQ(r.err, error::invalid_close_code) << code;
        }
    }
    for (std::uint16_t code :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
        std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        check_all(client_frame(opcode::close, p + "r"), server_cfg(),
                  {ctl(event_kind::close, "r", code)});
    }
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000}) {
        std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        check_all(client_frame(opcode::close, p), server_cfg(), {}, error::invalid_close_code);
    }
    EXPECT_EQ(close_code_for(error::invalid_close_code), 1002);
}

TEST(WsDecoder, NothingAfterClose) {
    auto wire =
        cat({client_frame(opcode::close, ""), client_frame(opcode::text, "late"), b({0xff, 0xff})});
    check_all(wire, server_cfg(), {ctl(event_kind::close, "", close_code::no_status)});
}

TEST(WsDecoder, MaskingRules) {
    check_all(b({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}), server_cfg(), {}, error::unmasked_frame);
    check_all(client_frame(opcode::text, "Hello"), client_cfg(), {}, error::masked_frame);
    EXPECT_EQ(close_code_for(error::unmasked_frame), 1002);
    EXPECT_EQ(close_code_for(error::masked_frame), 1002);
}

TEST(WsDecoder, ReservedBitsAndOpcodes) {
    for (std::uint8_t rsv : {0x40, 0x20, 0x10}) {
        check_all(raw_masked(static_cast<std::uint8_t>(0x81 | rsv), to_bytes("x")), server_cfg(),
                  {}, error::reserved_bits);
    }
    for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        check_all(raw_masked(static_cast<std::uint8_t>(0x80 | op), to_bytes("x")), server_cfg(), {},
                  error::reserved_opcode);
    }
    EXPECT_EQ(close_code_for(error::reserved_bits), 1002);
    EXPECT_EQ(close_code_for(error::reserved_opcode), 1002);
}

TEST(WsDecoder, ControlFrameRules) {
    check_all(client_frame(opcode::ping, std::string(125, 'a')), server_cfg(),
              {ctl(event_kind::ping, std::string(125, 'a'))});
    check_all(client_frame(opcode::ping, std::string(126, 'a')), server_cfg(), {},
              error::control_too_long);
    check_all(client_frame(opcode::ping, "x", false), server_cfg(), {}, error::control_fragmented);
    check_all(client_frame(opcode::close, std::string(126, 'a')), server_cfg(), {},
              error::control_too_long);
    EXPECT_EQ(close_code_for(error::control_too_long), 1002);
    EXPECT_EQ(close_code_for(error::control_fragmented), 1002);
}

TEST(WsDecoder, FragmentationSequencing) {
    check_all(client_frame(opcode::continuation, "x"), server_cfg(), {},
              error::unexpected_continuation);
    check_all(cat({client_frame(opcode::text, "a", false), client_frame(opcode::text, "b")}),
              server_cfg(), {}, error::expected_continuation);
    check_all(cat({client_frame(opcode::text, "a"), client_frame(opcode::continuation, "b")}),
              server_cfg(), {msg(opcode::text, "a")}, error::unexpected_continuation);
    EXPECT_EQ(close_code_for(error::unexpected_continuation), 1002);
    EXPECT_EQ(close_code_for(error::expected_continuation), 1002);
}

TEST(WsDecoder, LengthEncoding) {
    // 64-bit length with the MSB set.
    check_all(b({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}), server_cfg(), {},
              error::length_msb_set);
    // Non-minimal 16-bit and 64-bit forms of a 5-byte payload.
    auto nm16 = b({0x82, 0xFE, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'});
    auto nm64 = b({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'});
    check_all(nm16, server_cfg(), {}, error::non_minimal_length);
    check_all(nm64, server_cfg(), {}, error::non_minimal_length);
    auto relaxed = server_cfg();
    relaxed.allow_non_minimal_length = true;
    check_all(nm16, relaxed, {msg(opcode::binary, "hello")});
    check_all(nm64, relaxed, {msg(opcode::binary, "hello")});
    EXPECT_EQ(close_code_for(error::length_msb_set), 1002);
}

TEST(WsDecoder, MessageSizeLimitCountedBeforeBuffering) {
    check_all(client_frame(opcode::binary, std::string(10, 'a')), server_cfg(10),
              {msg(opcode::binary, std::string(10, 'a'))});
    check_all(client_frame(opcode::binary, std::string(11, 'a')), server_cfg(10), {},
              error::message_too_big);
    check_all(cat({client_frame(opcode::text, "123456", false),
                   client_frame(opcode::continuation, "123456")}),
              server_cfg(10), {}, error::message_too_big);
    // Rejected from the header alone: a 1 GiB frame header with no payload.
    auto hdr = b({0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4});
    auto r = run(hdr, {}, server_cfg());
    EXPECT_EQ(r.err, error::message_too_big);
    EXPECT_EQ(close_code_for(error::message_too_big), 1009);
}

TEST(WsDecoder, ErrorIsStickyAndDiagnosed) {
    decoder dec(server_cfg());
    auto wire = cat({client_frame(opcode::text, "ok"), b({0x81, 0x05})});
    event ev;
    auto r1 = dec.feed(mutable_byte_view{wire.data(), wire.size()}, ev);
    EXPECT_EQ(r1.out, outcome::complete);
    auto rest = mutable_byte_view{wire.data() + r1.consumed, wire.size() - r1.consumed};
    auto r2 = dec.feed(rest, ev);
    EXPECT_EQ(r2.out, outcome::error);
    EXPECT_EQ(dec.last_error(), error::unmasked_frame);
    EXPECT_EQ(dec.diag().offset, r1.consumed + 1);
    EXPECT_EQ(dec.diag().first_byte, 0x81);
    EXPECT_EQ(dec.feed(rest, ev).out, outcome::error);
}

}  // namespace
}  // namespace sy::ws::test
