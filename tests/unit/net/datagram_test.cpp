// The datagram seam below the runtime: the first-byte demultiplexer, the flow registry, and the
// UDP socket's metadata (IP_PKTINFO, ECN) and trains (GSO on send, GRO on receive).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "loopback.hpp"
#include "switchyard/net/datagram.hpp"

using namespace sy;
using namespace sy::net;

namespace {

std::unique_ptr<udp_socket> bound(core::loop& loop, udp_options o, udp_socket::receive_fn fn) {
    auto s = udp_socket::bind(loop, *address::parse("127.0.0.1:0"), o, std::move(fn));
    EXPECT_TRUE(s);
    return s ? std::move(*s) : nullptr;
}

unique_fd client_socket() {
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
    return fd;
}

void send_bytes(int fd, const address& to, const std::string& m) {
    ASSERT_EQ(::sendto(fd, m.data(), m.size(), 0, to.sa(), to.len()),
              static_cast<ssize_t>(m.size()));
}

struct test_flow final : datagram_flow {
    int shutdowns = 0;
    int closes = 0;
    void begin_shutdown() override { ++shutdowns; }
    void close_now() override {
        ++closes;
        leave();
    }
    std::string_view protocol() const override { return "test"; }
    std::string peer_text() const override { return "127.0.0.1:1"; }
};

}  // namespace

TEST(DatagramDemux, RoutesByFirstByteAndRefusesOverlaps) {
    datagram_demux d;
    std::vector<std::string> seen;
    const first_byte_range stun[] = {k_stun_bytes};
    const first_byte_range quic[] = {k_quic_short_bytes, k_quic_long_bytes};
    ASSERT_TRUE(d.claim(stun, [&](udp_socket&, const datagram& g) {
        seen.push_back("stun:" + std::to_string(g.data[0]));
    }));
    ASSERT_TRUE(d.claim(quic, [&](udp_socket&, const datagram& g) {
        seen.push_back("quic:" + std::to_string(g.data[0]));
    }));
    const first_byte_range overlap[] = {{3, 5}};
    EXPECT_FALSE(d.claim(overlap, [](udp_socket&, const datagram&) {}));
    EXPECT_EQ(d.find(4), nullptr);  // a refused claim takes nothing
    EXPECT_NE(d.find(0), nullptr);
    EXPECT_NE(d.find(3), nullptr);
    EXPECT_NE(d.find(64), nullptr);
    EXPECT_NE(d.find(127), nullptr);
    EXPECT_EQ(d.find(128), nullptr);  // RTP/RTCP: nobody here
    EXPECT_NE(d.find(0xc3), nullptr);

    core::loop loop;
    auto s = bound(loop, {}, [](udp_socket&, std::span<const datagram>) {});
    address peer = address::ipv4_loopback(9);
    const std::uint8_t b0[] = {0x00, 1}, b1[] = {0x40}, b2[] = {0xc0, 0, 0, 0, 1}, b3[] = {0x80};
    const datagram batch[] = {{byte_view(b0), &peer},
                              {byte_view(b1), &peer},
                              {byte_view(b2), &peer},
                              {byte_view(b3), &peer},
                              {byte_view(), &peer}};
    d.dispatch(*s, batch);
    EXPECT_EQ(seen, (std::vector<std::string>{"stun:0", "quic:64", "quic:192"}));
    EXPECT_EQ(s->stats().rx_unclaimed.get(), 1u);
    EXPECT_EQ(s->stats().rx_empty.get(), 1u);
}

TEST(DatagramFlows, JoinCountsLimitsAndShutsDown) {
    connection_limit limit(2);
    io_counters io;
    datagram_flow_list list;
    test_flow a, b, c;
    EXPECT_TRUE(a.join(list, &limit, &io));
    EXPECT_TRUE(b.join(list, &limit, &io));
    EXPECT_FALSE(c.join(list, &limit, &io));  // the limit is shared with TCP connections
    EXPECT_FALSE(c.joined());
    EXPECT_EQ(list.size(), 2u);
    EXPECT_EQ(limit.current(), 2u);
    EXPECT_EQ(io.opened.get(), 2u);
    list.drain();
    EXPECT_TRUE(list.draining());
    EXPECT_EQ(a.shutdowns + b.shutdowns, 2);
    a.leave();  // ended on its own after the notification
    EXPECT_EQ(limit.current(), 1u);
    EXPECT_EQ(io.closed.get(), 1u);
    list.close_all();
    EXPECT_EQ(b.closes, 1);
    EXPECT_EQ(a.closes, 0);
    EXPECT_EQ(list.size(), 0u);
    EXPECT_EQ(limit.current(), 0u);
    EXPECT_EQ(io.closed.get(), 2u);
    {
        test_flow d;
        EXPECT_TRUE(d.join(list, &limit, &io));
    }  // destroyed: left the list
    EXPECT_EQ(list.size(), 0u);
    EXPECT_EQ(limit.current(), 0u);
}

