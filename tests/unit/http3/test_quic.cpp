// The QUIC adapter's stateless parts (proto/http3/quic.hpp): routing facts of packets, server
// connection IDs naming their loop, Version Negotiation, stateless resets, Initial triage.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <vector>

#include "switchyard/proto/http3/quic.hpp"

using namespace sy;
using namespace sy::http3;

namespace {

// A long header (RFC 9000 17.2): first byte, version, DCID length + DCID, SCID length + SCID.
std::vector<std::uint8_t> long_header(std::uint8_t first, std::uint32_t version,
                                      std::vector<std::uint8_t> dcid,
                                      std::vector<std::uint8_t> scid, std::size_t pad) {
    std::vector<std::uint8_t> p{
        first, static_cast<std::uint8_t>(version >> 24), static_cast<std::uint8_t>(version >> 16),
        static_cast<std::uint8_t>(version >> 8), static_cast<std::uint8_t>(version)};
    p.push_back(static_cast<std::uint8_t>(dcid.size()));
    p.insert(p.end(), dcid.begin(), dcid.end());
    p.push_back(static_cast<std::uint8_t>(scid.size()));
    p.insert(p.end(), scid.begin(), scid.end());
    p.resize(p.size() + pad, 0);
    return p;
}

}  // namespace

TEST(Quic, ServerConnectionIdsNameTheirLoop) {
    cid a, b;
    make_cid(a, 3);
    make_cid(b, 3);
    EXPECT_EQ(a.len, k_cid_len);
    EXPECT_EQ(a.data[0], 3);
    EXPECT_FALSE(a == b);  // random after the loop byte
}

TEST(Quic, DecodesShortAndLongHeadersAndRejectsGarbage) {
    cid c;
    make_cid(c, 1);
    std::vector<std::uint8_t> shorth{0x41};
    shorth.insert(shorth.end(), c.data.begin(), c.data.begin() + c.len);
    shorth.resize(60, 0xaa);
    packet_ids ids;
    ASSERT_EQ(decode_ids(shorth, ids), decode_outcome::ok);
    EXPECT_FALSE(ids.long_header);
    EXPECT_TRUE(ids.dcid == c);

    auto initial = long_header(0xc0, 1, {1, 2, 3, 4, 5, 6, 7, 8}, {9, 9}, 1200);
    ASSERT_EQ(decode_ids(initial, ids), decode_outcome::ok);
    EXPECT_TRUE(ids.long_header);
    EXPECT_EQ(ids.version, 1u);
    EXPECT_EQ(ids.dcid.len, 8u);
    EXPECT_EQ(ids.scid.len, 2u);

    auto other = long_header(0xc0, 0x1a2a3a4a, {1, 2, 3, 4, 5, 6, 7, 8}, {9}, 1200);
    EXPECT_EQ(decode_ids(other, ids), decode_outcome::version_negotiation);
    std::uint8_t buf[256];
    const std::size_t n = write_version_negotiation(buf, sizeof buf, ids);
    ASSERT_GT(n, 7u);
    EXPECT_EQ(buf[1] | buf[2] | buf[3] | buf[4], 0);  // version 0: Version Negotiation
    EXPECT_EQ(buf[5], 1);                             // DCID = the client's SCID

    const std::uint8_t empty_cid_len_too_big[] = {0xc0, 0, 0, 0, 1, 40};
    EXPECT_EQ(decode_ids(empty_cid_len_too_big, ids), decode_outcome::bad);
    // Every prefix of a valid Initial header either decodes or is refused; none crashes.
    for (std::size_t i = 0; i < 20; ++i) (void)decode_ids(byte_view(initial.data(), i), ids);
}

TEST(Quic, MissingCertificateIsAStartupError) {
    auto tls = server_tls::load({"/nonexistent.crt", "/nonexistent.key"}, {});
    ASSERT_FALSE(tls);  // a missing certificate is a start-up error naming the file
    EXPECT_NE(tls.error().find("/nonexistent.crt"), std::string::npos) << tls.error();
}
