#include <gtest/gtest.h>

#include "switchyard/proto/ws/deflate.hpp"
#include "ws_test_util.hpp"

namespace sy::ws::test {
namespace {

deflate_config enabled() {
    deflate_config c;
    c.enabled = true;
    return c;
}

TEST(WsDeflateNegotiation, Basic) {
    auto cfg = enabled();
    auto p = negotiate_deflate("permessage-deflate", cfg);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, deflate_params{});
    EXPECT_EQ(p->to_header(), "permessage-deflate");
    EXPECT_FALSE(negotiate_deflate("x-webkit-deflate-frame", cfg));
    EXPECT_FALSE(negotiate_deflate("permessage-deflate", deflate_config{}));  // disabled
    EXPECT_FALSE(negotiate_deflate("", cfg));
}

TEST(WsDeflateNegotiation, Parameters) {
    auto cfg = enabled();
    auto p = negotiate_deflate(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10; "
        "server_no_context_takeover; client_no_context_takeover",
        cfg);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->server_no_context_takeover);
    EXPECT_TRUE(p->client_no_context_takeover);
    EXPECT_EQ(p->server_max_window_bits, 10);
    EXPECT_EQ(p->client_max_window_bits, 15);
    EXPECT_EQ(p->to_header(),
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
              "server_max_window_bits=10");
    // Our limits: the client window only when offered.
    cfg.client_max_window_bits = 11;
    cfg.server_no_context_takeover = true;
    p = negotiate_deflate("permessage-deflate; client_max_window_bits", cfg);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->client_max_window_bits, 11);
    EXPECT_TRUE(p->server_no_context_takeover);
    p = negotiate_deflate("permessage-deflate", cfg);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->client_max_window_bits, 15);
    // Quoted value.
    p = negotiate_deflate("permessage-deflate; client_max_window_bits=\"9\"", enabled());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->client_max_window_bits, 9);
}

TEST(WsDeflateNegotiation, DeclinesBadOffersAndPicksFirstGood) {
    auto cfg = enabled();
    for (const char* bad :
         {"permessage-deflate; server_max_window_bits",
          "permessage-deflate; server_max_window_bits=7",
          "permessage-deflate; server_max_window_bits=16", "permessage-deflate; foo",
          "permessage-deflate; client_max_window_bits=0x9",
          "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
          "permessage-deflate; server_no_context_takeover=1",
          "permessage-deflate; server_max_window_bits=8"}) {
        EXPECT_FALSE(negotiate_deflate(bad, cfg)) << bad;
    }
    auto p = negotiate_deflate(
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=12, "
        "permessage-deflate",
        cfg);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 12);
}

