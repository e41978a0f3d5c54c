#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/proto/sse/parser.hpp"

namespace sy::sse {
namespace {

struct got {
    event_kind kind;
    std::string type, data, id, comment;
    bool operator==(const got&) const = default;
};
std::ostream& operator<<(std::ostream& os, const got& g) {
    return os << "{" << int(g.kind) << " type=" << g.type << " data=" << g.data << " id=" << g.id
              << " c=" << g.comment << "}";
}
got m(std::string data, std::string type = "message", std::string id = "") {
    return {event_kind::message, std::move(type), std::move(data), std::move(id), ""};
}

struct run_out {
    std::vector<got> events;
    parse_error err = parse_error::none;
    std::optional<std::uint64_t> retry;
};

run_out run(std::string_view wire, std::vector<std::size_t> cuts, parser_config cfg = {}) {
    parser p(cfg);
    run_out r;
    cuts.push_back(wire.size());
    std::size_t start = 0;
    for (std::size_t end : cuts) {
        byte_view in = as_bytes(wire.substr(start, end - start));
        start = end;
        while (true) {
            event ev;
            auto res = p.feed(in, ev);
            if (res.out == outcome::error) {
                r.err = p.last_error();
                return r;
            }
            in = in.subspan(res.consumed);
            if (res.out == outcome::need_more) {
                EXPECT_TRUE(in.empty());
                break;
            }
            r.events.push_back({ev.kind, std::string(ev.type), std::string(ev.data),
                                std::string(ev.last_event_id), std::string(ev.comment)});
        }
    }
    r.retry = p.retry_ms();
    return r;
}

void check_all(std::string_view wire, const std::vector<got>& want,
               parse_error want_err = parse_error::none, parser_config cfg = {}) {
    auto r = run(wire, {}, cfg);
    EXPECT_EQ(r.events, want);
    EXPECT_EQ(r.err, want_err);
    for (std::size_t i = 1; i < wire.size(); ++i) {
        auto s = run(wire, {i}, cfg);
        ASSERT_EQ(s.events, want) << "split at " << i;
        ASSERT_EQ(s.err, want_err) << "split at " << i;
        ASSERT_EQ(s.retry, r.retry);
    }
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    auto o = run(wire, cuts, cfg);
    EXPECT_EQ(o.events, want) << "byte at a time";
    EXPECT_EQ(o.err, want_err);
}

TEST(SseEncoder, Fields) {
    byte_buffer out;
    ASSERT_TRUE(
        encode(out, {.id = "42", .event = "tick", .data = "a\nb\r\nc\rd", .retry_ms = 3000}));
    EXPECT_EQ(out.view(),
              "id: 42\nevent: tick\nretry: 3000\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    byte_buffer o2;
    ASSERT_TRUE(encode(o2, {.data = ""}));
    EXPECT_EQ(o2.view(), "data: \n\n");
    byte_buffer o3;
    ASSERT_TRUE(encode(o3, {.id = ""}));
    EXPECT_EQ(o3.view(), "id: \n\n");
    byte_buffer o4;
    ASSERT_TRUE(encode(o4, {.data = "x\n"}));
    EXPECT_EQ(o4.view(), "data: x\ndata: \n\n");
    EXPECT_EQ(encoded_size({.id = "42", .event = "tick", .data = "a\nb", .retry_ms = 7}),
              std::string_view("id: 42\nevent: tick\nretry: 7\ndata: a\ndata: b\n\n").size());
}

TEST(SseEncoder, RejectsBrokenFields) {
    byte_buffer out;
    EXPECT_EQ(encode(out, {.id = "a\nb"}).error(), encode_error::newline_in_field);
    EXPECT_EQ(encode(out, {.event = "x\ry"}).error(), encode_error::newline_in_field);
    EXPECT_EQ(encode(out, {.id = std::string_view("a\0b", 3)}).error(), encode_error::nul_in_id);
    EXPECT_FALSE(encode_shared({.event = "a\n"}));
    EXPECT_TRUE(out.empty());
}

TEST(SseEncoder, SharedAndComments) {
    auto s = encode_shared({.event = "e", .data = "d"});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->view(), "event: e\ndata: d\n\n");
    byte_buffer c;
    encode_comment(c, "hb");
    EXPECT_EQ(c.view(), ": hb\n\n");
    EXPECT_EQ(encode_comment_shared("a\nb").view(), ": a\n: b\n\n");
    EXPECT_EQ(encode_comment_shared().view(), ": \n\n");
}

TEST(SseParser, SpecExamples) {
    // WHATWG examples.
    check_all("data: YHOO\ndata: +2\ndata: 10\n\n", {m("YHOO\n+2\n10")});
    check_all(
        ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third "
        "event\n\n",
        {m("first event", "message", "1"), m("second event"), m(" third event")});
    check_all("data\n\ndata\ndata\n\ndata:", {m(""), m("\n")});
    check_all("data:test\n\ndata: test\n\n", {m("test"), m("test")});
}

TEST(SseParser, LineEndsAndBom) {
    check_all("data: a\r\ndata: b\rdata: c\n\r\n", {m("a\nb\nc")});
    check_all(
        "\xEF\xBB\xBF"
        "data: x\n\n",
        {m("x")});
    // Only the first BOM is stripped: a second one is part of the field name.
    check_all(
        "\xEF\xBB\xBF\xEF\xBB\xBF"
        "data: x\n\ndata: y\n\n",
        {m("y")});
    // Bytes that start like a BOM but are not.
    check_all(
        "\xEF\xBB"
        "data: x\n\ndata: y\n\n",
        {m("y")});
    check_all("\r\r\rdata: x\r\r", {m("x")});
}

TEST(SseParser, FieldsIdRetryAndType) {
    check_all("event: add\ndata: 1\n\ndata: 2\n\n", {m("1", "add"), m("2")});
    check_all("id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
              {m("a", "message", "7"), m("b", "message", "7"), m("c", "message", "")});
    check_all(std::string_view("id: a\0b\ndata: x\n\n", 17), {m("x")});  // NUL: id ignored
    auto r = run("retry: 1500\n\n", {});
    EXPECT_EQ(r.retry, 1500u);
    EXPECT_FALSE(run("retry: 15x0\n\nretry:\n\nretry: -1\n\n", {}).retry);
    check_all("unknown: x\ndata:x\n\n", {m("x")});
    parser p;
    event ev;
    auto wire = as_bytes("id: 5\n\n");
    EXPECT_EQ(p.feed(wire, ev).out, outcome::need_more);  // no data: nothing dispatched
    EXPECT_EQ(p.last_event_id(), "5");
}

TEST(SseParser, Comments) {
    parser_config cfg;
    cfg.report_comments = true;
    check_all(
        ": hb\n\n:x\ndata: d\n\n",
        {{event_kind::comment, "", "", "", "hb"}, {event_kind::comment, "", "", "", "x"}, m("d")},
        parse_error::none, cfg);
}

TEST(SseParser, Limits) {
    parser_config cfg;
    cfg.max_line = 16;
    cfg.max_data = 8;
    check_all("data: 0123456789abcdef\n\n", {}, parse_error::line_too_long, cfg);
    check_all("data: 01234\ndata: 567\n\n", {}, parse_error::data_too_big, cfg);
    check_all("data: 0123\n\n", {m("0123")}, parse_error::none, cfg);
}

TEST(SseRoundTrip, EncodeThenParseEverySplit) {
    byte_buffer out;
    std::vector<got> want;
    struct e {
        std::optional<std::string_view> id;
        std::string_view event;
        std::string_view data;
    };
    const e events[] = {{"1", "", "hello"},
                        {std::nullopt, "update", "multi\nline\r\ndata\rhere"},
                        {"", "", " leading space"},
                        {"9", "x", ""},
                        {std::nullopt, "", "trailing\n"},
                        {"\xc3\xa9t\xc3\xa9", "", "utf-8 \xe2\x82\xac"}};
    std::string last_id;
    for (const auto& ev : events) {
        ASSERT_TRUE(encode(out, {.id = ev.id, .event = ev.event, .data = ev.data}));
        if (ev.id) last_id = std::string(*ev.id);
        std::string data(ev.data);
        // The parser normalises CRLF and CR to LF.
        std::string norm;
        for (std::size_t i = 0; i < data.size(); ++i) {
            if (data[i] == '\r') {
                norm += '\n';
                if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
            } else {
                norm += data[i];
            }
        }
        want.push_back(m(norm, ev.event.empty() ? "message" : std::string(ev.event), last_id));
        encode_comment(out, "heartbeat");
    }
    check_all(out.view(), want);
}

}  // namespace
}  // namespace sy::sse
