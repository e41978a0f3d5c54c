// Request parser: every case fed whole, split at every byte, and one byte at a time.
#include "switchyard/proto/http1/request_parser.hpp"

#include <gtest/gtest.h>

#include "feed_util.hpp"

namespace sy::http1 {
namespace {

using test::run_all_splits;
using test::transcript;

transcript parse(std::string_view in, const limits& lim = {}) {
    std::string mismatch;
    transcript t = run_all_splits<request_parser>(lim, in, mismatch);
    EXPECT_EQ(mismatch, "") << "input: " << in;
    return t;
}

// The whole-feed head, for field checks (views into `in`, which outlives the result).
request_head head_of(request_parser& p, std::string_view in) {
    auto r = p.feed(as_bytes(in));
    EXPECT_EQ(r.out, outcome::complete);
    EXPECT_EQ(r.ev, event::head);
    return p.head();
}

void expect_error(std::string_view in, error e, const limits& lim = {}) {
    transcript t = parse(in, lim);
    EXPECT_EQ(t.last, outcome::error) << in;
    EXPECT_EQ(to_string(t.err), to_string(e)) << in;
}

TEST(Http1Request, CurlGet) {
    std::string_view in =
        "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n"
        "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    transcript t = parse(in);
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.last, outcome::need_more);
    EXPECT_EQ(t.events[1], "end");
    request_parser p;
    request_head h = head_of(p, in);
    EXPECT_EQ(h.method, method::get);
    EXPECT_EQ(h.method_name, "GET");
    EXPECT_EQ(h.target, "/a/b?x=1&y=2");
    EXPECT_EQ(h.path, "/a/b");
    EXPECT_EQ(h.query, "x=1&y=2");
    EXPECT_EQ(h.version_minor, 1);
    ASSERT_EQ(h.headers.size(), 3u);
    EXPECT_EQ(h.headers[1].name, "User-Agent");
    EXPECT_EQ(h.headers[1].value, "curl/7.88.1");
    EXPECT_EQ(h.host, "example.com");
    EXPECT_EQ(h.header_value("accept"), "*/*");
    EXPECT_TRUE(h.keep_alive);
    EXPECT_EQ(h.body, body_kind::none);
    EXPECT_EQ(p.state(), parser_state::message_end);
    auto r = p.feed({});
    EXPECT_EQ(r.ev, event::end);
    EXPECT_EQ(p.state(), parser_state::head);
    EXPECT_EQ(p.messages(), 1u);
}

TEST(Http1Request, FieldValuesTrimmedAndObsText) {
    std::string_view in =
        "GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a b \t\r\nX-Empty:\r\n"
        "X-Utf8: caf\xc3\xa9\r\n\r\n";
    transcript t = parse(in);
    ASSERT_EQ(t.last, outcome::need_more);
    request_parser p;
    request_head h = head_of(p, in);
    EXPECT_EQ(h.header_value("x-a"), "a b");
    EXPECT_EQ(h.header_value("X-Empty"), "");
    EXPECT_EQ(h.header_value("x-utf8"), "caf\xc3\xa9");
}

TEST(Http1Request, ContentLengthBody) {
    std::string body(1024, 'z');
    std::string in = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + body;
    transcript t = parse(in);
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1], "body:" + body);
    EXPECT_EQ(t.events[2], "end");
    request_parser p;
    request_head h = head_of(p, in);
    EXPECT_EQ(h.body, body_kind::length);
    EXPECT_EQ(h.content_length, 1024u);
    EXPECT_EQ(h.method, method::post);
}

TEST(Http1Request, ZeroContentLength) {
    transcript t = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[1], "end");
}

TEST(Http1Request, ChunkedWithExtensionsAndTrailers) {
    std::string_view in =
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n00A ; a=\"q\"\r\n0123456789\r\n"
        "0\r\nX-Checksum: abc\r\nX-T2: 2\r\n\r\n";
    transcript t = parse(in);
    ASSERT_EQ(t.events.size(), 3u) << t.events.back();
    EXPECT_EQ(t.events[1], "body:hello0123456789");
    EXPECT_EQ(t.events[2], "end [X-Checksum:abc] [X-T2:2]");
    EXPECT_EQ(t.last, outcome::need_more);
}