TEST(WsDeflateNegotiation, ClientSide) {
    auto cfg = enabled();
    cfg.client_max_window_bits = 12;
    EXPECT_EQ(deflate_offer(cfg), "permessage-deflate; client_max_window_bits=12");
    std::optional<deflate_params> out;
    EXPECT_TRUE(accept_deflate_response("", cfg, out));
    EXPECT_FALSE(out);
    EXPECT_TRUE(accept_deflate_response(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10", cfg, out));
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->server_no_context_takeover);
    EXPECT_EQ(out->client_max_window_bits, 10);
    EXPECT_FALSE(accept_deflate_response("permessage-deflate; bogus", cfg, out));
    EXPECT_FALSE(accept_deflate_response("permessage-deflate, permessage-deflate", cfg, out));
    EXPECT_FALSE(accept_deflate_response("permessage-deflate", deflate_config{}, out));
    cfg.server_max_window_bits = 10;
    EXPECT_FALSE(
        accept_deflate_response("permessage-deflate; server_max_window_bits=11", cfg, out));
}

// RFC 7692 7.2.3.1 / 7.2.3.2: "Hello" compressed, sent by a server (unmasked).
TEST(WsDeflate, Rfc7692Examples) {
    auto cfg = client_cfg();
    cfg.deflate = deflate_params{};
    check_all(b({0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), cfg,
              {msg(opcode::text, "Hello", true)});
    // Fragmented compressed message.
    check_all(b({0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}), cfg,
              {msg(opcode::text, "Hello", true)});
    // Shared context: the second "Hello" refers back to the first.
    check_all(b({0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
                 0x00, 0x00}),
              cfg, {msg(opcode::text, "Hello", true), msg(opcode::text, "Hello", true)});
    // Stored (uncompressed) deflate block, 7.2.3.3.
    check_all(b({0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}),
              cfg, {msg(opcode::text, "Hello", true)});
}

// Client -> server round trips with every parameter combination.
TEST(WsDeflate, RoundTripEveryParameter) {
    const std::vector<std::string> messages = {
        "Hello",
        std::string(1000, 'a'),
        "Hello",
        "",
        "The quick brown fox jumps over the lazy dog. The quick brown fox.",
        std::string(70000, 'z') + "tail"};
    for (int bits : {9, 10, 12, 15}) {
        for (bool nct : {false, true}) {
            SCOPED_TRACE("bits=" + std::to_string(bits) + " nct=" + std::to_string(nct));
            deflate_params p;
            p.client_max_window_bits = bits;
            p.client_no_context_takeover = nct;
            p.server_max_window_bits = bits;
            p.server_no_context_takeover = nct;
            deflater def(bits, nct);
            bytes wire;
            std::vector<got> want;
            for (const auto& m : messages) {
                byte_buffer z;
                ASSERT_TRUE(def.compress(as_bytes(m), z));
                wire = cat({wire, client_frame(opcode::text, std::string(z.view()), true, true)});
                want.push_back(msg(opcode::text, m, true));
            }
            auto cfg = server_cfg();
            cfg.deflate = p;
            auto r = run(wire, {}, cfg);
            EXPECT_EQ(r.err, error::none);
            EXPECT_EQ(r.events, want);
            auto r2 = run(wire, {wire.size() / 3, wire.size() / 2}, cfg);
            EXPECT_EQ(r2.events, want);
        }
    }
    // One small case through every split mode.
    deflater def(15, false);
    byte_buffer z;
    ASSERT_TRUE(def.compress(as_bytes("Hello, Hello, Hello"), z));
    auto cfg = server_cfg();
    cfg.deflate = deflate_params{};
    check_all(client_frame(opcode::text, std::string(z.view()), true, true), cfg,
              {msg(opcode::text, "Hello, Hello, Hello", true)});
}

TEST(WsDeflate, NoContextTakeoverGivesShareableIdenticalFrames) {
    deflate_params p;
    p.server_no_context_takeover = true;
    EXPECT_TRUE(can_share_compressed_frames(p, true));
    EXPECT_FALSE(can_share_compressed_frames(deflate_params{}, true));
    deflater nct(15, true), ctx(15, false);
    byte_buffer a, b2, c, d;
    const std::string m = "publish publish publish";
    ASSERT_TRUE(nct.compress(as_bytes(m), a));
    ASSERT_TRUE(nct.compress(as_bytes(m), b2));
    EXPECT_EQ(a.view(), b2.view());
    ASSERT_TRUE(ctx.compress(as_bytes(m), c));
    ASSERT_TRUE(ctx.compress(as_bytes(m), d));
    EXPECT_NE(c.view(), d.view());  // the second refers back into the window
}

TEST(WsDeflate, ZipBombHitsLimitWhileInflating) {
    deflater def(15, false);
    byte_buffer z;
    std::string zeros(8 << 20, '\0');
    ASSERT_TRUE(def.compress(as_bytes(zeros), z));
    EXPECT_LT(z.size(), 64u * 1024);
    auto cfg = server_cfg(1 << 20);
    cfg.deflate = deflate_params{};
    auto r = run(client_frame(opcode::binary, std::string(z.view()), true, true), {}, cfg);
    EXPECT_EQ(r.err, error::message_too_big);
    // Exactly at the limit is fine.
    deflater def2(15, false);
    byte_buffer z2;
    ASSERT_TRUE(def2.compress(as_bytes(std::string(1 << 20, 'q')), z2));
    auto ok = run(client_frame(opcode::binary, std::string(z2.view()), true, true), {}, cfg);
    EXPECT_EQ(ok.err, error::none);
    ASSERT_EQ(ok.events.size(), 1u);
    EXPECT_EQ(ok.events[0].payload.size(), 1u << 20);
}

TEST(WsDeflate, CompressedFrameRules) {
    auto cfg = server_cfg();
    cfg.deflate = deflate_params{};
    check_all(raw_masked(0xC9, to_bytes("x")), cfg, {}, error::compressed_control);
    check_all(cat({client_frame(opcode::text, "a", false),
                   client_frame(opcode::continuation, "b", true, true)}),
              cfg, {}, error::compressed_continuation);
    check_all(client_frame(opcode::binary, "\xff\xff\xff\xff", true, true), cfg, {},
              error::inflate_failed);
    // Inflated text is UTF-8 checked.
    deflater def(15, false);
    byte_buffer z;
    ASSERT_TRUE(def.compress(as_bytes("ok\xed\xa0\x80"), z));
    check_all(client_frame(opcode::text, std::string(z.view()), true, true), cfg, {},
              error::invalid_utf8);
    EXPECT_EQ(close_code_for(error::inflate_failed), 1007);
    EXPECT_EQ(close_code_for(error::compressed_control), 1002);
}

}  // namespace
}  // namespace sy::ws::test

namespace sy::ws::test {
namespace {

TEST(WsDeflate, EmptyMessages) {
    deflater def(15, false);
    byte_buffer z;
    ASSERT_TRUE(def.compress(as_bytes(""), z));
    EXPECT_EQ(z.view(), std::string_view("\x00", 1));  // RFC 7692 7.2.3.6
    auto cfg = server_cfg();
    cfg.deflate = deflate_params{};
    check_all(cat({client_frame(opcode::text,
                                "\x00"
                                "",
                                true, true),
                   client_frame(opcode::text, std::string("\x00", 1), true, true)}),
              cfg, {}, error::inflate_failed);  // first frame is empty: not a deflate block
    check_all(client_frame(opcode::text, std::string("\x00", 1), true, true), cfg,
              {msg(opcode::text, "", true)});
}

}  // namespace
}  // namespace sy::ws::test
