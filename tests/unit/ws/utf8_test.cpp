// The validator lives in base/ (sy::is_valid_utf8, the hub decides message::utf8 with it);
// tested here with the WebSocket decoder that feeds it fragment by fragment.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/base/bytes.hpp"
#include "switchyard/base/utf8.hpp"
#include "ws_test_util.hpp"

namespace sy::ws::test {
namespace {

// Autobahn 6.x-style cases.
const std::vector<std::string> k_valid = {
    "",
    "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  // kosme
    "\x7f",
    "\xc2\x80",
    "\xdf\xbf",
    "\xe0\xa0\x80",
    "\xed\x9f\xbf",      // U+D7FF
    "\xee\x80\x80",      // U+E000
    "\xef\xbf\xbd",      // U+FFFD
    "\xef\xbf\xbf",      // U+FFFF (noncharacter, still valid)
    "\xf0\x90\x80\x80",  // U+10000
    "\xf4\x8f\xbf\xbf",  // U+10FFFF
    std::string(100, 'a') + "\xe2\x82\xac" + std::string(40, 'b'),
};

const std::vector<std::string> k_invalid = {
    "\x80",  // lone continuation
    "\xbf",
    "\xc0\xaf",                  // overlong '/'
    "\xe0\x80\xaf",              // overlong 3-byte
    "\xf0\x80\x80\xaf",          // overlong 4-byte
    "\xc1\xbf",                  // overlong
    "\xe0\x9f\xbf",              // overlong U+07FF
    "\xf0\x8f\xbf\xbf",          // overlong U+FFFF
    "\xed\xa0\x80",              // U+D800 surrogate
    "\xed\xbf\xbf",              // U+DFFF surrogate
    "\xed\xa0\x80\xed\xb0\x80",  // surrogate pair
    "\xf4\x90\x80\x80",          // U+110000
    "\xf5\x80\x80\x80",
    "\xf8\x88\x80\x80\x80",      // 5-byte form
    "\xfc\x84\x80\x80\x80\x80",  // 6-byte form
    "\xfe",
    "\xff",
    "\xc2",  // truncated
    "\xe0\xa0",
    "\xf0\x90\x80",
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
    "edited",
    "\xc2\x41",                         // lead then ASCII
    std::string(33, 'a') + "\xe2\x82",  // truncated after an ASCII run
};

TEST(WsUtf8, OneShot) {
    for (const auto& s : k_valid) EXPECT_TRUE(is_valid_utf8(as_bytes(s))) << s;
    for (const auto& s : k_invalid) EXPECT_FALSE(is_valid_utf8(as_bytes(s))) << s;
}

TEST(WsUtf8, IncrementalEverySplit) {
    for (const auto& s : k_valid) {
        for (std::size_t i = 0; i <= s.size(); ++i) {
            utf8_validator v;
            EXPECT_TRUE(v.feed(as_bytes(s.substr(0, i))));
            EXPECT_TRUE(v.feed(as_bytes(s.substr(i))));
            EXPECT_TRUE(v.complete()) << i;
        }
    }
    for (const auto& s : k_invalid) {
        for (std::size_t i = 0; i <= s.size(); ++i) {
            utf8_validator v;
            bool ok = v.feed(as_bytes(s.substr(0, i)));
            ok = v.feed(as_bytes(s.substr(i))) && ok;
            EXPECT_FALSE(ok && v.complete()) << i;
        }
    }
}

TEST(WsUtf8, AllCodePointsRoundTrip) {
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x10000 ? 1 : 37)) {
        std::string s;
        if (cp < 0x80) {
            s += char(cp);
        } else if (cp < 0x800) {
            s += char(0xC0 | (cp >> 6));
            s += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += char(0xE0 | (cp >> 12));
            s += char(0x80 | ((cp >> 6) & 0x3F));
            s += char(0x80 | (cp & 0x3F));
        } else {
            s += char(0xF0 | (cp >> 18));
            s += char(0x80 | ((cp >> 12) & 0x3F));
            s += char(0x80 | ((cp >> 6) & 0x3F));
            s += char(0x80 | (cp & 0x3F));
        }
        const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        ASSERT_EQ(is_valid_utf8(as_bytes(s)), !surrogate) << std::hex << cp;
    }
}

// Through the decoder: invalid text split across fragments and across feeds gives 1007.
TEST(WsUtf8, DecoderTextAcrossFragments) {
    for (const auto& s : k_invalid) {
        for (std::size_t i = 0; i <= s.size(); ++i) {
            auto wire = cat({client_frame(opcode::text, s.substr(0, i), false),
                             client_frame(opcode::continuation, s.substr(i))});
            check_all(wire, server_cfg(), {}, error::invalid_utf8);
        }
    }
    for (const auto& s : k_valid) {
        for (std::size_t i = 0; i <= s.size(); ++i) {
            auto wire = cat({client_frame(opcode::text, s.substr(0, i), false),
                             client_frame(opcode::continuation, s.substr(i))});
            check_all(wire, server_cfg(), {msg(opcode::text, s)});
        }
    }
    // Binary messages are not validated.
    check_all(client_frame(opcode::binary, "\xff\xfe"), server_cfg(),
              {msg(opcode::binary, "\xff\xfe")});
    EXPECT_EQ(close_code_for(error::invalid_utf8), 1007);
}

// Fail fast (RFC 6455 8.1, Autobahn 6.4.x): an invalid first fragment fails before the rest.
TEST(WsUtf8, FailFastBeforeMessageEnds) {
    auto first =
        client_frame(opcode::text, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90", false);
    auto r = run(first, {}, server_cfg());
    EXPECT_EQ(r.err, error::invalid_utf8);
    // A truncated-but-valid-so-far prefix is not an error yet.
    auto ok = run(client_frame(opcode::text, "\xce", false), {}, server_cfg());
    EXPECT_EQ(ok.err, error::none);
}

}  // namespace
}  // namespace sy::ws::test
