// gRPC message codec and metadata helpers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/proto/grpc/metadata.hpp"
#include "switchyard/proto/grpc/status.hpp"

using namespace sy;
using namespace sy::grpc;
using namespace std::chrono_literals;

namespace {

std::string wire_of(std::initializer_list<std::string_view> msgs,
                    compression enc = compression::identity) {
    byte_buffer out;
    for (auto m : msgs) EXPECT_TRUE(encode(as_bytes(m), out, enc));
    return std::string(out.view());
}

struct collected {
    std::vector<std::string> msgs;
    std::vector<bool> zero_copy;
    outcome last = outcome::need_more;
};

// Feeds `wire` in the given pieces, looping on complete like a real caller.
collected run(decoder& dec, const std::vector<std::string_view>& pieces) {
    collected c;
    for (auto piece : pieces) {
        byte_view in = as_bytes(piece);
        while (true) {
            message m;
            auto r = dec.feed(in, m);
            in = in.subspan(r.consumed);
            c.last = r.out;
            if (r.out == outcome::complete) {
                c.msgs.emplace_back(as_string_view(m.payload));
                c.zero_copy.push_back(m.zero_copy);
                if (in.empty()) break;
                continue;
            }
            if (r.out == outcome::error) return c;
            EXPECT_TRUE(in.empty());
            break;
        }
    }
    return c;
}

const std::vector<std::string> sample = {"", "a", "hello world", std::string(1000, 'x'),
                                         std::string("\x00\x01\x02", 3)};

TEST(grpc_decoder, whole_input_zero_copy) {
    std::string wire = wire_of({"hello", "", "world!"});
    decoder dec;
    auto c = run(dec, {wire});
    ASSERT_EQ(c.msgs, (std::vector<std::string>{"hello", "", "world!"}));
    EXPECT_TRUE(c.zero_copy[0]);
    EXPECT_TRUE(c.zero_copy[2]);
    EXPECT_EQ(dec.state(), decode_state::prefix);
}

TEST(grpc_decoder, split_at_every_byte) {
    for (auto enc : {compression::identity, compression::gzip}) {
        std::string wire;
        byte_buffer out;
        for (auto& m : sample) ASSERT_TRUE(encode(as_bytes(m), out, enc));
        wire = out.view();
        for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
            decoder dec({.encoding = enc});
            std::string_view w(wire);
            auto c = run(dec, {w.substr(0, cut), w.substr(cut)});
            ASSERT_EQ(c.msgs, sample) << "cut " << cut;
        }
    }
}

TEST(grpc_decoder, one_byte_at_a_time) {
    std::string wire = wire_of({"abc", "defgh"});
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < wire.size(); ++i)
        pieces.push_back(std::string_view(wire).substr(i, 1));
    decoder dec;
    auto c = run(dec, pieces);
    ASSERT_EQ(c.msgs, (std::vector<std::string>{"abc", "defgh"}));
    EXPECT_FALSE(c.zero_copy[0]);
}

TEST(grpc_decoder, gzip_round_trip) {
    std::string big(100000, 'q');
    std::string wire = wire_of({big, "small"}, compression::gzip);
    EXPECT_LT(wire.size(), 2000u);
    EXPECT_EQ(wire[0], 1);
    decoder dec({.encoding = compression::gzip});
    message m;
    auto r = dec.feed(as_bytes(wire), m);
    ASSERT_EQ(r.out, outcome::complete);
    EXPECT_TRUE(m.compressed);
    EXPECT_FALSE(m.zero_copy);
    EXPECT_EQ(as_string_view(m.payload), big);
}

TEST(grpc_decoder, min_compress_size_sends_small_messages_plain) {
    byte_buffer out;
    ASSERT_TRUE(encode(as_bytes("tiny"), out, compression::gzip, 64));
    EXPECT_EQ(out.data()[0], 0);
    EXPECT_EQ(out.size(), 9u);
}

void expect_error(decoder& dec, std::string_view wire, error e, status_code sc) {
    // Whole, and one byte at a time: the same error.
    message m;
    auto r = dec.feed(as_bytes(wire), m);
    while (r.out == outcome::complete) r = dec.feed(as_bytes(wire).subspan(r.consumed), m);
    EXPECT_EQ(r.out, outcome::error);
    EXPECT_EQ(dec.last_error(), e);
    EXPECT_EQ(status_for(dec.last_error()), sc);
    EXPECT_EQ(dec.state(), decode_state::failed);
    EXPECT_EQ(dec.feed(as_bytes("x"), m).out, outcome::error);  // sticky
}

