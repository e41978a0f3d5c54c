// RESP2 parser and encoder: every reply split at every byte, errors, limits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/proto/resp/resp.hpp"

namespace sy::resp {
namespace {

// Renders a value as a compact string, to compare whole trees.
std::string show(value v) {
    switch (v.kind()) {
        case type::simple:
            return "+" + std::string(v.str());
        case type::error:
            return "-" + std::string(v.str());
        case type::integer:
            return ":" + std::to_string(v.integer());
        case type::bulk:
            return "$" + std::string(v.str());
        case type::nil:
            return "nil";
        case type::array: {
            std::string s = "[";
            for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + show(v[i]);
            return s + "]";
        }
    }
    return "?";
}

// Feeds wire through a growing buffer, cut at `cut` (and then the rest), as a connection would
// (bytes accumulate until consumed); returns every reply rendered, or "ERR" on an error.
std::vector<std::string> run(std::string_view wire, std::size_t cut) {
    parser p;
    std::vector<std::string> out;
    std::string buf;
    auto drain = [&] {
        while (true) {
            auto r = p.parse(as_bytes(buf));
            if (r.out == outcome::error) {
                out.push_back("ERR");
                return false;
            }
            if (r.out == outcome::need_more) {
                EXPECT_GT(r.needed, buf.size());
                return true;
            }
            out.push_back(show(p.root()));
            buf.erase(0, r.consumed);
        }
    };
    buf.append(wire.substr(0, cut));
    if (drain()) {
        buf.append(wire.substr(cut));
        drain();
    }
    return out;
}

void every_split(std::string_view wire, const std::vector<std::string>& want) {
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        EXPECT_EQ(run(wire, cut), want) << "cut at " << cut;
    }
    // One byte at a time.
    parser p;
    std::string buf;
    std::vector<std::string> got;
    for (char c : wire) {
        buf.push_back(c);
        auto r = p.parse(as_bytes(buf));
        if (r.out == outcome::complete) {
            got.push_back(show(p.root()));
            buf.erase(0, r.consumed);
        }
    }
    EXPECT_EQ(got, want);
}

TEST(resp, scalars_at_every_split) {
    every_split("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n",
                {"+OK", "-ERR wrong", ":42", ":-7", "$hello", "$", "nil"});
}

TEST(resp, bulk_may_hold_crlf) {
    every_split("$4\r\na\r\nb\r\n", {"$a\r\nb"});
}

TEST(resp, nested_arrays_at_every_split) {
    // An XRANGE reply: [[id, [field, value, ...]], ...], and a pub/sub message.
    every_split(
        "*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nd\r\n$2\r\nhi\r\n*2\r\n$3\r\n2-0\r\n*0\r\n"
        "*3\r\n$7\r\nmessage\r\n$4\r\nsy:a\r\n$3\r\nxyz\r\n*-1\r\n",
        {"[[$1-0,[$d,$hi]],[$2-0,[]]]", "[$message,$sy:a,$xyz]", "nil"});
}

TEST(resp, element_access_skips_subtrees) {
    parser p;
    std::string wire = "*3\r\n*2\r\n:1\r\n:2\r\n$1\r\nx\r\n:9\r\n";
    auto r = p.parse(as_bytes(wire));
    ASSERT_EQ(r.out, outcome::complete);
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_EQ(p.root().size(), 3u);
    EXPECT_EQ(p.root()[0][1].integer(), 2);
    EXPECT_EQ(p.root()[1].str(), "x");
    EXPECT_EQ(p.root()[2].integer(), 9);
}

TEST(resp, errors) {
    for (std::string_view bad : {"?x\r\n", ":12a\r\n", "$-2\r\n", "+OK\n", "$3\r\nabcd\r\n",
                                 "*-5\r\n", "$\r\n", "%1\r\n"}) {
        parser p;
        EXPECT_EQ(p.parse(as_bytes(bad)).out, outcome::error) << bad;
        EXPECT_NE(p.last_error(), parse_error::none);
    }
}

TEST(resp, limits) {
    parser_config cfg;
    cfg.max_bulk = 4;
    cfg.max_array = 2;
    cfg.max_depth = 2;
    cfg.max_line = 8;
    auto err = [&](std::string_view w) {
        parser p(cfg);
        EXPECT_EQ(p.parse(as_bytes(w)).out, outcome::error) << w;
        return p.last_error();
    };
    EXPECT_EQ(err("$5\r\n"), parse_error::too_big);
    EXPECT_EQ(err("*3\r\n"), parse_error::too_big);
    EXPECT_EQ(err("*1\r\n*1\r\n*1\r\n:1\r\n"), parse_error::too_deep);
    EXPECT_EQ(err("+0123456789"), parse_error::line_too_long);
    parser p(cfg);
    EXPECT_EQ(p.parse(as_bytes(std::string_view("*1\r\n*1\r\n:1\r\n"))).out, outcome::complete);
}

TEST(resp, needed_hint_skips_reparsing) {
    parser p;
    std::string wire = "$10\r\n0123";
    auto r = p.parse(as_bytes(wire));
    ASSERT_EQ(r.out, outcome::need_more);
    EXPECT_EQ(r.needed, 5u + 10u + 2u);
    wire += "456789\r\n";
    r = p.parse(as_bytes(wire));
    ASSERT_EQ(r.out, outcome::complete);
    EXPECT_EQ(p.root().str(), "0123456789");
}

TEST(resp, encodes_commands_as_bulk_arrays) {
    byte_buffer out;
    encode_command(out, {"SET", "k", std::string_view("a\r\nb", 4)});
    encode_command(out, {"PING"});
    EXPECT_EQ(out.view(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n*1\r\n$4\r\nPING\r\n");
    // What we encode, our parser reads back.
    parser p;
    auto r = p.parse(out.readable());
    ASSERT_EQ(r.out, outcome::complete);
    EXPECT_EQ(show(p.root()), "[$SET,$k,$a\r\nb]");
}

}  // namespace
}  // namespace sy::resp