TEST(Udp, ReportsDestinationAddressAndEcn) {
    core::loop loop;
    udp_options o;
    o.pktinfo = true;
    o.ecn = true;
    std::vector<std::pair<std::string, int>> got;
    auto s = udp_socket::bind(loop, *address::parse("0.0.0.0:0"), o,
                              [&](udp_socket& sock, std::span<const datagram> batch) {
                                  for (const auto& d : batch) {
                                      got.emplace_back(d.local ? d.local->to_string() : "-", d.ecn);
                                      send_meta m;
                                      m.ecn = 1;  // ECT(1)
                                      m.from = d.local;
                                      sock.send_to(d.data, *d.peer, m);
                                  }
                              });
    ASSERT_TRUE(s);
    const std::uint16_t port = (*s)->local_address().port();
    auto to = address::ipv4_loopback(port);
    unique_fd c = client_socket();
    int tos = 2;  // ECT(0)
    ASSERT_EQ(::setsockopt(c.get(), IPPROTO_IP, IP_TOS, &tos, sizeof tos), 0);
    int on = 1;
    ASSERT_EQ(::setsockopt(c.get(), IPPROTO_IP, IP_RECVTOS, &on, sizeof on), 0);
    send_bytes(c.get(), to, "hello");
    ASSERT_TRUE(test::run_until(loop, [&] { return !got.empty(); }));
    EXPECT_EQ(got[0].first, "127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(got[0].second, 2);
    // The reply carries the ECN codepoint asked for, from the address the client used.
    char buf[64];
    char ctl[64];
    iovec iov{buf, sizeof buf};
    sockaddr_in from{};
    msghdr h{};
    h.msg_name = &from;
    h.msg_namelen = sizeof from;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = ctl;
    h.msg_controllen = sizeof ctl;
    ssize_t r = -1;
    ASSERT_TRUE(test::run_until(loop, [&] {
        r = ::recvmsg(c.get(), &h, MSG_DONTWAIT);
        return r > 0;
    }));
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(r)), "hello");
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), INADDR_LOOPBACK);
    int seen_tos = -1;
    for (cmsghdr* m = CMSG_FIRSTHDR(&h); m; m = CMSG_NXTHDR(&h, m)) {
        if (m->cmsg_level == IPPROTO_IP && m->cmsg_type == IP_TOS) seen_tos = *CMSG_DATA(m);
    }
    EXPECT_EQ(seen_tos & 3, 1);
}

TEST(Udp, GsoTrainLeavesAsDatagramsAndGroSplitsItBack) {
    core::loop loop;
    // Receiver with GRO: a train sent with GSO over loopback arrives whole and is split here.
    udp_options ro;
    ro.gro = true;
    ro.max_datagram = 65535;
    ro.batch = 4;
    std::vector<std::string> got;
    auto rx = bound(loop, ro, [&](udp_socket&, std::span<const datagram> batch) {
        for (const auto& d : batch)
            got.emplace_back(reinterpret_cast<const char*>(d.data.data()), d.data.size());
    });
    ASSERT_TRUE(rx);
    auto tx = bound(loop, {}, [](udp_socket&, std::span<const datagram>) {});
    ASSERT_TRUE(tx);
    std::string train;
    for (int i = 0; i < 5; ++i) train += std::string(100, static_cast<char>('a' + i));
    train += "tail";  // a shorter last segment
    send_meta m;
    m.segment = 100;
    ASSERT_TRUE(tx->send_to(as_bytes(train), rx->local_address(), m));
    tx->flush();
    ASSERT_TRUE(test::run_until(loop, [&] { return got.size() == 6; }));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], std::string(100, static_cast<char>('a' + i)));
    EXPECT_EQ(got[5], "tail");
    EXPECT_EQ(tx->stats().tx_datagrams.get(), 6u);
    if (!tx->has_gso() || !rx->has_gro()) GTEST_SKIP() << "kernel without UDP GSO/GRO";
    EXPECT_EQ(tx->stats().tx_gso_trains.get(), 1u);
    EXPECT_EQ(tx->stats().tx_batches.get(), 1u);  // one sendmmsg entry for six datagrams
    EXPECT_EQ(rx->stats().rx_gro_trains.get(), 1u);
    EXPECT_EQ(rx->stats().rx_datagrams.get(), 6u);
}
