// Generated method layer: round trip of every method, byte vectors produced by pika (an
// independent implementation), properties, method table and reply codes.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"
#include "switchyard/proto/amqp/spec.hpp"
#include "switchyard/proto/amqp/spec_samples.hpp"

namespace sy::amqp {
namespace {

using namespace std::literals;
using test::bv;
using test::str;

// Frames as marshalled by pika 1.x (pika.frame.Method(...).marshal()).
constexpr std::string_view start_frame =
    "\x01\x00\x00\x00\x00\x00\x2b\x00\x0a\x00\x0a\x00\x09\x00\x00\x00\x0f\x07product"
    "S\x00\x00\x00\x02sy\x00\x00\x00\x05PLAIN\x00\x00\x00\x05"
    "en_US\xce"sv;
constexpr std::string_view start_ok_frame =
    "\x01\x00\x00\x00\x00\x00\x35\x00\x0a\x00\x0b\x00\x00\x00\x11\x07productS\x00\x00\x00\x04pika"
    "\x05PLAIN\x00\x00\x00\x0c\x00guest\x00guest\x05"
    "en_US\xce"sv;
constexpr std::string_view tune_frame =
    "\x01\x00\x00\x00\x00\x00\x0c\x00\x0a\x00\x1e\x07\xff\x00\x02\x00\x00\x00\x3c\xce"sv;
constexpr std::string_view open_frame =
    "\x01\x00\x00\x00\x00\x00\x08\x00\x0a\x00\x28\x01/\x00\x00\xce"sv;
constexpr std::string_view publish_frame =
    "\x01\x00\x01\x00\x00\x00\x0e\x00\x3c\x00\x28\x00\x00\x00\x05hello\x01\xce"sv;
constexpr std::string_view header_frame =
    "\x02\x00\x01\x00\x00\x00\x1a\x00\x3c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x90\x00\x0a"
    "text/plain\x02\xce"sv;
constexpr std::string_view body_frame = "\x03\x00\x01\x00\x00\x00\x05hello\xce"sv;

// The single frame in `f` (whole frame bytes) decoded as a method.
method_variant decode_frame(std::string_view f) {
    frame_decoder d({.expect_protocol_header = false, .frame_max = 0});
    feed_result r = d.feed(bv(f));
    EXPECT_EQ(r.status, outcome::complete);
    EXPECT_EQ(r.consumed, f.size());
    auto m = decode_method(r.f.payload);
    EXPECT_TRUE(m.has_value());
    return m ? *m : method_variant{};
}

template <typename M>
std::string frame_of(std::uint16_t ch, const M& m) {
    byte_buffer out;
    encode_method_frame(out, ch, m);
    return std::string(out.view());
}

TEST(AmqpMethods, EveryMethodRoundTrips) {
    auto all = samples::all_methods();
    ASSERT_EQ(all.size(), method_count);
    for (const auto& m : all) {
        byte_buffer out;
        encode_method(out, m);
        auto back = decode_method(out.readable());
        ASSERT_TRUE(back.has_value()) << info_of(m).name;
        EXPECT_EQ(back->index(), m.index()) << info_of(m).name;
        EXPECT_TRUE(*back == m) << info_of(m).name;
        // The same through a frame, at every split.
        std::string f = std::visit([](const auto& x) { return frame_of(5, x); }, m);
        if (info_of(m).class_id == class_id::connection) f[2] = 0;  // channel 0
        auto t = test::run_all_splits(f, {.expect_protocol_header = false, .frame_max = 0});
        if (!info_of(m).content) {
            ASSERT_EQ(t.events.size(), 1u) << info_of(m).name;
            EXPECT_NE(t.events[0].find(info_of(m).name), std::string::npos);
        }
        EXPECT_EQ(t.err, error::none) << info_of(m).name;
    }
}

TEST(AmqpMethods, TruncatingAnyMethodIsASyntaxError) {
    for (const auto& m : samples::all_methods()) {
        byte_buffer out;
        encode_method(out, m);
        std::string bytes(out.view());
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            auto r = decode_method(bv(std::string_view(bytes).substr(0, n)));
            ASSERT_FALSE(r.has_value()) << info_of(m).name << " cut at " << n;
            EXPECT_EQ(reply_code_for(r.error()), reply::syntax_error) << info_of(m).name;
        }
        bytes.push_back('\0');
        auto r = decode_method(bv(bytes));
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error(), error::trailing_method_bytes);
    }
}