TEST(grpc_decoder, oversize_is_resource_exhausted_before_payload) {
    std::string wire("\x00\x00\x01\x00\x01", 5);  // 65537 bytes declared, none sent
    decoder dec({.max_message_size = 65536});
    expect_error(dec, wire, error::message_too_large, status_code::resource_exhausted);
    for (std::size_t i = 0; i < 5; ++i) {
        decoder d2({.max_message_size = 65536});
        message m;
        auto r1 = d2.feed(as_bytes(wire).subspan(0, i), m);
        EXPECT_EQ(r1.out, outcome::need_more);
        auto r2 = d2.feed(as_bytes(wire).subspan(i), m);
        EXPECT_EQ(r2.out, outcome::error) << i;
        EXPECT_EQ(d2.last_error(), error::message_too_large);
    }
}

TEST(grpc_decoder, exact_max_size_ok) {
    std::string msg(100, 'm');
    decoder dec({.max_message_size = 100});
    auto c = run(dec, {wire_of({msg})});
    ASSERT_EQ(c.msgs.size(), 1u);
}

TEST(grpc_decoder, inflate_bomb_is_resource_exhausted) {
    std::string big(1 << 20, '\0');
    std::string wire = wire_of({big}, compression::gzip);
    decoder dec({.max_inflated_size = 64 * 1024, .encoding = compression::gzip});
    expect_error(dec, wire, error::inflated_too_large, status_code::resource_exhausted);
}

TEST(grpc_decoder, compressed_without_encoding_is_internal) {
    std::string wire = wire_of({"abc"}, compression::gzip);
    decoder dec;  // identity
    expect_error(dec, wire, error::compressed_without_encoding, status_code::internal);
}

TEST(grpc_decoder, bad_flag_and_corrupt_gzip) {
    decoder d1;
    expect_error(d1, std::string("\x02\x00\x00\x00\x00", 5), error::bad_compressed_flag,
                 status_code::internal);
    decoder d2({.encoding = compression::gzip});
    expect_error(d2, std::string("\x01\x00\x00\x00\x03xyz", 8), error::inflate_failed,
                 status_code::internal);
    // Truncated gzip stream.
    std::string good = wire_of({std::string(500, 'g')}, compression::gzip);
    std::string payload = good.substr(5, good.size() - 5 - 4);
    byte_buffer out;
    auto p = encode_prefix(static_cast<std::uint32_t>(payload.size()), true);
    out.append(p.data(), p.size());
    out.append(payload);
    decoder d3({.encoding = compression::gzip});
    expect_error(d3, out.view(), error::inflate_failed, status_code::internal);
}

TEST(grpc_encoding, parse) {
    EXPECT_EQ(parse_encoding("gzip"), compression::gzip);
    EXPECT_EQ(parse_encoding("identity"), compression::identity);
    EXPECT_EQ(parse_encoding(""), compression::identity);
    EXPECT_FALSE(parse_encoding("br").has_value());
}

TEST(grpc_timeout, parse_table) {
    struct row {
        std::string_view in;
        std::chrono::nanoseconds want;
    };
    for (auto r : std::vector<row>{{"100m", 100ms},
                                   {"5S", 5s},
                                   {"1H", 1h},
                                   {"2M", 2min},
                                   {"250u", 250us},
                                   {"7n", 7ns},
                                   {"0S", 0s},
                                   {"99999999S", 99999999s},
                                   {"00000001m", 1ms}}) {
        auto t = parse_timeout(r.in);
        ASSERT_TRUE(t) << r.in;
        EXPECT_EQ(*t, r.want) << r.in;
    }
    auto sat = parse_timeout("99999999H");
    ASSERT_TRUE(sat);
    EXPECT_EQ(sat->count(), INT64_MAX);
}

TEST(grpc_timeout, parse_errors) {
    EXPECT_EQ(parse_timeout("").error(), timeout_error::empty);
    EXPECT_EQ(parse_timeout("S").error(), timeout_error::empty);
    EXPECT_EQ(parse_timeout("123456789S").error(), timeout_error::too_many_digits);
    EXPECT_EQ(parse_timeout("1.5S").error(), timeout_error::bad_digit);
    EXPECT_EQ(parse_timeout("-1S").error(), timeout_error::bad_digit);
    EXPECT_EQ(parse_timeout("10s").error(), timeout_error::bad_unit);
    EXPECT_EQ(parse_timeout("10x").error(), timeout_error::bad_unit);
}

