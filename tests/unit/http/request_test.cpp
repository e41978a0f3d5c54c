#include "switchyard/http/request.hpp"

#include <gtest/gtest.h>

namespace sy::http {
namespace {

TEST(Request, MethodParse) {
    EXPECT_EQ(parse_method("GET"), method::get);
    EXPECT_EQ(parse_method("DELETE"), method::del);
    EXPECT_EQ(parse_method("get"), method::other);  // case-sensitive
    EXPECT_EQ(parse_method("PROPFIND"), method::other);
    request r;
    r.set_method("PROPFIND");
    EXPECT_EQ(r.method(), method::other);
    EXPECT_EQ(r.method_name(), "PROPFIND");
}

// POST /pub hands the body to the hub as shared bytes: the request's own block, not a copy.
TEST(Request, BodySharedIsTheBodyItself) {
    request r;
    r.append_body(as_bytes(std::string_view("part one, ")));
    r.append_body(as_bytes(std::string_view("part two")));
    EXPECT_EQ(r.body(), "part one, part two");
    shared_bytes b = r.body_shared();
    EXPECT_EQ(b.view(), "part one, part two");
    EXPECT_EQ(b.view().data(), r.body().data());
    r.reset();  // the connection reads its next request: the shared bytes stay as they were
    r.append_body(as_bytes(std::string_view("next")));
    EXPECT_EQ(r.body(), "next");
    EXPECT_EQ(b.view(), "part one, part two");
}

TEST(Request, TargetForms) {
    request r;
    ASSERT_TRUE(r.set_target("/a/b%20c/../d?x=1&y=%41").has_value());
    EXPECT_EQ(r.target(), "/a/b%20c/../d?x=1&y=%41");
    EXPECT_EQ(r.raw_path(), "/a/b%20c/../d");
    EXPECT_EQ(r.path(), "/a/d");
    EXPECT_EQ(r.query_string(), "x=1&y=%41");
    EXPECT_EQ(r.query("y"), "A");

    r.reset();
    ASSERT_TRUE(r.set_target("http://example.com:8080/p/q?z").has_value());
    EXPECT_EQ(r.path(), "/p/q");
    EXPECT_EQ(r.query_string(), "z");

    r.reset();
    ASSERT_TRUE(r.set_target("HTTPS://example.com").has_value());
    EXPECT_EQ(r.path(), "/");

    r.reset();
    ASSERT_TRUE(r.set_target("*").has_value());
    EXPECT_EQ(r.path(), "*");

    r.reset();
    ASSERT_TRUE(r.set_target("/a%2fb").has_value());
    EXPECT_EQ(r.path(), "/a/b");
    EXPECT_EQ(r.raw_path(), "/a%2fb");
}

TEST(Request, TargetErrors) {
    struct c {
        const char* target;
        target_error e;
    } cases[] = {
        {"", target_error::empty},
        {"a/b", target_error::bad_form},
        {"ftp://x/y", target_error::bad_form},
        {"/a%zz", target_error::bad_escape},
        {"/a%00b", target_error::nul_byte},
        {"/../x", target_error::escapes_root},
        {"/a/%2e%2e/%2e%2e/x", target_error::escapes_root},
        {"/%2e%2e%2fetc", target_error::escapes_root},
    };
    for (const auto& tc : cases) {
        request r;
        auto res = r.set_target(tc.target);
        ASSERT_FALSE(res.has_value()) << tc.target;
        EXPECT_EQ(res.error(), tc.e) << tc.target;
        EXPECT_EQ(status_for(res.error()), 400);
    }
}

TEST(Request, HeadersCaseInsensitiveMultiValue) {
    request r;
    r.add_header("Accept", "text/html");
    r.add_header("X-Multi", "1");
    r.add_header("x-multi", "2");
    EXPECT_EQ(r.header("accept"), "text/html");
    EXPECT_EQ(r.header("ACCEPT"), "text/html");
    EXPECT_EQ(r.headers().count("X-MULTI"), 2u);
    EXPECT_EQ(r.headers().get_all("x-multi"), (std::vector<std::string_view>{"1", "2"}));
    EXPECT_FALSE(r.header("missing").has_value());
    std::size_t n = 0;
    for (header_field f : r.headers()) n += f.name.size() > 0;
    EXPECT_EQ(n, 3u);
}

TEST(Request, ResetKeepsWorking) {
    request r;
    for (int i = 0; i < 3; ++i) {
        r.reset();
        r.set_method("POST");
        ASSERT_TRUE(r.set_target("/x/" + std::to_string(i)).has_value());
        r.add_header("H", std::to_string(i));
        r.set_remote_address("127.0.0.1:5555");
        EXPECT_EQ(r.path(), "/x/" + std::to_string(i));
        EXPECT_EQ(r.header("h"), std::to_string(i));
        EXPECT_EQ(r.remote_address(), "127.0.0.1:5555");
        EXPECT_EQ(r.headers().size(), 1u);
    }
}

TEST(Request, CompleteBody) {
    request r;
    r.append_body(as_bytes("hello "));
    r.append_body(as_bytes("world"));
    EXPECT_EQ(r.body(), "hello world");
    std::string got;
    bool ended = false;
    r.on_body([&](byte_view b) { got += as_string_view(b); }, [&] { ended = true; });
    EXPECT_EQ(got, "hello world");
    EXPECT_TRUE(ended);
}

TEST(Request, StreamingBodyBuffersUntilRegistered) {
    request r;
    r.set_streaming_body();
    r.deliver_body_chunk(as_bytes("ab"));
    std::string got;
    int ends = 0;
    r.on_body([&](byte_view b) { got += as_string_view(b); }, [&] { ++ends; });
    EXPECT_EQ(got, "ab");
    EXPECT_EQ(ends, 0);
    r.deliver_body_chunk(as_bytes("cd"));
    EXPECT_EQ(got, "abcd");
    r.deliver_body_end();
    EXPECT_EQ(ends, 1);
    EXPECT_TRUE(r.body_ended());
}

TEST(Request, StreamingBodyEndedBeforeRegistration) {
    request r;
    r.set_streaming_body();
    r.deliver_body_chunk(as_bytes("xyz"));
    r.deliver_body_end();
    std::string got;
    int ends = 0;
    r.on_body([&](byte_view b) { got += as_string_view(b); }, [&] { ++ends; });
    EXPECT_EQ(got, "xyz");
    EXPECT_EQ(ends, 1);
}

}  // namespace
}  // namespace sy::http