TEST(AmqpMethods, ConnectionStartVector) {
    auto m = decode_frame(start_frame);
    const auto* s = std::get_if<connection_start>(&m);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->version_major, 0);
    EXPECT_EQ(s->version_minor, 9);
    EXPECT_EQ(s->mechanisms, "PLAIN");
    EXPECT_EQ(s->locales, "en_US");
    auto product = find(s->server_properties, "product");
    ASSERT_TRUE(product.has_value());
    EXPECT_EQ(std::get<std::string_view>(*product), "sy");
    // Encode the same method ourselves: identical bytes.
    byte_buffer props;
    encode_table(props, {{"product", std::string_view("sy")}});
    connection_start mine;
    mine.server_properties = entries_of(props.readable());
    EXPECT_EQ(frame_of(0, mine), start_frame);
}

TEST(AmqpMethods, ConnectionStartOkVector) {
    auto m = decode_frame(start_ok_frame);
    const auto* s = std::get_if<connection_start_ok>(&m);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->mechanism, "PLAIN");
    EXPECT_EQ(s->response, "\0guest\0guest"sv);
    EXPECT_EQ(s->locale, "en_US");
    EXPECT_EQ(std::get<std::string_view>(*find(s->client_properties, "product")), "pika");
    EXPECT_EQ(frame_of(0, *s), start_ok_frame);
}

TEST(AmqpMethods, ConnectionTuneAndOpenVectors) {
    auto m = decode_frame(tune_frame);
    const auto* t = std::get_if<connection_tune>(&m);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->channel_max, 2047);
    EXPECT_EQ(t->frame_max, 131072u);
    EXPECT_EQ(t->heartbeat, 60);
    EXPECT_EQ(frame_of(0, *t), tune_frame);

    auto o = decode_frame(open_frame);
    const auto* op = std::get_if<connection_open>(&o);
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(op->virtual_host, "/");
    EXPECT_EQ(op->capabilities, "");
    EXPECT_FALSE(op->insist);
    EXPECT_EQ(frame_of(0, connection_open{.virtual_host = "/"}), open_frame);
}

TEST(AmqpMethods, PublishHeaderBodyVector) {
    auto m = decode_frame(publish_frame);
    const auto* p = std::get_if<basic_publish>(&m);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->exchange, "");
    EXPECT_EQ(p->routing_key, "hello");
    EXPECT_TRUE(p->mandatory);
    EXPECT_FALSE(p->immediate);

    frame_decoder d({.expect_protocol_header = false});
    feed_result r = d.feed(bv(header_frame));
    ASSERT_EQ(r.status, outcome::complete);
    auto h = decode_content_header(r.f.payload);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->body_size, 5u);
    EXPECT_EQ(h->properties.flags,
              basic_properties::content_type_flag | basic_properties::delivery_mode_flag);
    EXPECT_EQ(h->properties.content_type, "text/plain");
    EXPECT_EQ(h->properties.delivery_mode, 2);

    byte_buffer out;
    basic_properties props;
    props.set_content_type("text/plain").set_delivery_mode(2);
    encode_content(out, 1, basic_publish{.routing_key = "hello", .mandatory = true}, props,
                   bv("hello"), 131072);
    std::string all =
        std::string(publish_frame) + std::string(header_frame) + std::string(body_frame);
    EXPECT_EQ(out.view(), all);

    auto t = test::run_all_splits(all, {.expect_protocol_header = false});
    EXPECT_EQ(t.events,
              std::vector<std::string>{"1:basic.publish size=5 ct=text/plain body=hello"});
    EXPECT_EQ(t.last, outcome::complete);
}