TEST(grpc_timeout, format) {
    EXPECT_EQ(format_timeout(100ms), "100m");
    EXPECT_EQ(format_timeout(5s), "5S");
    EXPECT_EQ(format_timeout(1h), "1H");
    EXPECT_EQ(format_timeout(90s), "90S");
    EXPECT_EQ(format_timeout(1500us), "1500u");
    EXPECT_EQ(format_timeout(0ns), "0H");
    // 123456789 ns, not exact in u and too long in n: rounded up to 123457u.
    EXPECT_EQ(format_timeout(std::chrono::nanoseconds(123456789)), "123457u");
    for (std::chrono::nanoseconds d :
         std::vector<std::chrono::nanoseconds>{1ns, 999ms, 3600s, 1234567891ns}) {
        auto back = parse_timeout(format_timeout(d));
        ASSERT_TRUE(back);
        EXPECT_GE(*back, d);
    }
}

TEST(grpc_message_text, percent_encoding) {
    EXPECT_EQ(percent_encode("ok message"), "ok message");
    EXPECT_EQ(percent_encode("100%"), "100%25");
    EXPECT_EQ(percent_encode("line\nbreak"), "line%0Abreak");
    EXPECT_EQ(percent_encode("caf\xc3\xa9"), "caf%C3%A9");
    for (std::string s : std::vector<std::string>{"", "a%b", "\x01\x7f\xff", "ünïcode ✓"})
        EXPECT_EQ(percent_decode(percent_encode(s)), s);
    // Invalid escapes pass through (spec: never fail on a bad grpc-message).
    EXPECT_EQ(percent_decode("50%"), "50%");
    EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
    EXPECT_EQ(percent_decode("%41%e9"), "A\xe9");
}

TEST(grpc_content_type, classify) {
    EXPECT_EQ(classify_content_type("application/grpc"), content_type_kind::grpc);
    EXPECT_EQ(classify_content_type("application/grpc+proto"), content_type_kind::grpc_proto);
    EXPECT_EQ(classify_content_type("application/grpc+json"), content_type_kind::grpc_other);
    EXPECT_EQ(classify_content_type("Application/GRPC; charset=utf-8"), content_type_kind::grpc);
    EXPECT_EQ(classify_content_type("application/grpc-web"), content_type_kind::not_grpc);
    EXPECT_EQ(classify_content_type("application/grpc+"), content_type_kind::not_grpc);
    EXPECT_EQ(classify_content_type("application/json"), content_type_kind::not_grpc);
    EXPECT_FALSE(is_grpc_content_type("text/plain"));
}

TEST(grpc_status, names_and_parse) {
    EXPECT_EQ(to_string(status_code::ok), "OK");
    EXPECT_EQ(to_string(status_code::resource_exhausted), "RESOURCE_EXHAUSTED");
    EXPECT_EQ(to_string(status_code::unauthenticated), "UNAUTHENTICATED");
    for (int i = 0; i <= 16; ++i) {
        auto c = static_cast<status_code>(i);
        EXPECT_EQ(parse_status(status_text(c)), c);
    }
    EXPECT_FALSE(parse_status("17").has_value());
    EXPECT_FALSE(parse_status("").has_value());
    EXPECT_EQ(from_http_status(404), status_code::unimplemented);
    EXPECT_EQ(from_http_status(503), status_code::unavailable);
    EXPECT_EQ(from_http_status(500), status_code::unknown);
}

TEST(grpc_headers, builders) {
    auto h = response_headers(compression::gzip);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0].name, "content-type");
    EXPECT_EQ(h[0].value, "application/grpc");
    EXPECT_EQ(h[1].name, "grpc-encoding");
    EXPECT_EQ(h[1].value, "gzip");
    auto t = response_trailers(status_code::not_found, "no such 100% thing");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].value, "5");
    EXPECT_EQ(t[1].name, "grpc-message");
    EXPECT_EQ(t[1].value, "no such 100%25 thing");
    EXPECT_EQ(response_trailers(status_code::ok).size(), 1u);
    auto only = trailers_only(status_code::unimplemented, "nope");
    ASSERT_EQ(only.size(), 3u);
    EXPECT_EQ(only[0].name, "content-type");
    EXPECT_EQ(only[1].name, "grpc-status");
    EXPECT_EQ(only[1].value, "12");
}

}  // namespace
