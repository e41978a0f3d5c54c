// sy-bench payload markers and URL templates.
#include "payload.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace sy::bench;

TEST(Payload, RoundTripAndPadding) {
    std::string s;
    write_payload(s, {3, 42, 123456789012345}, 100);
    EXPECT_EQ(s.size(), 100u);
    EXPECT_EQ(s.substr(0, 26), "SYB3.42.123456789012345;xx");
    marker m;
    ASSERT_TRUE(parse_marker(s, m));
    EXPECT_EQ(m.publisher, 3u);
    EXPECT_EQ(m.seq, 42u);
    EXPECT_EQ(m.send_ns, 123456789012345);
    std::string small;
    write_payload(small, {0, 1, 5}, 1);  // never truncated below the marker
    EXPECT_EQ(small, "SYB0.1.5;");
}

TEST(Payload, ScanFindsMarkersInsideWrappers) {
    std::string body = R"({"id":7,"data":")";
    write_payload(body, {1, 7, 99}, 0);
    body += R"("} and SYB2.8.100; SYBjunk SYB1.2. SYB1.2.3)";
    std::vector<marker> got;
    EXPECT_EQ(scan_payloads(body, [&](const marker& m) { got.push_back(m); }), 2u);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 7u);
    EXPECT_EQ(got[0].send_ns, 99);
    EXPECT_EQ(got[1].publisher, 2u);
    EXPECT_EQ(got[1].seq, 8u);
}

TEST(Payload, MalformedMarkersRejected) {
    marker m;
    for (const char* bad : {"SYB", "SYB1", "SYB1.2", "SYB1.2.3", "SYB.1.2;", "SYBa.1.2;",
                            "SYB1..2;", "XYB1.2.3;", "SYB1.2.3:"})
        EXPECT_FALSE(parse_marker(bad, m)) << bad;
}

TEST(Payload, ExpandUrl) {
    EXPECT_EQ(expand_url("/pub/{topic}", "t1"), "/pub/t1");
    EXPECT_EQ(expand_url("/pub?id={topic}", "chan"), "/pub?id=chan");
    EXPECT_EQ(expand_url("/{topic}/x/{topic}", "a"), "/a/x/a");
    EXPECT_EQ(expand_url("/static", "a"), "/static");
    EXPECT_EQ(topic_name("bench.", 12), "bench.12");
}
