#include "switchyard/base/json.hpp"

#include <gtest/gtest.h>

namespace sy::json {
namespace {

TEST(json_writer, inserts_separators_and_escapes) {
    std::string out;
    writer w(out);
    w.begin_object()
        .member("a", 1)
        .member("s", std::string_view("q\"\\\n\x01/\xc3\xa9"))
        .key("list")
        .begin_array()
        .value(true)
        .null()
        .begin_object()
        .end_object()
        .raw("{\"x\":[1]}")
        .end_array()
        .member("neg", std::int64_t{-5})
        .end_object();
    EXPECT_EQ(out,
              "{\"a\":1,\"s\":\"q\\\"\\\\\\n\\u0001/\xc3\xa9\",\"list\":[true,null,{},{\"x\":[1]}],"
              "\"neg\":-5}");
    EXPECT_TRUE(valid(out));
}

TEST(json_writer, doubles_and_non_finite) {
    std::string out;
    writer w(out);
    w.begin_array().value(0.25).value(1.0 / 0.0).end_array();
    EXPECT_EQ(out, "[0.25,null]");
}

TEST(json_reader, unescapes_strings_and_keeps_raw_values) {
    auto d = document::parse(
        R"( {"id": 42, "name": "a\"b\u00e9\n", "r": {"k": [1, 2]}, "ok": false, "n": null} )");
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->is_object());
    EXPECT_EQ(d->get_uint("id"), 42u);
    EXPECT_EQ(d->get_string("name"), std::string("a\"b\xc3\xa9\n"));
    EXPECT_EQ(d->get_raw("r"), std::string(R"({"k": [1, 2]})"));
    EXPECT_EQ(d->get_raw("n"), std::string("null"));
    EXPECT_EQ(d->get_bool("ok"), false);
    EXPECT_FALSE(d->get_string("id"));
    EXPECT_FALSE(d->has("missing"));
    EXPECT_FALSE(d->get_uint("name"));
    EXPECT_EQ(d->names(), (std::vector<std::string>{"id", "name", "r", "ok", "n"}));
}

TEST(json_reader, nested_members_are_not_top_level) {
    auto d = document::parse(R"({"outer": {"id": 1}, "id": 2})");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->get_uint("id"), 2u);
}

TEST(json_reader, refuses_what_rfc8259_refuses) {
    for (std::string_view bad :
         {"", "[1,]", "{\"a\":1,}", "01", "NaN", "'x'", "[1] [2]", "{\"a\" 1}", "/*c*/1",
          "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "-", "1.", "1e"}) {
        EXPECT_FALSE(valid(bad)) << bad;
        EXPECT_FALSE(document::parse(bad)) << bad;
    }
    EXPECT_FALSE(valid(std::string_view("1\0 2", 4)));  // NUL is not the end of input
    EXPECT_TRUE(valid("123456789012345678901234567890e10"));
    // Beyond the double range: RFC 8259 6 lets a parser limit the range, and many do.
    EXPECT_FALSE(valid("1e400"));
    EXPECT_TRUE(valid(std::string(512, '[') + std::string(512, ']')));
    EXPECT_FALSE(valid(std::string(513, '[') + std::string(513, ']')));
    EXPECT_FALSE(valid(std::string(100000, '[') + std::string(100000, ']')));
}

}  // namespace
}  // namespace sy::json
