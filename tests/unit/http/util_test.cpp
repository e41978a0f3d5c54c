#include "switchyard/http/util.hpp"
#include "switchyard/base/json.hpp"

#include <gtest/gtest.h>

namespace sy::http {
namespace {

std::string decode(std::string_view in, decode_mode m = decode_mode::path) {
    std::string out;
    auto r = percent_decode(in, out, m);
    return r ? out : "<error " + std::to_string(int(r.error())) + ">";
}

TEST(PercentDecode, Basics) {
    EXPECT_EQ(decode(""), "");
    EXPECT_EQ(decode("abc"), "abc");
    EXPECT_EQ(decode("a%20b"), "a b");
    EXPECT_EQ(decode("%41%62%7e"), "Ab~");
    EXPECT_EQ(decode("%e2%82%AC"), "\xe2\x82\xac");
    EXPECT_EQ(decode("a+b"), "a+b");
    EXPECT_EQ(decode("a+b", decode_mode::form), "a b");
    EXPECT_EQ(decode("%2B", decode_mode::form), "+");
    EXPECT_EQ(decode("%2f"), "/");
    EXPECT_EQ(decode("%252e"), "%2e");  // decoded once only
}

TEST(PercentDecode, Errors) {
    std::string out;
    EXPECT_EQ(percent_decode("%", out).error(), decode_error::bad_escape);
    EXPECT_EQ(percent_decode("ab%4", out).error(), decode_error::bad_escape);
    EXPECT_EQ(percent_decode("%zz", out).error(), decode_error::bad_escape);
    EXPECT_EQ(percent_decode("%4g", out).error(), decode_error::bad_escape);
    EXPECT_EQ(percent_decode("%00", out).error(), decode_error::nul_byte);
    EXPECT_EQ(percent_decode(std::string_view("a\0b", 3), out).error(), decode_error::nul_byte);
    out.clear();
    EXPECT_TRUE(percent_decode("%00", out, decode_mode::form).has_value());
    EXPECT_EQ(out, std::string(1, '\0'));
}

std::string norm(std::string s) {
    auto r = normalize_path_inplace(s.data(), s.size());
    if (!r) return r.error() == path_error::escapes_root ? "<escapes>" : "<relative>";
    s.resize(*r);
    return s;
}

TEST(NormalizePath, Cases) {
    EXPECT_EQ(norm("/"), "/");
    EXPECT_EQ(norm("/a/b"), "/a/b");
    EXPECT_EQ(norm("/a/b/"), "/a/b/");
    EXPECT_EQ(norm("//a///b"), "/a/b");
    EXPECT_EQ(norm("/a/./b"), "/a/b");
    EXPECT_EQ(norm("/a/."), "/a/");
    EXPECT_EQ(norm("/a/b/.."), "/a/");
    EXPECT_EQ(norm("/a/b/../c"), "/a/c");
    EXPECT_EQ(norm("/a/../.."), "<escapes>");
    EXPECT_EQ(norm("/.."), "<escapes>");
    EXPECT_EQ(norm("/../etc/passwd"), "<escapes>");
    EXPECT_EQ(norm("/a/..b/c"), "/a/..b/c");
    EXPECT_EQ(norm("/a/.../c"), "/a/.../c");
    EXPECT_EQ(norm("/.hidden"), "/.hidden");
    EXPECT_EQ(norm("/a/.."), "/");
    EXPECT_EQ(norm("a/b"), "<relative>");
    EXPECT_EQ(norm(""), "<relative>");
}

TEST(Query, Pairs) {
    std::vector<std::string> seen;
    for_each_query_pair("a=1&&b&c=x=y&=z", [&](std::string_view n, std::string_view v) {
        seen.push_back(std::string(n) + "|" + std::string(v));
        return true;
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"a|1", "b|", "c|x=y", "|z"}));
}

TEST(Query, Param) {
    EXPECT_EQ(query_param("q=hello+world&x=1", "q"), "hello world");
    EXPECT_EQ(query_param("a%20b=%C3%A9", "a b"), "\xc3\xa9");
    EXPECT_EQ(query_param("x=1&x=2", "x"), "1");
    EXPECT_EQ(query_param("flag", "flag"), "");
    EXPECT_EQ(query_param("x=1", "y"), std::nullopt);
    EXPECT_EQ(query_param("x=%zz&x=ok", "x"), "ok");  // malformed pair skipped
    EXPECT_EQ(query_param("", "x"), std::nullopt);
}

TEST(Iequals, Basics) {
    EXPECT_TRUE(iequals("Content-Type", "content-type"));
    EXPECT_FALSE(iequals("Content-Type", "content-typ"));
    EXPECT_FALSE(iequals("a", "b"));
    EXPECT_TRUE(iequals("", ""));
}

TEST(HttpDate, FormatAndParse) {
    EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_EQ(parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199);
    for (std::time_t t : {0L, 951782400L, 1700000000L, 4102444800L}) {
        EXPECT_EQ(parse_http_date(format_http_date(t)), t);
    }
}

TEST(HttpDate, Rejects) {
    EXPECT_EQ(parse_http_date(""), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT "), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), std::nullopt);
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"), std::nullopt);
    EXPECT_EQ(parse_http_date("Mon, 29 Feb 2023 00:00:00 GMT"), std::nullopt);
}

TEST(Json, Escape) {
    EXPECT_EQ(sy::json::quote("plain"), "\"plain\"");
    EXPECT_EQ(sy::json::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(sy::json::quote("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(sy::json::quote(std::string_view("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
    EXPECT_EQ(sy::json::quote("\xc3\xa9/"), "\"\xc3\xa9/\"");
}

TEST(json, is_json_value_accepts_what_every_parser_accepts) {
    for (std::string_view ok :
         {"0", "-0", "12.5e-3", "1E+2", "true", "false", "null", "\"\"", " \"a\\n\\u00e9\" ",
          "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "[]", "{}", "[1, [2, {\"a\": null}]]",
          "{\"result\": {\"n\": [1, 2]}, \"x\": \"y\"}\n"}) {
        EXPECT_TRUE(sy::json::valid(ok)) << ok;
    }
    for (std::string_view bad : {"",
                                 " ",
                                 "nope",
                                 "tru",
                                 "01",
                                 "1.",
                                 ".5",
                                 "-",
                                 "1e",
                                 "+1",
                                 "{\"a\": }",
                                 "{\"a\" 1}",
                                 "{a: 1}",
                                 "[1,]",
                                 "[1 2]",
                                 "{\"a\":1,}",
                                 "\"open",
                                 "\"bad \\x escape\"",
                                 "\"\\u12\"",
                                 "\"raw\ttab\"",
                                 "1 2",
                                 "{\"a\":1}}",
                                 "\"\xff\"",
                                 "\"\xc0\xaf\"",
                                 "\"\xed\xa0\x80\"",
                                 "\"\xf4\x90\x80\x80\"",
                                 "\"\xe2\x82\"",
                                 "\xef\xbb\xbf"
                                 "1"}) {
        EXPECT_FALSE(sy::json::valid(bad)) << bad;
    }
    EXPECT_TRUE(sy::json::valid(std::string(512, '[') + std::string(512, ']')));
    EXPECT_FALSE(sy::json::valid(std::string(100000, '[') + std::string(100000, ']')));
}

TEST(Mime, Table) {
    EXPECT_EQ(mime_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type_for("/a/b/STYLE.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type_for("app.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type_for("x.wasm"), "application/wasm");
    EXPECT_EQ(mime_type_for("f.woff2"), "font/woff2");
    EXPECT_EQ(mime_type_for("a.jpeg"), "image/jpeg");
    EXPECT_EQ(mime_type_for("a.svg"), "image/svg+xml");
    EXPECT_EQ(mime_type_for("notes.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(mime_type_for("README"), "application/octet-stream");
    EXPECT_EQ(mime_type_for(".bashrc"), "application/octet-stream");
    EXPECT_EQ(mime_type_for("dir.d/file"), "application/octet-stream");
    EXPECT_EQ(mime_type_for("a.tar.gz"), "application/octet-stream");
}

TEST(Status, Reasons) {
    EXPECT_EQ(status_reason(200), "OK");
    EXPECT_EQ(status_reason(416), "Range Not Satisfiable");
    EXPECT_EQ(status_reason(599), "");
}

TEST(ListItems, Split) {
    std::vector<std::string> items;
    for_each_list_item(" \"a\" , W/\"b\",,\t\"c\"", [&](std::string_view i) {
        items.emplace_back(i);
        return true;
    });
    EXPECT_EQ(items, (std::vector<std::string>{"\"a\"", "W/\"b\"", "\"c\""}));
}

}  // namespace
}  // namespace sy::http