TEST(AmqpMethods, EveryPropertyRoundTrips) {
    byte_buffer tbl;
    encode_table(tbl, {{"x-retry", std::int32_t{3}}});
    basic_properties p;
    p.set_content_type("application/json")
        .set_content_encoding("gzip")
        .set_headers(entries_of(tbl.readable()))
        .set_delivery_mode(2)
        .set_priority(9)
        .set_correlation_id("c1")
        .set_reply_to("amq.rabbitmq.reply-to")
        .set_expiration("60000")
        .set_message_id("m1")
        .set_timestamp(1700000000)
        .set_type("t")
        .set_user_id("guest")
        .set_app_id("app")
        .set_cluster_id("cl");
    EXPECT_EQ(p.flags, basic_properties::all_flags);
    EXPECT_EQ(p.flags, 0xFFFC);
    content_header h{class_id::basic, 0, 1234, p};
    byte_buffer out;
    encode_content_header(out, h);
    auto back = decode_content_header(out.readable());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, h);
    // Each property alone, so a flag bit mix-up cannot cancel out.
    for (int bit = 15; bit >= 2; --bit) {
        content_header one{class_id::basic, 0, 1, p};
        one.properties.flags = static_cast<std::uint16_t>(1u << bit);
        byte_buffer o1;
        encode_content_header(o1, one);
        auto b1 = decode_content_header(o1.readable());
        ASSERT_TRUE(b1.has_value()) << bit;
        EXPECT_EQ(b1->properties.flags, one.properties.flags);
    }
}

TEST(AmqpMethods, ContentHeaderErrors) {
    content_header h;
    h.properties.set_priority(1);
    byte_buffer out;
    encode_content_header(out, h);
    std::string ok(out.view());
    for (std::size_t n = 0; n < ok.size(); ++n) {
        auto r = decode_content_header(bv(std::string_view(ok).substr(0, n)));
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error(), error::bad_content_header) << n;
    }
    std::string flags = ok;
    flags[13] = 0x02;  // bit 1: not a basic property
    EXPECT_EQ(decode_content_header(bv(flags)).error(), error::bad_property_flags);
    std::string cls = ok;
    cls[1] = 50;  // queue class
    EXPECT_EQ(decode_content_header(bv(cls)).error(), error::content_class_mismatch);
    EXPECT_EQ(reply_code_for(error::content_class_mismatch), reply::unexpected_frame);
}

TEST(AmqpMethods, UnknownClassOrMethodIsNotImplemented) {
    auto r = decode_method(bv("\x00\x3c\x00\x29"sv));  // basic method 41
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), error::unknown_method);
    EXPECT_EQ(reply_code_for(r.error()), 540);
    r = decode_method(bv("\x00\x3d\x00\x0a"sv));  // class 61
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), error::unknown_class);
    EXPECT_EQ(reply_code_for(r.error()), 540);
    EXPECT_EQ(reply_text_for(r.error()).substr(0, 18), "NOT_IMPLEMENTED - ");
}

TEST(AmqpMethods, MethodTable) {
    EXPECT_EQ(method_name(60, 40), "basic.publish");
    EXPECT_EQ(method_name(60, 41), "unknown");
    const method_info* i = find_method(10, 10);
    ASSERT_NE(i, nullptr);
    EXPECT_TRUE(i->synchronous);
    EXPECT_FALSE(i->content);
    EXPECT_TRUE(find_method(60, 60)->content);       // basic.deliver
    EXPECT_FALSE(find_method(60, 80)->synchronous);  // basic.ack
    EXPECT_TRUE(basic_get_ok::content);
    EXPECT_EQ(basic_deliver::name, "basic.deliver");
    EXPECT_EQ(exchange_unbind_ok::amqp_method, 51);
}

TEST(AmqpMethods, ReplyCodes) {
    const reply_code_info* fe = lookup_reply_code(501);
    ASSERT_NE(fe, nullptr);
    EXPECT_EQ(fe->name, "FRAME_ERROR");
    EXPECT_TRUE(fe->hard);
    EXPECT_TRUE(is_hard_error(320));
    EXPECT_FALSE(is_hard_error(404));
    EXPECT_TRUE(lookup_reply_code(404)->soft);
    EXPECT_EQ(lookup_reply_code(999), nullptr);
    EXPECT_EQ(static_cast<std::uint16_t>(reply_code::not_implemented), 540);
    // Every codec error's reply code is a spec code of the class the table claims.
    for (int e = 2; e <= static_cast<int>(error::message_too_large); ++e) {
        const error_info info = info_for(static_cast<error>(e));
        const reply_code_info* rc = lookup_reply_code(info.reply_code);
        ASSERT_NE(rc, nullptr) << info.name;
        EXPECT_EQ(rc->hard, info.hard) << info.name;
        EXPECT_EQ(info.text.substr(0, rc->name.size()), rc->name) << info.name;
    }
}

}  // namespace
}  // namespace sy::amqp
