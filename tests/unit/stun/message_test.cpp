// proto/stun: parsing against RFC 5769's sample messages, building and round trips.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "switchyard/proto/stun/message.hpp"

namespace sy::stun {
namespace {

// RFC 5769 2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
// MESSAGE-INTEGRITY (short-term, password below) and FINGERPRINT.
const std::vector<std::uint8_t> sample_request = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

// RFC 5769 2.2: the IPv4 Binding success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const std::vector<std::uint8_t> sample_response = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

const std::string_view sample_password = "VOkJxbRl1RmTxUk/WvJxBt";

address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    address x;
    x.family = 4;
    x.ip[0] = a;
    x.ip[1] = b;
    x.ip[2] = c;
    x.ip[3] = d;
    x.port = port;
    return x;
}

TEST(stun_message, parses_rfc5769_request) {
    message m;
    ASSERT_EQ(parse(sample_request, m), parse_error::none);
    EXPECT_EQ(m.method(), binding);
    EXPECT_TRUE(m.is_request());
    EXPECT_FALSE(m.classic());
    EXPECT_EQ(m.text(attr::software), "STUN test client");
    EXPECT_EQ(m.text(attr::username), "evtj:h6vY");
    EXPECT_EQ(m.u32(attr::priority), 0x6e0001ffu);
    EXPECT_TRUE(m.check_integrity(as_bytes(sample_password)));
    EXPECT_FALSE(m.check_integrity(as_bytes(std::string_view("wrong"))));
    EXPECT_FALSE(m.check_integrity_sha256(as_bytes(sample_password)));  // absent
    EXPECT_TRUE(m.unknown_required().empty());
}

TEST(stun_message, parses_rfc5769_response) {
    message m;
    ASSERT_EQ(parse(sample_response, m), parse_error::none);
    EXPECT_EQ(m.message_class(), klass::success);
    EXPECT_EQ(m.xor_address(attr::xor_mapped_address), v4(192, 0, 2, 1, 32853));
    EXPECT_TRUE(m.check_integrity(as_bytes(sample_password)));
}

TEST(stun_message, fingerprint_and_length_errors) {
    auto bad = sample_request;
    bad.back() ^= 1;
    message m;
    EXPECT_EQ(parse(bad, m), parse_error::bad_fingerprint);
    bad = sample_request;
    bad[3] = 0x54;  // length no longer the datagram's
    EXPECT_EQ(parse(bad, m), parse_error::bad_length);
    bad = sample_request;
    bad[0] = 0x80;
    EXPECT_EQ(parse(bad, m), parse_error::not_stun);
    EXPECT_EQ(parse(byte_view(sample_request).first(19), m), parse_error::too_short);
    // An attribute whose length runs past the end.
    bad = sample_request;
    bad[22] = 0x01;
    EXPECT_EQ(parse(bad, m), parse_error::bad_attribute);
    // Every truncation is rejected, never read past.
    for (std::size_t n = 0; n < sample_request.size(); ++n)
        EXPECT_NE(parse(byte_view(sample_request).first(n), m), parse_error::none) << n;
}

TEST(stun_message, type_bits_roundtrip) {
    for (std::uint16_t meth :
         {binding, allocate, refresh, send_method, data_method, create_permission, channel_bind}) {
        for (klass c : {klass::request, klass::indication, klass::success, klass::error}) {
            transaction_id id{};
            builder b(meth, c, id);
            message m;
            ASSERT_EQ(parse(b.bytes(), m), parse_error::none);
            EXPECT_EQ(m.method(), meth);
            EXPECT_EQ(m.message_class(), c);
        }
    }
    EXPECT_EQ(make_type(binding, klass::success), 0x0101);
    EXPECT_EQ(make_type(allocate, klass::error), 0x0113);
    EXPECT_EQ(make_type(send_method, klass::indication), 0x0016);
}

TEST(stun_message, builds_what_it_parses) {
    transaction_id id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    address six;
    six.family = 6;
    for (std::size_t i = 0; i < 16; ++i) six.ip[i] = std::uint8_t(0x20 + i);
    six.port = 5000;
    const auto key = long_term_key("user", "realm", "pass");
    builder b(allocate, klass::success, id);
    b.add_xor_address(attr::xor_relayed_address, six)
        .add_xor_address(attr::xor_mapped_address, v4(10, 0, 0, 1, 1234))
        .add_plain_address(attr::mapped_address, v4(127, 0, 0, 1, 9))
        .add_u32(attr::lifetime, 600)
        .add_text(attr::software, "sy")
        .add_integrity(key)
        .add_integrity_sha256(key)
        .add_fingerprint();
    message m;
    ASSERT_EQ(parse(b.bytes(), m), parse_error::none);
    EXPECT_EQ(m.transaction_id_bytes(), id);
    EXPECT_EQ(m.xor_address(attr::xor_relayed_address), six);
    EXPECT_EQ(m.xor_address(attr::xor_mapped_address), v4(10, 0, 0, 1, 1234));
    EXPECT_EQ(m.plain_address(attr::mapped_address), v4(127, 0, 0, 1, 9));
    EXPECT_EQ(m.u32(attr::lifetime), 600u);
    EXPECT_EQ(m.text(attr::software), "sy");
    EXPECT_TRUE(m.check_integrity(key));
    EXPECT_TRUE(m.check_integrity_sha256(key));
    const auto other = long_term_key("user", "realm", "other");
    EXPECT_FALSE(m.check_integrity(other));
    EXPECT_FALSE(m.check_integrity_sha256(other));
}

TEST(stun_message, long_term_key_is_md5_of_user_realm_password) {
    // MD5("user:realm:pass") = 8493fbc53ba582fb4c044c456bdc40eb
    const auto k = long_term_key("user", "realm", "pass");
    const std::array<std::uint8_t, 16> want = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
                                               0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};
    EXPECT_EQ(k, want);
}

