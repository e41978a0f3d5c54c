// Response parser and serializer: round-trips and the client-side framing rules.
#include <gtest/gtest.h>

#include "feed_util.hpp"
#include "switchyard/proto/http1/serializer.hpp"

namespace sy::http1 {
namespace {

using test::run_all_splits;
using test::transcript;

transcript parse_response(std::string_view in, bool eof = false, const limits& lim = {}) {
    std::string mismatch;
    transcript t = run_all_splits<response_parser>(lim, in, mismatch, eof);
    EXPECT_EQ(mismatch, "") << in;
    return t;
}

transcript parse_request(std::string_view in) {
    std::string mismatch;
    transcript t = run_all_splits<request_parser>(limits{}, in, mismatch);
    EXPECT_EQ(mismatch, "") << in;
    return t;
}

TEST(Http1Response, ContentLength) {
    transcript t = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[0], "head 200 OK v=1.1 body=1 cl=5 ka=1 [Content-Length:5] [X:y]");
    EXPECT_EQ(t.events[1], "body:hello");
    EXPECT_EQ(t.events[2], "end");
}

TEST(Http1Response, ChunkedWithTrailers) {
    transcript t = parse_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nwiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1], "body:wikipedia");
    EXPECT_EQ(t.events[2], "end [Expires:never]");
}

TEST(Http1Response, UntilClose) {
    transcript t = parse_response("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nstream of bytes", true);
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[0], "head 200 OK v=1.0 body=3 cl=0 ka=0 [Server:x]");
    EXPECT_EQ(t.events[1], "body:stream of bytes");
    EXPECT_EQ(t.events[2], "end");
    response_parser p;
    (void)p.feed(as_bytes("HTTP/1.1 200 OK\r\n\r\n"));
    EXPECT_EQ(p.state(), parser_state::body_close);
    EXPECT_EQ(p.finish().ev, event::end);
    EXPECT_EQ(p.state(), parser_state::closed);
}

TEST(Http1Response, NoBodyStatuses) {
    transcript t = parse_response(
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ASSERT_EQ(t.events.size(), 7u);
    EXPECT_EQ(t.events[5], "body:ok");
}

TEST(Http1Response, HeadResponseHasNoBody) {
    response_parser p;
    p.expect_head_response();
    std::string in =
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\n"
        "Content-Length: 1\r\n\r\nx";
    transcript t = test::run_pieces(p, in, {});
    ASSERT_EQ(t.events.size(), 5u);
    EXPECT_EQ(t.events[3], "body:x");  // the flag applied to the first response only
}

TEST(Http1Response, InterimThenFinal) {
    transcript t = parse_response(
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    ASSERT_EQ(t.events.size(), 5u);
    EXPECT_EQ(t.events[0].substr(0, 17), "head 100 Continue");
    EXPECT_EQ(t.events[1], "end");
    EXPECT_EQ(t.events[3], "body:x");
}

TEST(Http1Response, SwitchingProtocols) {
    response_parser p;
    std::string in =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n\r\n\x81\x05hello";
    transcript t = test::run_pieces(p, in, {});
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(p.state(), parser_state::switched);
}

TEST(Http1Response, StatusLineWithoutReason) {
    transcript t = parse_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[0], "head 200  v=1.1 body=1 cl=0 ka=1 [Content-Length:0]");
}

TEST(Http1Response, Errors) {
    EXPECT_EQ(parse_response("HTTP/2 200 OK\r\n\r\n").err, error::bad_status_line);
    EXPECT_EQ(parse_response("HTTP/1.1 20 OK\r\n\r\n").err, error::bad_status_line);
    EXPECT_EQ(parse_response("HTTP/1.1 999 X\r\n\r\n").err, error::bad_status_line);
    EXPECT_EQ(parse_response("HTTP/1.1 200OK\r\n\r\n").err, error::bad_status_line);
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: "
                             "chunked\r\n\r\n")
                  .err,
              error::cl_and_te);
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true).err,
              error::truncated_message);
    EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nContent", true).err, error::truncated_message);
    EXPECT_EQ(reply_for(error::bad_status_line).status, 502);
    // Clean close between messages is not an error.
    transcript t = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true);
    EXPECT_EQ(t.last, outcome::need_more);
    EXPECT_EQ(t.err, error::none);
}