TEST(Http1Request, ChunkedNoTrailers) {
    transcript t = parse(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n");
    ASSERT_EQ(t.events.size(), 3u);
    EXPECT_EQ(t.events[1], "body:abc");
    EXPECT_EQ(t.events[2], "end");
}

TEST(Http1Request, Pipelined) {
    std::string in;
    for (int i = 0; i < 4; ++i) in += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    in += "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    in += "POST /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    in += "GET /last HTTP/1.1\r\nHost: h\r\n\r\n";
    transcript t = parse(in);
    ASSERT_EQ(t.events.size(), 16u);
    EXPECT_EQ(t.events[0].substr(0, 11), "head GET /0");
    EXPECT_EQ(t.events[9], "body:abc");
    EXPECT_EQ(t.events[12], "body:x");
    EXPECT_EQ(t.events[14].substr(0, 14), "head GET /last");
    EXPECT_EQ(t.last, outcome::need_more);
}

TEST(Http1Request, LeadingEmptyLinesIgnored) {
    transcript t = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.last, outcome::need_more);
}

TEST(Http1Request, KeepAliveMatrix) {
    struct row {
        const char* version;
        const char* connection;  // nullptr = no field
        bool keep;
    };
    const row rows[] = {
        {"1.1", nullptr, true},           {"1.1", "close", false},
        {"1.1", "keep-alive", true},      {"1.1", "Keep-Alive, CLOSE", false},
        {"1.1", "foo, , close ,", false}, {"1.1", "upgrade", true},
        {"1.0", nullptr, false},          {"1.0", "keep-alive", true},
        {"1.0", "Keep-Alive", true},      {"1.0", "keep-alive, close", false},
        {"1.0", "closed", false},         {"1.1", "closed", true},
    };
    for (const row& r : rows) {
        std::string in = std::string("GET / HTTP/") + r.version + "\r\nHost: h\r\n";
        if (r.connection) in += std::string("Connection: ") + r.connection + "\r\n";
        in += "\r\n";
        request_parser p;
        request_head h = head_of(p, in);
        EXPECT_EQ(h.keep_alive, r.keep) << in;
        transcript t = parse(in);
        ASSERT_EQ(t.events.size(), 2u) << in;
    }
}

TEST(Http1Request, ClosedAfterNonPersistentMessage) {
    std::string_view in =
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        "GET /ignored HTTP/1.1\r\nHost: h\r\n\r\n";
    transcript t = parse(in);
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.last, outcome::need_more);
    request_parser p;
    (void)head_of(p, in);
    (void)p.feed({});
    EXPECT_EQ(p.state(), parser_state::closed);
    EXPECT_EQ(p.feed(as_bytes(in)).consumed, 0u);
}