TEST(stun_message, error_and_unknown_attributes) {
    transaction_id id{};
    std::vector<std::uint16_t> unknown = {0x0031, 0x0042, 0x0077};
    builder b(binding, klass::error, id);
    b.add_error(code::unknown_attribute).add_unknown(unknown).add_fingerprint();
    message m;
    ASSERT_EQ(parse(b.bytes(), m), parse_error::none);
    EXPECT_EQ(m.error_code(), 420);
    const attribute* u = m.find(attr::unknown_attributes);
    ASSERT_NE(u, nullptr);
    ASSERT_EQ(u->value.size(), 6u);
    EXPECT_EQ(u->value[1], 0x31);
    EXPECT_EQ(u->value[5], 0x77);
    EXPECT_NE(m.text(attr::error_code).find("Unknown Attribute"), std::string_view::npos);
}

TEST(stun_message, unknown_required_lists_only_unknown_required_types) {
    transaction_id id{};
    std::uint8_t v[4] = {};
    builder b(binding, klass::request, id);
    b.add(0x0031, v).add(0x8031, v).add(attr::priority, v).add(0x0031, v).add(0x0055, v);
    message m;
    ASSERT_EQ(parse(b.bytes(), m), parse_error::none);
    EXPECT_EQ(m.unknown_required(), (std::vector<std::uint16_t>{0x0031, 0x0055}));
}

TEST(stun_message, classic_rfc3489_request) {
    // RFC 3489: no cookie, a 16-byte transaction id; answered with MAPPED-ADDRESS.
    std::vector<std::uint8_t> req = {0x00, 0x01, 0x00, 0x00};
    for (int i = 0; i < 16; ++i) req.push_back(std::uint8_t(0xA0 + i));
    message m;
    ASSERT_EQ(parse(req, m), parse_error::none);
    EXPECT_TRUE(m.classic());
    builder b(binding, klass::success, m.full_transaction_id());
    b.add_plain_address(attr::mapped_address, v4(127, 0, 0, 1, 4000));
    message r;
    ASSERT_EQ(parse(b.bytes(), r), parse_error::none);
    EXPECT_TRUE(r.classic());
    EXPECT_TRUE(std::equal(r.full_transaction_id().begin(), r.full_transaction_id().end(),
                           req.begin() + 4));
    EXPECT_EQ(r.plain_address(attr::mapped_address), v4(127, 0, 0, 1, 4000));
}

TEST(stun_message, channel_data) {
    std::vector<std::uint8_t> out;
    const std::string_view payload = "hello";
    append_channel_data(out, 0x4001, as_bytes(payload), true);
    EXPECT_EQ(out.size(), 12u);
    auto cd = parse_channel_data(out);
    ASSERT_TRUE(cd);
    EXPECT_EQ(cd->channel, 0x4001);
    EXPECT_EQ(as_string_view(cd->data), payload);
    out.clear();
    append_channel_data(out, 0x4FFF, as_bytes(payload), false);
    EXPECT_EQ(out.size(), 9u);
    EXPECT_FALSE(parse_channel_data(byte_view(out).first(8)));
    out[0] = 0x50;  // 0x5FFF: not an RFC 8656 channel, an RFC 5766 one
    EXPECT_FALSE(parse_channel_data(out));
    EXPECT_TRUE(parse_channel_data(out, true));
    out[0] = 0x7F;  // 0x7FFF: neither
    EXPECT_FALSE(parse_channel_data(out, true));
}

}  // namespace
}  // namespace sy::stun
