#include "switchyard/base/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sy {
namespace {

TEST(text, ascii_lower_changes_only_upper_case_letters) {
    EXPECT_EQ(ascii_lower('A'), 'a');
    EXPECT_EQ(ascii_lower('Z'), 'z');
    EXPECT_EQ(ascii_lower('a'), 'a');
    EXPECT_EQ(ascii_lower('@'), '@');  // 'A' - 1
    EXPECT_EQ(ascii_lower('['), '[');  // 'Z' + 1
    EXPECT_EQ(ascii_lower('\xC4'), '\xC4');
}

TEST(text, hex_value_accepts_both_cases_and_rejects_the_rest) {
    EXPECT_EQ(hex_value('0'), 0);
    EXPECT_EQ(hex_value('9'), 9);
    EXPECT_EQ(hex_value('a'), 10);
    EXPECT_EQ(hex_value('F'), 15);
    for (char c : std::string_view("gG/:@`x \0", 9)) EXPECT_EQ(hex_value(c), -1) << int(c);
    static_assert(hex_value('c') == 12);
}

TEST(text, iequals_and_istarts_with_ignore_ascii_case_only) {
    EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
    EXPECT_TRUE(iequals("", ""));
    EXPECT_FALSE(iequals("abc", "abcd"));
    EXPECT_FALSE(iequals("a[", "a{"));  // differ by 0x20 but are not letters
    EXPECT_FALSE(iequals("\xC4", "\xE4"));
    EXPECT_TRUE(istarts_with("Application/JSON; charset=utf-8", "application/json"));
    EXPECT_TRUE(istarts_with("text", ""));
    EXPECT_FALSE(istarts_with("tex", "text"));
    EXPECT_EQ(to_lower("Sec-WebSocket-Key"), "sec-websocket-key");
}

TEST(text, trim_ows_strips_space_and_tab_only) {
    EXPECT_EQ(trim_ows(" \t a b\t "), "a b");
    EXPECT_EQ(trim_ows("   "), "");
    EXPECT_EQ(trim_ows("\r\nx"), "\r\nx");
}

TEST(text, base64_matches_rfc4648_test_vectors) {
    // RFC 4648 section 10.
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
}

TEST(text, base64url_round_trips_and_rejects_bad_input) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t n = 0; n <= all.size(); n += 7) {
        std::string d;
        const std::string s = all.substr(0, n);
        ASSERT_TRUE(base64url_decode(base64url_encode(s), d));
        EXPECT_EQ(d, s);
    }
    std::string d = "stale";
    EXPECT_TRUE(base64url_decode("Zm9vYg==", d));  // padding tolerated
    EXPECT_EQ(d, "foob");
    EXPECT_FALSE(base64url_decode("Zm9vY", d));  // 4n+1 characters cannot be produced
    EXPECT_FALSE(base64url_decode("Zm+v", d));   // '+' is not in the url alphabet
}

TEST(text, base64_decodes_the_standard_alphabet) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    std::string d;
    ASSERT_TRUE(base64_decode(base64_encode(all), d));
    EXPECT_EQ(d, all);
    ASSERT_TRUE(base64_decode("Z3Vlc3Q6Z3Vlc3Q=", d));
    EXPECT_EQ(d, "guest:guest");
    EXPECT_FALSE(base64_decode("Zm-v", d));  // '-' is base64url only
}

}  // namespace
}  // namespace sy