TEST(Http1Request, Http10WithoutHostIsFine) {
    transcript t = parse("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_NE(t.events[0].find("v=1.0"), std::string::npos);
}

TEST(Http1Request, HigherMinorVersionIsHttp11) {
    request_parser p;
    EXPECT_EQ(head_of(p, "GET / HTTP/1.7\r\nHost: h\r\n\r\n").version_minor, 1);
}

TEST(Http1Request, ExpectContinue) {
    std::string_view in11 =
        "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
        "Content-Length: 2\r\n\r\nok";
    request_parser p;
    EXPECT_TRUE(head_of(p, in11).expect_continue);
    EXPECT_EQ(parse(in11).events.size(), 3u);
    request_parser p10;
    EXPECT_FALSE(head_of(p10, "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    request_parser p2;
    EXPECT_FALSE(head_of(p2, "GET / HTTP/1.1\r\nHost: h\r\nExpect: other\r\n\r\n").expect_continue);
}

TEST(Http1Request, H2PriorKnowledgePreface) {
    transcript t = parse(k_h2_preface);
    ASSERT_EQ(t.events.size(), 1u);
    EXPECT_EQ(t.events[0], "h2_preface");
    request_parser p;
    std::string in = std::string(k_h2_preface) + "\x00\x00\x12\x04";
    auto r = p.feed(as_bytes(in));
    EXPECT_EQ(r.ev, event::h2_preface);
    EXPECT_EQ(r.consumed, k_h2_preface.size());
    EXPECT_EQ(p.state(), parser_state::switched);
    EXPECT_EQ(p.feed(as_bytes(in).subspan(24)).consumed, 0u);
}

TEST(Http1Request, H2PrefaceErrors) {
    expect_error("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", error::bad_h2_preface);
    // Only as the connection's first bytes.
    expect_error("GET / HTTP/1.1\r\nHost: h\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                 error::unsupported_version);
    expect_error("\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", error::unsupported_version);
}

TEST(Http1Request, UpgradeWebsocket) {
    std::string_view in =
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    request_parser p;
    request_head h = head_of(p, in);
    EXPECT_TRUE(h.connection_upgrade);
    EXPECT_TRUE(h.upgrade_websocket);
    EXPECT_FALSE(h.upgrade_h2c);
    EXPECT_EQ(h.upgrade, "websocket");
    EXPECT_EQ(h.header_value("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(parse(in).events.size(), 2u);
}

TEST(Http1Request, UpgradeH2c) {
    std::string_view in =
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    request_parser p;
    request_head h = head_of(p, in);
    EXPECT_TRUE(h.upgrade_h2c);
    EXPECT_FALSE(h.upgrade_websocket);
    EXPECT_EQ(h.http2_settings, "AAMAAABkAARAAAAAAAIAAAAA");
}

TEST(Http1Request, TargetForms) {
    request_parser p1;
    request_head h = head_of(p1, "GET http://ex.com:8080/a/b?q HTTP/1.1\r\nHost: ex.com\r\n\r\n");
    EXPECT_EQ(h.path, "/a/b");
    EXPECT_EQ(h.query, "q");
    request_parser p2;
    h = head_of(p2, "GET http://ex.com HTTP/1.1\r\nHost: ex.com\r\n\r\n");
    EXPECT_EQ(h.path, "");
    request_parser p3;
    h = head_of(p3, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(h.target, "*");
    EXPECT_EQ(h.method, method::options);
    request_parser p4;
    h = head_of(p4, "CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n");
    EXPECT_EQ(h.method, method::connect);
    EXPECT_EQ(h.target, "ex.com:443");
    request_parser p5;
    h = head_of(p5, "GET /a?b?c=/d HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(h.path, "/a");
    EXPECT_EQ(h.query, "b?c=/d");
    request_parser p6;
    h = head_of(p6, "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(h.method, method::other);
    EXPECT_EQ(h.method_name, "PURGE");
}

TEST(Http1Request, AllKnownMethods) {
    const std::pair<const char*, method> ms[] = {
        {"GET", method::get},     {"HEAD", method::head},      {"POST", method::post},
        {"PUT", method::put},     {"DELETE", method::delete_}, {"OPTIONS", method::options},
        {"TRACE", method::trace}, {"PATCH", method::patch},    {"get", method::other}};
    for (auto [name, m] : ms) {
        request_parser p;
        std::string in = std::string(name) + " / HTTP/1.1\r\nHost: h\r\n\r\n";
        EXPECT_EQ(head_of(p, in).method, m) << name;
    }
}

// Every byte a field value may hold (no CTL) in a Host value, short (scalar tail) and long
// (vector blocks), at each position of a 16-byte block: accepted exactly when RFC 3986 allows
// it in a reg-name, IP-literal or port.
TEST(Http1Request, HostBytes) {
    const std::string_view allowed = "-._~!$&'()*+,;=:[]%";
    auto ok = [&](unsigned c) {
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
               allowed.find(static_cast<char>(c)) != std::string_view::npos;
    };
    for (unsigned c = 0x20; c < 0x100; ++c) {
        if (c == 0x7f) continue;  // DEL: a CTL, rejected by the line scan first
        for (std::size_t len : {1u, 3u, 15u, 16u, 17u, 40u}) {
            for (std::size_t at : {std::size_t{0}, len / 2, len - 1}) {
                std::string host(len, 'a');
                host[at] = static_cast<char>(c);
                if (c == ' ' && (at == 0 || at == len - 1)) continue;  // trimmed OWS
                const std::string in = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
                request_parser p;
                auto r = p.feed(as_bytes(in));
                if (ok(c)) {
                    EXPECT_EQ(r.out, outcome::complete) << c << " len " << len << " at " << at;
                } else {
                    EXPECT_EQ(r.out, outcome::error) << c << " len " << len << " at " << at;
                    EXPECT_EQ(r.err, error::bad_host) << c << " len " << len << " at " << at;
                }
            }
        }
    }
}

// The fields the parser acts on are matched case-insensitively, and only exactly: a name one
// letter off (or a CTL-free byte that folds onto a letter) is an ordinary field.
TEST(Http1Request, SpecialFieldNamesAnyCase) {
    request_parser p;
    std::string in = "POST / HTTP/1.1\r\nHOST: h\r\nCoNtEnT-LeNgTh: 2\r\n\r\nok";
    request_head h = head_of(p, in);
    EXPECT_EQ(h.host, "h");
    EXPECT_EQ(h.content_length, 2u);
    request_parser q;
    in = "GET / HTTP/1.1\r\nHost: h\r\nContent-Lengtg: 2\r\nConnectioN: CLOSE\r\n"
         "Transfer_Encoding: chunked\r\nContent^Length: 9\r\n\r\n";
    h = head_of(q, in);
    EXPECT_EQ(h.body, body_kind::none);
    EXPECT_FALSE(h.keep_alive);
    expect_error("GET / HTTP/1.1\r\nhost: a\r\nHoSt: b\r\n\r\n", error::duplicate_host);
}

// ---- errors: each case asserts the exact error and the mapped reply --------------------------

struct bad_case {
    const char* name;
    std::string input;
    error err;
    int status;
};

class Http1RequestErrors : public ::testing::TestWithParam<bad_case> {};

TEST_P(Http1RequestErrors, Rejected) {
    const bad_case& c = GetParam();
    expect_error(c.input, c.err);
    EXPECT_EQ(reply_for(c.err).status, c.status);
    EXPECT_TRUE(reply_for(c.err).close);
    // Sticky: once failed, every later feed reports the same error; diagnostics agree.
    request_parser p;
    std::string_view rest = c.input;
    parse_result r;
    do {
        r = p.feed(as_bytes(rest));
        rest.remove_prefix(r.consumed);
    } while (r.out == outcome::complete);
    ASSERT_EQ(r.out, outcome::error);
    EXPECT_EQ(p.state(), parser_state::failed);
    EXPECT_EQ(p.feed(as_bytes(c.input)).err, c.err);
    EXPECT_EQ(p.diag().err, c.err);
}

std::string req(std::string_view fields, std::string_view body = {}) {
    return "POST / HTTP/1.1\r\nHost: h\r\n" + std::string(fields) + "\r\n" + std::string(body);
}

const bad_case k_bad[] = {
    {"bad_method_char", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_method, 400},
    {"leading_space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_method, 400},
    {"method_utf8", "G\xc3\x89T / HTTP/1.1\r\n\r\n", error::bad_method, 400},
    {"double_space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line, 400},
    {"space_in_target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line, 400},
    {"no_target", "GET HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line, 400},
    {"http09", "GET /\r\n\r\n", error::bad_request_line, 400},
    {"ctl_in_request_line", std::string("GET /\x01 HTTP/1.1\r\n\r\n"), error::bad_request_line,
     400},
    {"nul_in_request_line", std::string("GET /\0 HTTP/1.1\r\n\r\n", 19), error::bad_request_line,
     400},
    {"tab_in_target", "GET /a\tb HTTP/1.1\r\n\r\n", error::bad_target, 400},
    {"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_target, 400},
    {"asterisk_get", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_target, 400},
    {"relative_target", "GET foo HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_target, 400},
    {"connect_origin", "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_target, 400},
    {"bad_version", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", error::bad_version, 400},
    {"bad_proto", "GET / HTTQ/1.1\r\nHost: h\r\n\r\n", error::bad_version, 400},
    {"lower_http", "GET / http/1.1\r\nHost: h\r\n\r\n", error::bad_version, 400},
    {"http2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", error::unsupported_version, 505},
    {"http0", "GET / HTTP/0.9\r\n\r\n", error::unsupported_version, 505},
    {"bare_cr_line", "GET / HTTP/1.1\rHost: h\r\n\r\n", error::bare_cr, 400},
    {"bare_cr_value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", error::bare_cr, 400},
    {"bare_lf", "GET / HTTP/1.1\nHost: h\n\n", error::bare_lf, 400},
    {"bare_lf_field", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", error::bare_lf, 400},
    {"nul_in_value", req(std::string("X: a\0b\r\n", 8)), error::ctl_in_field, 400},
    {"ctl_in_value", req("X: a\x01z\r\n"), error::ctl_in_field, 400},
    {"del_in_value", req("X: a\x7fz\r\n"), error::ctl_in_field, 400},
    {"esc_in_name", req("X\x1b: a\r\n"), error::ctl_in_field, 400},
    {"obs_fold", req("X: a\r\n  b\r\n"), error::obs_fold, 400},
    {"obs_fold_tab", req("X: a\r\n\tb\r\n"), error::obs_fold, 400},
    {"ws_first_field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", error::obs_fold, 400},
    {"bad_name", req("X@Y: a\r\n"), error::bad_header_name, 400},
    {"empty_name", req(": a\r\n"), error::bad_header_name, 400},
    {"no_colon", req("XY\r\n"), error::bad_header_name, 400},
    {"utf8_name", req("X\xc3\xa9: a\r\n"), error::bad_header_name, 400},
    {"ws_before_colon", req("Content-Length : 5\r\n"), error::ws_before_colon, 400},
    {"tab_before_colon", req("X\t: 5\r\n"), error::ws_before_colon, 400},
    {"missing_host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", error::missing_host, 400},
    {"duplicate_host", req("Host: h\r\n"), error::duplicate_host, 400},
    {"bad_host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", error::bad_host, 400},
    {"bad_host_at", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", error::bad_host, 400},
    {"cl_alpha", req("Content-Length: abc\r\n"), error::bad_content_length, 400},
    {"cl_list", req("Content-Length: 5, 5\r\n", "hello"), error::bad_content_length, 400},
    {"cl_negative", req("Content-Length: -1\r\n"), error::bad_content_length, 400},
    {"cl_plus", req("Content-Length: +5\r\n"), error::bad_content_length, 400},
    {"cl_empty", req("Content-Length:\r\n"), error::bad_content_length, 400},
    {"cl_overflow", req("Content-Length: 99999999999999999999\r\n"), error::bad_content_length,
     400},
    {"cl_hex", req("Content-Length: 0x10\r\n"), error::bad_content_length, 400},
    {"cl_dup_same", req("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
     error::duplicate_content_length, 400},
    {"cl_dup_diff", req("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
     error::duplicate_content_length, 400},
    {"cl_and_te", req("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
     error::cl_and_te, 400},
    {"te_and_cl", req("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"),
     error::cl_and_te, 400},
    {"te_gzip", req("Transfer-Encoding: gzip\r\n"), error::bad_transfer_encoding, 400},
    {"te_identity", req("Transfer-Encoding: identity\r\n"), error::bad_transfer_encoding, 400},
    {"te_chunked_gzip", req("Transfer-Encoding: chunked, gzip\r\n"), error::bad_transfer_encoding,
     400},
    {"te_chunked_twice", req("Transfer-Encoding: chunked, chunked\r\n"),
     error::bad_transfer_encoding, 400},
    {"te_two_lines", req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
     error::bad_transfer_encoding, 400},
    {"te_chunked_junk", req("Transfer-Encoding: chunkedx\r\n"), error::bad_transfer_encoding, 400},
    {"te_empty", req("Transfer-Encoding:\r\n"), error::bad_transfer_encoding, 400},
    {"te_gzip_chunked", req("Transfer-Encoding: gzip, chunked\r\n"),
     error::unsupported_transfer_encoding, 501},
    {"te_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     error::te_in_http10, 400},
    {"chunk_size_alpha", req("Transfer-Encoding: chunked\r\n", "xyz\r\n"), error::bad_chunk_size,
     400},
    {"chunk_size_empty", req("Transfer-Encoding: chunked\r\n", "\r\n"), error::bad_chunk_size, 400},
    {"chunk_size_trailing_ws", req("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n"),
     error::bad_chunk_size, 400},
    {"chunk_size_junk", req("Transfer-Encoding: chunked\r\n", "5x\r\nhello\r\n"),
     error::bad_chunk_size, 400},
    {"chunk_size_negative", req("Transfer-Encoding: chunked\r\n", "-5\r\n"), error::bad_chunk_size,
     400},
    {"chunk_only_ext", req("Transfer-Encoding: chunked\r\n", ";a\r\n"), error::bad_chunk_size, 400},
    {"chunk_ext_ctl", req("Transfer-Encoding: chunked\r\n", "5;a\x01\r\n"), error::bad_chunk_size,
     400},
    {"chunk_bare_lf", req("Transfer-Encoding: chunked\r\n", "5\nhello\r\n"), error::bare_lf, 400},
    {"chunk_overflow", req("Transfer-Encoding: chunked\r\n", "1000000000000000\r\n"),
     error::chunk_size_overflow, 400},
    {"chunk_overflow_64", req("Transfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\n"),
     error::chunk_size_overflow, 400},
    {"chunk_no_crlf", req("Transfer-Encoding: chunked\r\n", "5\r\nhelloXX0\r\n\r\n"),
     error::bad_chunk_end, 400},
    {"chunk_lf_only", req("Transfer-Encoding: chunked\r\n", "5\r\nhello\n0\r\n\r\n"),
     error::bad_chunk_end, 400},
    {"chunk_cr_x", req("Transfer-Encoding: chunked\r\n", "5\r\nhello\rx"), error::bad_chunk_end,
     400},
    {"trailer_obs_fold", req("Transfer-Encoding: chunked\r\n", "0\r\nA: b\r\n c\r\n\r\n"),
     error::obs_fold, 400},
    {"trailer_ctl", req("Transfer-Encoding: chunked\r\n", "0\r\nA: \x02\r\n\r\n"),
     error::ctl_in_field, 400},
    {"body_too_large_cl", req("Content-Length: 16777217\r\n"), error::body_too_large, 413},
};

INSTANTIATE_TEST_SUITE_P(All, Http1RequestErrors, ::testing::ValuesIn(k_bad),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- limits ------------------------------------------------------------------------------------

TEST(Http1RequestLimits, RequestLine) {
    limits lim;
    lim.max_request_line = 32;
    std::string ok = "GET /" + std::string(17, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";  // 31 bytes
    EXPECT_EQ(parse(ok, lim).last, outcome::need_more);
    std::string at = "GET /" + std::string(18, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";  // 32
    EXPECT_EQ(parse(at, lim).last, outcome::need_more);
    std::string over = "GET /" + std::string(19, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
    expect_error(over, error::request_line_too_long, lim);
    EXPECT_EQ(reply_for(error::request_line_too_long).status, 414);
    // Detected before the line ends: a never-ending request line is cut at the limit.
    request_parser p(lim);
    EXPECT_EQ(p.feed(as_bytes("GET /" + std::string(100, 'a'))).err, error::request_line_too_long);
    // The limit wins over a later content error in the same line, for every split.
    expect_error("GET /" + std::string(40, 'a') + "\x01 HTTP/1.1\r\n\r\n",
                 error::request_line_too_long, lim);
}

TEST(Http1RequestLimits, HeadBytes) {
    limits lim;
    lim.max_head_bytes = 64;
    std::string ok = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(20, 'v') + "\r\n\r\n";
    EXPECT_EQ(parse(ok, lim).last, outcome::need_more);
    std::string over = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(60, 'v') + "\r\n\r\n";
    expect_error(over, error::head_too_large, lim);
    EXPECT_EQ(reply_for(error::head_too_large).status, 431);
    request_parser p(lim);
    EXPECT_EQ(p.feed(as_bytes("GET / HTTP/1.1\r\n" + std::string(100, 'X'))).err,
              error::head_too_large);
}

TEST(Http1RequestLimits, HeaderCount) {
    limits lim;
    lim.max_headers = 3;
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", lim).last,
              outcome::need_more);
    expect_error("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                 error::too_many_headers, lim);
    EXPECT_EQ(reply_for(error::too_many_headers).status, 431);
    // The default and the hard cap are 100 fields.
    std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 99; ++i) {
        // (appended piecewise: GCC 12 -O3 gives a false -Wrestrict on "X" + to_string(i))
        in += 'X';
        in += std::to_string(i);
        in += ": v\r\n";
    }
    EXPECT_EQ(parse(in + "\r\n").last, outcome::need_more);
    expect_error(in + "Y: z\r\n\r\n", error::too_many_headers);
    lim.max_headers = 1000;  // clamped to k_max_headers
    request_parser p(lim);
    EXPECT_EQ(p.lim().max_headers, k_max_headers);
}

TEST(Http1RequestLimits, Body) {
    limits lim;
    lim.max_body_bytes = 10;
    EXPECT_EQ(parse(req("Content-Length: 10\r\n", "0123456789"), lim).events.size(), 3u);
    expect_error(req("Content-Length: 11\r\n", "0123456789a"), error::body_too_large, lim);
    std::string chunked =
        req("Transfer-Encoding: chunked\r\n", "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n");
    EXPECT_EQ(parse(chunked, lim).events.size(), 3u);
    transcript t =
        parse(req("Transfer-Encoding: chunked\r\n", "6\r\nabcdef\r\n5\r\nghijk\r\n"), lim);
    EXPECT_EQ(t.err, error::body_too_large);
    ASSERT_EQ(t.events.size(), 2u);
    EXPECT_EQ(t.events[1], "body:abcdef");  // what came before the limit was delivered
    EXPECT_EQ(reply_for(error::body_too_large).status, 413);
}

TEST(Http1RequestLimits, ChunkLine) {
    limits lim;
    lim.max_chunk_line = 16;
    EXPECT_EQ(
        parse(req("Transfer-Encoding: chunked\r\n", "1;abcdefghijklm\r\nx\r\n0\r\n\r\n"), lim).last,
        outcome::need_more);
    expect_error(req("Transfer-Encoding: chunked\r\n", "1;abcdefghijklmno\r\nx\r\n0\r\n\r\n"),
                 error::chunk_line_too_long, lim);
    // Leading zeros do not overflow; they only count against the line limit.
    EXPECT_EQ(
        parse(req("Transfer-Encoding: chunked\r\n", "0000000000001\r\nx\r\n0\r\n\r\n"), lim).last,
        outcome::need_more);
}

TEST(Http1RequestLimits, Trailers) {
    limits lim;
    lim.max_trailer_bytes = 20;
    EXPECT_EQ(
        parse(req("Transfer-Encoding: chunked\r\n", "0\r\nA: 123456789012\r\n\r\n"), lim).last,
        outcome::need_more);
    expect_error(req("Transfer-Encoding: chunked\r\n", "0\r\nA: 1234567890123456789\r\n\r\n"),
                 error::trailers_too_large, lim);
}

TEST(Http1Request, Diagnostics) {
    request_parser p;
    std::string in = "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n";
    auto r = p.feed(as_bytes(in));
    ASSERT_EQ(r.out, outcome::error);
    EXPECT_EQ(r.err, error::ws_before_colon);
    EXPECT_EQ(p.diag().state, parser_state::head);
    EXPECT_EQ(p.diag().offset, 25u);
    EXPECT_EQ(p.diag().snippet_view().substr(0, 8), "Bad Name");
    EXPECT_EQ(to_string(p.diag().state), "head");
    EXPECT_EQ(p.state(), parser_state::failed);
}

TEST(Http1Request, DiagnosticsInBody) {
    request_parser p;
    std::string in = req("Transfer-Encoding: chunked\r\n", "zz\r\n");
    auto r = p.feed(as_bytes(in));
    ASSERT_EQ(r.ev, event::head);
    r = p.feed(as_bytes(in).subspan(r.consumed));
    ASSERT_EQ(r.err, error::bad_chunk_size);
    EXPECT_EQ(p.diag().state, parser_state::chunk_size);
    EXPECT_EQ(p.diag().offset, in.size() - 4);
    EXPECT_EQ(p.diag().snippet_view(), "zz\r\n");
}

TEST(Http1Request, ErrorTableIsComplete) {
    for (int i = 1; i < static_cast<int>(error::count_); ++i) {
        auto e = static_cast<error>(i);
        EXPECT_NE(to_string(e), "unknown");
        EXPECT_GE(reply_for(e).status, 400) << to_string(e);
        EXPECT_TRUE(reply_for(e).close);
        EXPECT_FALSE(reply_for(e).reason.empty());
    }
}

}  // namespace
}  // namespace sy::http1