TEST(Http1Serializer, DateCache) {
    date_cache d(784111777);
    EXPECT_EQ(d.value(), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(d.field_line(), "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    d.update(784111777 + 86400 * 365 + 3600);
    EXPECT_EQ(d.value(), "Mon, 06 Nov 1995 09:49:37 GMT");
    d.update(0);
    EXPECT_EQ(d.value(), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(Http1Serializer, ReasonPhrases) {
    EXPECT_EQ(reason_phrase(200), "OK");
    EXPECT_EQ(reason_phrase(404), "Not Found");
    EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reason_phrase(799), "");
}

TEST(Http1Serializer, ContentLengthRoundTrip) {
    byte_buffer out;
    date_cache d(784111777);
    response_writer w(out);
    w.status(200).header("Content-Type", "text/plain").date(d).body("hello world");
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(out.view(),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Sun, 06 Nov 1994 08:49:37 "
              "GMT\r\nContent-Length: 11\r\n\r\nhello world");
    transcript t = parse_response(out.view());
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1], "body:hello world");
}

TEST(Http1Serializer, ChunkedRoundTrip) {
    byte_buffer out;
    response_writer(out).status(200).header("Content-Type", "text/event-stream").begin_chunked();
    write_chunk(out, as_bytes("data: 1\n\n"));
    write_chunk(out, as_bytes(""));  // writes nothing
    std::string big(300, 'b');
    write_chunk(out, as_bytes(big));
    const header trailers[] = {{"X-Sum", "42"}, {"Bad\r\nName", "x"}};
    write_last_chunk(out, trailers);
    transcript t = parse_response(out.view());
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1], "body:data: 1\n\n" + big);
    EXPECT_EQ(t.events[2], "end [X-Sum:42]");
    EXPECT_NE(out.view().find("12c\r\n"), std::string_view::npos);
}

TEST(Http1Serializer, RefusesInjection) {
    byte_buffer out;
    response_writer w(out);
    w.status(200).header("X", "a\r\nSet-Cookie: evil").header("Bad Name", "v");
    EXPECT_FALSE(w.ok());
    w.end_head();
    EXPECT_EQ(out.view(), "HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_TRUE(valid_field("X-Ok", "tab\tand obs \xff"));
    EXPECT_FALSE(valid_field("", "v"));
}

TEST(Http1Serializer, SimpleAndErrorResponses) {
    byte_buffer out;
    date_cache d(784111777);
    write_simple_response(out, 404, "text/plain", "nope", d, true);
    write_continue(out);
    write_error_response(out, error::cl_and_te, d);
    response_parser p;
    transcript t = test::run_pieces(p, out.view(), {});
    ASSERT_GE(t.events.size(), 3u);
    EXPECT_NE(t.events[0].find("head 404 Not Found"), std::string::npos);
    EXPECT_NE(t.events[0].find("[Connection:close]"), std::string::npos);
    EXPECT_EQ(t.events[1], "body:nope");
    // The first response closed the connection: the rest is ignored.
    EXPECT_EQ(p.state(), parser_state::closed);
    response_parser p2;
    byte_buffer e;
    write_error_response(e, error::request_line_too_long, d);
    t = test::run_pieces(p2, e.view(), {});
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_NE(t.events[0].find("head 414 URI Too Long"), std::string::npos);
    EXPECT_EQ(t.events[1], "body:URI Too Long (request_line_too_long)\n");
}

TEST(Http1Serializer, RequestHeadRoundTrip) {
    byte_buffer out;
    const header fields[] = {{"User-Agent", "sy-bench"}, {"Accept", "*/*"}};
    write_request_head(out, "POST", "/p?q=1", "localhost:8080", fields, 3);
    out.append("abc");
    transcript t = parse_request(out.view());
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_NE(t.events[0].find("host=localhost:8080"), std::string::npos);
    EXPECT_EQ(t.events[1], "body:abc");
}

}  // namespace
}  // namespace sy::http1
