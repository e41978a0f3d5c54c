// Frame decoder, frame encoders and content assembly: every case whole, split at every byte and
// one byte at a time (harness.hpp), every error with its reply code.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace sy::amqp {
namespace {

using namespace std::literals;
using test::bv;
using test::run_all_splits;

const decoder_options client{.expect_protocol_header = false};
const std::string proto_header = "AMQP\x00\x00\x09\x01"s;

template <typename M>
std::string method_frame(std::uint16_t ch, const M& m) {
    byte_buffer out;
    encode_method_frame(out, ch, m);
    return std::string(out.view());
}

std::string header_frame(std::uint16_t ch, std::uint64_t size, std::uint16_t cls = 60) {
    byte_buffer out;
    content_header h;
    h.class_id = cls;
    h.body_size = size;
    encode_header_frame(out, ch, h);
    return std::string(out.view());
}

std::string body(std::uint16_t ch, std::string_view b, std::uint32_t frame_max = 0) {
    byte_buffer out;
    encode_body_frames(out, ch, bv(b), frame_max);
    return std::string(out.view());
}

std::string heartbeat() {
    byte_buffer out;
    encode_heartbeat(out);
    return std::string(out.view());
}

void expect_error(const test::transcript& t, error e, std::uint16_t code) {
    EXPECT_EQ(t.last, outcome::error);
    EXPECT_EQ(t.err, e) << to_string(t.err);
    EXPECT_EQ(reply_code_for(t.err), code);
}

TEST(AmqpFrames, ProtocolHeaderThenHandshake) {
    std::string s = proto_header + method_frame(0, connection_start_ok{.response = "\0a\0b"sv}) +
                    method_frame(0, connection_tune_ok{.channel_max = 10, .frame_max = 131072}) +
                    method_frame(0, connection_open{.virtual_host = "/"}) + heartbeat() +
                    method_frame(1, channel_open{});
    auto t = run_all_splits(s);
    EXPECT_EQ(t.events, (std::vector<std::string>{"protocol-header", "0:connection.start-ok",
                                                  "0:connection.tune-ok", "0:connection.open",
                                                  "heartbeat", "1:channel.open"}));
    EXPECT_EQ(t.last, outcome::complete);
}

// The split a shared-slice writer uses (head, body slice, end octet per frame) gives the same
// bytes as the copying encoder, at every frame_max boundary.
TEST(AmqpFrames, BodyFramePiecesMatchTheCopyingEncoder) {
    std::string payload(10000, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
    for (std::uint32_t frame_max : {0u, 4096u, 4104u, 4105u, 9999u, 10008u, 10009u}) {
        for (std::size_t len :
             {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{10000}}) {
            const std::string_view b = std::string_view(payload).substr(0, len);
            std::string pieces;
            for_each_body_frame(513, len, frame_max,
                                [&](byte_view head, std::size_t off, std::size_t n) {
                                    if (frame_max) {
                                        EXPECT_LE(head.size() + n + 1, frame_max);
                                    }
                                    pieces += as_string_view(head);
                                    pieces += b.substr(off, n);
                                    pieces += static_cast<char>(frame_end_octet);
                                });
            EXPECT_EQ(pieces, body(513, b, frame_max)) << frame_max << " " << len;
        }
    }
}

TEST(AmqpFrames, WrongProtocolHeader) {
    const std::string cases[] = {"GET / HTTP/1.1\r\n\r\n", "AMQP\x00\x00\x09\x00"s,
                                 "AMQP\x01\x01\x00\x09"s, "AMQX\x00\x00\x09\x01"s};
    for (const auto& c : cases) {
        auto t = run_all_splits(c);
        EXPECT_EQ(t.last, outcome::protocol_mismatch) << c;
        EXPECT_EQ(t.err, error::bad_protocol_header);
        EXPECT_EQ(reply_code_for(t.err), 0);  // no close method: we send our header and close
    }
    byte_buffer ours;
    encode_protocol_header(ours);
    EXPECT_EQ(ours.view(), proto_header);
    // A failed decoder keeps reporting the mismatch.
    frame_decoder d;
    EXPECT_EQ(d.feed(bv("HTTP"sv)).status, outcome::protocol_mismatch);
    EXPECT_EQ(d.state(), decoder_state::failed);
    EXPECT_EQ(d.feed(bv(proto_header)).status, outcome::protocol_mismatch);
    EXPECT_EQ(d.last_error().offset, 0u);
}

TEST(AmqpFrames, PublishSplitAcrossBodyFrames) {
    std::string payload(50, 'x');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
    byte_buffer out;
    basic_properties p;
    p.set_content_type("t");
    encode_content(out, 3, basic_publish{.routing_key = "rk"}, p, bv(payload), 20);  // 12 B/frame
    std::string s(out.view());
    // method + header + ceil(50/12) = 5 body frames
    auto t = run_all_splits(s, {.expect_protocol_header = false, .frame_max = 0});
    EXPECT_EQ(t.events, std::vector<std::string>{"3:basic.publish size=50 ct=t body=" + payload});
    // Interleaved with another channel and heartbeats, still assembled per channel.
    std::string two = method_frame(1, basic_publish{}) + method_frame(2, basic_publish{}) +
                      header_frame(2, 2) + heartbeat() + header_frame(1, 3) + body(1, "abc") +
                      body(2, "d") + method_frame(1, basic_ack{.delivery_tag = 7}) + body(2, "e");
    t = run_all_splits(two, client);
    EXPECT_EQ(t.events,
              (std::vector<std::string>{"heartbeat", "1:basic.publish size=3 body=abc",
                                        "1:basic.ack", "2:basic.publish size=2 body=de"}));
}

TEST(AmqpFrames, EmptyBodyCompletesAtHeader) {
    std::string s =
        method_frame(1, basic_publish{}) + header_frame(1, 0) + method_frame(1, tx_commit{});
    auto t = run_all_splits(s, client);
    EXPECT_EQ(t.events, (std::vector<std::string>{"1:basic.publish size=0 body=", "1:tx.commit"}));
    EXPECT_EQ(body(1, ""), "");
}

TEST(AmqpFrames, BodyFramesRespectFrameMax) {
    std::string big(10000, 'z');
    std::string s = body(1, big, 4096);
    frame_decoder d(client);
    byte_view in = bv(s);
    std::size_t total = 0, frames = 0;
    while (!in.empty()) {
        feed_result r = d.feed(in);
        ASSERT_EQ(r.status, outcome::complete);
        EXPECT_LE(r.consumed, 4096u);
        total += r.f.payload.size();
        ++frames;
        in = in.subspan(r.consumed);
    }
    EXPECT_EQ(total, big.size());
    EXPECT_EQ(frames, 3u);  // 4088 + 4088 + 1824
}

TEST(AmqpFrames, UnknownFrameType) {
    auto t = run_all_splits("\x09\x00\x00\x00\x00\x00\x00\xce"s, client);
    expect_error(t, error::unknown_frame_type, reply::frame_error);
    EXPECT_EQ(reply_text_for(t.err).substr(0, 14), "FRAME_ERROR - ");
}

TEST(AmqpFrames, FrameTooLarge) {
    // 4096 is the limit before tune: payload 4089 + 8 = 4097 > 4096, refused from the header.
    std::string hdr = "\x03\x00\x01\x00\x00\x0f\xf9"s;
    auto t = run_all_splits(hdr, client);
    expect_error(t, error::frame_too_large, reply::frame_error);
    // Exactly frame_max is fine.
    std::string ok = "\x03\x00\x01\x00\x00\x0f\xf8"s + std::string(4088, 'a') + "\xce";
    frame_decoder d(client);
    EXPECT_EQ(d.feed(bv(ok)).status, outcome::complete);
    // After tune the negotiated value applies.
    frame_decoder d2(client);
    d2.set_frame_max(131072);
    std::string big = "\x03\x00\x01\x00\x00\x0f\xf9"s + std::string(4089, 'a') + "\xce";
    EXPECT_EQ(d2.feed(bv(big)).status, outcome::complete);
}

TEST(AmqpFrames, BadFrameEnd) {
    std::string f = method_frame(1, channel_open{});
    f.back() = '\x00';
    auto t = run_all_splits(f, client);
    expect_error(t, error::bad_frame_end, reply::frame_error);
    frame_decoder d(client);
    (void)d.feed(bv(f));
    EXPECT_EQ(d.last_error().offset, f.size() - 1);
    EXPECT_EQ(d.last_error().state, decoder_state::frames);
    EXPECT_EQ(d.last_error().snippet[0], 1);
}

TEST(AmqpFrames, BadHeartbeat) {
    expect_error(run_all_splits("\x08\x00\x01\x00\x00\x00\x00\xce"s, client), error::bad_heartbeat,
                 reply::frame_error);
    expect_error(run_all_splits("\x08\x00\x00\x00\x00\x00\x01x\xce"s, client), error::bad_heartbeat,
                 reply::frame_error);
}

TEST(AmqpFrames, MalformedMethodArguments) {
    std::string f = method_frame(1, queue_declare{.queue = "q"});
    // Cut the payload short by one byte (size field and frame-end kept consistent).
    std::string cut = f.substr(0, 3) + "\x00\x00\x00"s +
                      static_cast<char>(static_cast<unsigned char>(f[6]) - 1) +
                      f.substr(7, f.size() - 9) + "\xce";
    expect_error(run_all_splits(cut, client), error::bad_table, reply::syntax_error);
    std::string tiny = "\x01\x00\x01\x00\x00\x00\x02\x00\x14\xce"s;  // 2-byte method payload
    expect_error(run_all_splits(tiny, client), error::truncated_method, reply::syntax_error);
    std::string trailing = "\x01\x00\x01\x00\x00\x00\x05\x00\x5a\x00\x0a\x00\xce"s;  // tx.select+1
    expect_error(run_all_splits(trailing, client), error::trailing_method_bytes,
                 reply::syntax_error);
}

TEST(AmqpFrames, UnknownMethodInAFrame) {
    expect_error(run_all_splits("\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x63\xce"s, client),
                 error::unknown_method, reply::not_implemented);
    expect_error(run_all_splits("\x01\x00\x01\x00\x00\x00\x04\x00\x07\x00\x0a\xce"s, client),
                 error::unknown_class, reply::not_implemented);
}

TEST(AmqpFrames, ContentOutOfSequence) {
    expect_error(run_all_splits(header_frame(1, 3), client), error::unexpected_header,
                 reply::unexpected_frame);
    expect_error(run_all_splits(body(1, "abc"), client), error::unexpected_body,
                 reply::unexpected_frame);
    expect_error(run_all_splits(method_frame(1, basic_publish{}) + body(1, "abc"), client),
                 error::unexpected_body, reply::unexpected_frame);
    expect_error(
        run_all_splits(method_frame(1, basic_publish{}) + method_frame(1, basic_qos{}), client),
        error::unexpected_method, reply::unexpected_frame);
    expect_error(run_all_splits(method_frame(1, basic_publish{}) + header_frame(1, 3) +
                                    method_frame(1, basic_qos{}),
                                client),
                 error::unexpected_method, reply::unexpected_frame);
    expect_error(run_all_splits(method_frame(1, basic_publish{}) + header_frame(1, 3) +
                                    body(1, "ab") + body(1, "cd"),
                                client),
                 error::body_too_long, reply::unexpected_frame);
    expect_error(run_all_splits(method_frame(1, basic_publish{}) + header_frame(1, 3, 50), client),
                 error::content_class_mismatch, reply::unexpected_frame);
}

TEST(AmqpFrames, WrongChannel) {
    expect_error(run_all_splits(method_frame(1, connection_close_ok{}), client),
                 error::wrong_channel, reply::command_invalid);
    expect_error(run_all_splits(method_frame(0, channel_open{}), client), error::wrong_channel,
                 reply::command_invalid);
}

TEST(AmqpFrames, MessageTooLargeIsAChannelError) {
    auto t = run_all_splits(method_frame(1, basic_publish{}) + header_frame(1, 1001), client,
                            {.max_body_size = 1000});
    expect_error(t, error::message_too_large, reply::precondition_failed);
    EXPECT_FALSE(info_for(t.err).hard);
}

TEST(AmqpFrames, AssemblerRecoversAfterError) {
    content_assembler a;
    std::string h = header_frame(1, 1);
    frame_decoder d(client);
    auto r = d.feed(bv(h));
    ASSERT_EQ(r.status, outcome::complete);
    EXPECT_FALSE(a.on_frame(r.f).has_value());
    EXPECT_EQ(a.state(), assembly_state::idle);
    std::string m = method_frame(1, basic_ack{.delivery_tag = 9});
    frame_decoder d2(client);
    auto r2 = d2.feed(bv(m));
    auto res = a.on_frame(r2.f);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(*res, assembly::complete);
    EXPECT_EQ(std::get<basic_ack>(a.method()).delivery_tag, 9u);
    EXPECT_EQ(a.header(), nullptr);
}

}  // namespace
}  // namespace sy::amqp
