#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loopback.hpp"
#include "switchyard/core/loop_group.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/kernel_queues.hpp"
#include "switchyard/net/listener.hpp"
#include "switchyard/net/udp_socket.hpp"

using namespace sy;
using namespace sy::net;
using namespace std::chrono_literals;

namespace {
struct echo_handler : connection_handler {
    void on_data(connection& c, byte_buffer& in) override {
        c.write(in.readable());
        in.consume(in.size());
    }
};
}  // namespace

TEST(Address, ParsesV4V6AndRejectsGarbage) {
    auto a = address::parse("127.0.0.1:8080");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->port(), 8080);
    EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
    auto b = address::parse("[::1]:443");
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->is_v6());
    EXPECT_EQ(b->to_string(), "[::1]:443");
    EXPECT_EQ(address::parse(":80")->to_string(), "0.0.0.0:80");
    EXPECT_EQ(address::parse("*:0")->port(), 0);
    EXPECT_EQ(address::parse("localhost:1")->to_string(), "127.0.0.1:1");
    EXPECT_EQ(address::parse("127.0.0.1").error(), address_error::missing_port);
    EXPECT_EQ(address::parse("127.0.0.1:65536").error(), address_error::bad_port);
    EXPECT_EQ(address::parse("127.0.0.1:x").error(), address_error::bad_port);
    EXPECT_EQ(address::parse("1.2.3:80").error(), address_error::bad_host);
    EXPECT_EQ(address::parse("[::1:80").error(), address_error::bad_host);
    EXPECT_EQ(address::parse("[::1]80").error(), address_error::missing_port);
    EXPECT_EQ(address::parse("::1:80").error(), address_error::bad_host);
}

TEST(Listener, BindsPortZeroAndReportsTheRealPort) {
    core::loop loop;
    int accepted = 0;
    address peer;
    auto l = listener::open(loop, *address::parse("127.0.0.1:0"), {}, [&](accepted_socket&& s) {
        ++accepted;
        peer = s.peer;
    });
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_NE((*l)->port(), 0);
    auto c = test::connect_tcp((*l)->port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(test::run_until(loop, [&] { return accepted == 1; }));
    EXPECT_EQ(peer.to_string().rfind("127.0.0.1:", 0), 0u);
    EXPECT_EQ((*l)->stats().accepted.get(), 1u);
}

TEST(Listener, Ipv6Loopback) {
    core::loop loop;
    auto l = listener::open(loop, *address::parse("[::1]:0"), {}, [](accepted_socket&&) {});
    if (!l) GTEST_SKIP() << "no IPv6: " << l.error().message();
    EXPECT_TRUE((*l)->local_address().is_v6());
    EXPECT_NE((*l)->port(), 0);
}

TEST(Listener, AcceptQueueDepthVisibleWhileNotAccepting) {
    core::loop loop;
    listener_options o;
    o.backlog = 8;
    auto l = listener::open(loop, *address::parse("127.0.0.1:0"), o, [](accepted_socket&&) {});
    ASSERT_TRUE(l);
    (*l)->pause();  // the accepting loop is stalled
    std::vector<unique_fd> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(test::connect_tcp((*l)->port()));
    auto q = (*l)->queue_info();
    ASSERT_TRUE(q) << q.error().message();
    EXPECT_EQ(q->length, 3u);
    EXPECT_EQ(q->limit, 8u);
    (*l)->resume();
    ASSERT_TRUE(test::run_until(loop, [&] { return (*l)->stats().accepted.get() == 3; }));
    EXPECT_EQ((*l)->queue_info()->length, 0u);
    auto host = host_listen_stats();
    EXPECT_TRUE(host) << host.error().message();
}

TEST(Listener, AcceptBatchBoundsOneWakeup) {
    core::loop loop;
    listener_options o;
    o.accept_batch = 2;
    int accepted = 0;
    auto l = listener::open(loop, *address::parse("127.0.0.1:0"), o,
                            [&](accepted_socket&&) { ++accepted; });
    ASSERT_TRUE(l);
    std::vector<unique_fd> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(test::connect_tcp((*l)->port()));
    loop.run_once(100);
    EXPECT_EQ(accepted, 2);
    ASSERT_TRUE(test::run_until(loop, [&] { return accepted == 5; }));
}

TEST(Listener, MaxConnectionsRefusesCleanly) {
    core::loop loop;
    connection_limit limit(2);
    connection_list conns;
    listener_options lo;
    lo.limit = &limit;
    connection_options co;
    int refused = 0;
    auto l = listener::open(
        loop, *address::parse("127.0.0.1:0"), lo,
        [&](accepted_socket&& s) {
            connection::create(loop, tcp_stream(std::move(s.fd)), std::make_unique<echo_handler>(),
                               co, std::move(s.slot), &conns);
        },
        [&](accepted_socket&& s) {
            ++refused;
            test::write_all(s.fd.get(), "HTTP/1.1 503 Service Unavailable\r\n\r\n");
        });
    ASSERT_TRUE(l);
    auto c1 = test::connect_tcp((*l)->port());
    auto c2 = test::connect_tcp((*l)->port());
    ASSERT_TRUE(test::run_until(loop, [&] { return limit.current() == 2; }));
    auto c3 = test::connect_tcp((*l)->port());
    ASSERT_TRUE(test::run_until(loop, [&] { return refused == 1; }));
    bool eof = false;
    EXPECT_EQ(test::read_to_eof(c3.get(), &eof), "HTTP/1.1 503 Service Unavailable\r\n\r\n");
    EXPECT_TRUE(eof);
    EXPECT_EQ((*l)->stats().refused.get(), 1u);
    // Closing one frees its slot for a new client.
    c1.reset();
    ASSERT_TRUE(test::run_until(loop, [&] { return limit.current() == 1; }));
    auto c4 = test::connect_tcp((*l)->port());
    ASSERT_TRUE(test::run_until(loop, [&] { return limit.current() == 2; }));
    ASSERT_TRUE(test::write_all(c4.get(), "hi"));
    std::string got;
    ASSERT_TRUE(test::run_until(loop, [&] {
        got += test::read_available(c4.get());
        return got == "hi";
    }));
    EXPECT_EQ(refused, 1);
    conns.close_all(close_mode::immediate);
    loop.run_once(0);
    EXPECT_EQ(limit.current(), 0u);
}

TEST(Listener, SendQueueVisibleWhenPeerDoesNotRead) {
    core::loop loop;
    connection_options co;
    co.high_watermark = 64 * 1024 * 1024;
    connection* conn = nullptr;
    auto l = listener::open(loop, *address::parse("127.0.0.1:0"), {}, [&](accepted_socket&& s) {
        conn = connection::create(loop, tcp_stream(std::move(s.fd)),
                                  std::make_unique<echo_handler>(), co, std::move(s.slot));
    });
    ASSERT_TRUE(l);
    auto client = test::connect_tcp((*l)->port());
    ASSERT_TRUE(test::run_until(loop, [&] { return conn != nullptr; }));
    std::string chunk(1024 * 1024, 's');
    for (int i = 0; i < 8; ++i) conn->write(std::string_view(chunk));
    ASSERT_TRUE(test::run_until(loop, [&] { return conn->queued_bytes() < 8 * chunk.size(); }));
    loop.run_once(20);
    auto info = tcp_info_of(conn->fd());
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_GT(info->send_queue, 0u);
    EXPECT_GT(info->snd_cwnd, 0u);
    EXPECT_EQ(info->state, 1);  // TCP_ESTABLISHED
    auto peer = tcp_info_of(client.get());
    ASSERT_TRUE(peer);
    EXPECT_GT(peer->recv_queue, 0u);  // SIOCINQ: the client has unread bytes
    conn->close(close_mode::immediate);
    loop.run_once(0);
}

// Echo over real loopback sockets: an acceptor loop hands sockets round-robin to two worker
// loops (post), many clients on their own threads.
TEST(Listener, EchoManyClientsAcrossLoops) {
    core::loop_group workers({.threads = 2});
    workers.start();
    io_counters k[2];
    connection_options co[2];
    co[0].counters = &k[0];
    co[1].counters = &k[1];
    std::atomic<int> next{0};
    core::loop acceptor;
    auto l = listener::open(acceptor, *address::parse("127.0.0.1:0"), {}, [&](accepted_socket&& s) {
        std::size_t i = static_cast<std::size_t>(next++) % 2;
        core::loop* wl = &workers.at(i);
        workers.post(i, [wl, o = &co[i], s = std::move(s)]() mutable {
            connection::create(*wl, tcp_stream(std::move(s.fd)), std::make_unique<echo_handler>(),
                               *o);
        });
    });
    ASSERT_TRUE(l);
    std::uint16_t port = (*l)->port();
    std::atomic<bool> done{false};
    std::thread acc([&] {
        while (!done) acceptor.run_once(5);
    });
    constexpr int clients = 32, rounds = 50;
    std::atomic<int> ok{0};
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c) {
        ts.emplace_back([&, c] {
            auto fd = test::connect_tcp(port);
            bool good = static_cast<bool>(fd);
            for (int r = 0; r < rounds && good; ++r) {
                std::string msg = "client " + std::to_string(c) + " round " + std::to_string(r);
                good =
                    test::write_all(fd.get(), msg) && test::read_exact(fd.get(), msg.size()) == msg;
            }
            if (good) ++ok;
        });
    }
    for (auto& t : ts) t.join();
    // Clients closed: every connection sees FIN and closes (default on_peer_closed).
    auto until = sy::now_ms() + 5000;
    while (k[0].closed.get() + k[1].closed.get() < clients && sy::now_ms() < until)
        std::this_thread::sleep_for(1ms);
    done = true;
    acc.join();
    workers.stop();
    EXPECT_EQ(k[0].closed.get() + k[1].closed.get(), static_cast<std::uint64_t>(clients));
    EXPECT_GT(k[0].opened.get(), 0u);
    EXPECT_GT(k[1].opened.get(), 0u);
    EXPECT_EQ(ok.load(), clients);
    EXPECT_EQ(next.load(), clients);
}

TEST(Udp, EchoWithBatchedIo) {
    core::loop loop;
    udp_options o;
    o.batch = 8;
    auto s = udp_socket::bind(loop, *address::parse("127.0.0.1:0"), o,
                              [](udp_socket& sock, std::span<const datagram> batch) {
                                  for (const auto& d : batch) sock.send_to(d.data, *d.peer);
                              });
    ASSERT_TRUE(s) << s.error().message();
    unique_fd client(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    auto to = (*s)->local_address();
    constexpr int n = 50;
    for (int i = 0; i < n; ++i) {
        std::string m = "dgram " + std::to_string(i);
        ASSERT_EQ(::sendto(client.get(), m.data(), m.size(), 0, to.sa(), to.len()),
                  static_cast<ssize_t>(m.size()));
    }
    std::vector<std::string> back;
    ASSERT_TRUE(test::run_until(loop, [&] {
        char buf[128];
        ssize_t r;
        while ((r = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0)
            back.emplace_back(buf, static_cast<std::size_t>(r));
        return back.size() == n;
    }));
    for (int i = 0; i < n; ++i) EXPECT_EQ(back[i], "dgram " + std::to_string(i));
    EXPECT_EQ((*s)->stats().rx_datagrams.get(), static_cast<std::uint64_t>(n));
    EXPECT_LT((*s)->stats().rx_batches.get(), static_cast<std::uint64_t>(n));  // batched
    EXPECT_EQ((*s)->stats().tx_datagrams.get(), static_cast<std::uint64_t>(n));
}

// SO_REUSEPORT groups: the first socket claims the address (bind_address), siblings join it, and
// a claim is refused where any other socket holds the address, even one with SO_REUSEPORT.
namespace {
/// A socket of another program: SO_REUSEPORT (and SO_REUSEADDR) set before bind, like a server
/// that would join any group of its uid; listening when stream.
unique_fd outsider(int type, const address& a) {
    unique_fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (type == SOCK_STREAM) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a.sa(), a.len()) != 0) return {};
    if (type == SOCK_STREAM && ::listen(fd.get(), 8) != 0) return {};
    return fd;
}
}  // namespace

TEST(Listener, ClaimedAddressIsJoinedBySiblingsOnlyAndBalanced) {
    core::loop loop;
    listener_options o;
    o.sharing = port_sharing::claim;
    int accepted[2] = {0, 0};
    auto first = listener::open(loop, *address::parse("127.0.0.1:0"), o,
                                [&](accepted_socket&&) { ++accepted[0]; });
    ASSERT_TRUE(first) << first.error().message();
    const address at = (*first)->local_address();
    o.sharing = port_sharing::join;
    auto second = listener::open(loop, at, o, [&](accepted_socket&&) { ++accepted[1]; });
    ASSERT_TRUE(second) << second.error().message();
    // Another claim (another server starting) and an outsider that sets SO_REUSEPORT: refused.
    o.sharing = port_sharing::claim;
    auto other = listener::open(loop, at, o, [](accepted_socket&&) {});
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, EADDRINUSE);
    EXPECT_EQ(bind_error_text(other.error()), "address already in use");
    o.sharing = port_sharing::exclusive;
    EXPECT_FALSE(listener::open(loop, at, o, [](accepted_socket&&) {}));
    // The claimed socket is part of the kernel's group: connections land on both.
    std::vector<unique_fd> clients;
    for (int i = 0; i < 64; ++i) clients.push_back(test::connect_tcp(at.port()));
    ASSERT_TRUE(test::run_until(loop, [&] { return accepted[0] + accepted[1] == 64; }));
    EXPECT_GT(accepted[0], 0);
    EXPECT_GT(accepted[1], 0);
    // After the group closes, a claim binds again (the server's restart).
    first->reset();
    second->reset();
    auto again = listener::open(loop, at, o, [](accepted_socket&&) {});
    EXPECT_TRUE(again) << again.error().message();
}

TEST(Listener, ClaimIsRefusedWhereAnotherProgramListensWithReuseport) {
    core::loop loop;
    unique_fd held = outsider(SOCK_STREAM, *address::parse("127.0.0.1:0"));
    ASSERT_TRUE(held);
    address at;
    *at.len_ptr() = address::capacity();
    ASSERT_EQ(::getsockname(held.get(), at.sa(), at.len_ptr()), 0);
    listener_options o;
    o.sharing = port_sharing::claim;
    auto l = listener::open(loop, at, o, [](accepted_socket&&) {});
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, EADDRINUSE);
}

TEST(Udp, ClaimedAddressIsJoinedBySiblingsOnly) {
    core::loop loop;
    udp_options o;
    o.sharing = port_sharing::claim;
    auto none = [](udp_socket&, std::span<const datagram>) {};
    auto first = udp_socket::bind(loop, *address::parse("127.0.0.1:0"), o, none);
    ASSERT_TRUE(first) << first.error().message();
    const address at = (*first)->local_address();
    o.sharing = port_sharing::join;
    auto second = udp_socket::bind(loop, at, o, none);
    ASSERT_TRUE(second) << second.error().message();
    o.sharing = port_sharing::claim;
    auto other = udp_socket::bind(loop, at, o, none);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, EADDRINUSE);
    first->reset();
    second->reset();
    unique_fd held = outsider(SOCK_DGRAM, *address::parse("127.0.0.1:0"));
    ASSERT_TRUE(held);
    address busy;
    *busy.len_ptr() = address::capacity();
    ASSERT_EQ(::getsockname(held.get(), busy.sa(), busy.len_ptr()), 0);
    EXPECT_FALSE(udp_socket::bind(loop, busy, o, none));
}

TEST(Listener, EmfileShedsThePendingConnectionAndBacksOff) {
    core::loop loop;
    listener_options o;
    o.emfile_pause = 20ms;
    int accepted = 0;
    auto l = listener::open(loop, *address::parse("127.0.0.1:0"), o,
                            [&](accepted_socket&&) { ++accepted; });
    ASSERT_TRUE(l);
    auto client = test::connect_tcp((*l)->port());  // before the limit: it needs an fd too
    ASSERT_TRUE(client);
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    int open_fds = 0;
    for (int fd = 0; fd < 4096; ++fd)
        if (::fcntl(fd, F_GETFD) >= 0) open_fds = fd + 1;
    std::vector<unique_fd> fillers;  // fill holes below the limit so accept4 really gets EMFILE
    for (;;) {
        unique_fd f(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (f.get() >= open_fds) break;
        fillers.push_back(std::move(f));
    }
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(open_fds);  // no descriptor left
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    loop.run_once(100);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    EXPECT_EQ((*l)->stats().emfile.get(), 1u);
    EXPECT_EQ(accepted, 0);
    bool eof = false;
    test::read_to_eof(client.get(), &eof);
    EXPECT_TRUE(eof);  // shed with a clean close, not left hanging in the queue
    // After the pause, accepting works again.
    auto c2 = test::connect_tcp((*l)->port());
    ASSERT_TRUE(test::run_until(loop, [&] { return accepted == 1; }));
}

// prefork: several processes poll one listening socket. With exclusive_wakeup each registers it
// with EPOLLEXCLUSIVE (one process woken per connection instead of all: the thundering herd);
// such a registration cannot be modified, so pause/resume take it out of the poller and back.
namespace {
/// The events mask the loop's epoll set holds for fd (from /proc/self/fdinfo), or nullopt.
std::optional<unsigned> epoll_events_of(core::loop& l, int fd) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(l.io().native_handle()));
    std::string line;
    while (std::getline(in, line)) {
        unsigned tfd = 0, events = 0;
        if (std::sscanf(line.c_str(), "tfd: %u events: %x", &tfd, &events) == 2 &&
            static_cast<int>(tfd) == fd) {
            return events;
        }
    }
    return std::nullopt;
}
}  // namespace

TEST(Listener, ExclusiveWakeupRegistersWithEpollExclusive) {
    constexpr unsigned k_exclusive = 1u << 28;  // EPOLLEXCLUSIVE
    for (bool exclusive : {true, false}) {
        core::loop loop;
        listener_options o;
        o.exclusive_wakeup = exclusive;
        auto fd = bind_listen_socket(*address::parse("127.0.0.1:0"), o);
        ASSERT_TRUE(fd);
        auto l = listener::adopt(loop, std::move(*fd), o, [](accepted_socket&&) {});
        ASSERT_TRUE(l);
        auto ev = epoll_events_of(loop, (*l)->fd());
        ASSERT_TRUE(ev);
        EXPECT_EQ((*ev & k_exclusive) != 0, exclusive);
        (*l)->pause();
        ev = epoll_events_of(loop, (*l)->fd());
        if (exclusive) {
            EXPECT_FALSE(ev);  // out of the set while paused
        } else {
            ASSERT_TRUE(ev);
            EXPECT_EQ(*ev & 1u, 0u);  // still in, without EPOLLIN
        }
        (*l)->resume();
        ev = epoll_events_of(loop, (*l)->fd());
        ASSERT_TRUE(ev);
        EXPECT_EQ((*ev & k_exclusive) != 0, exclusive);
        EXPECT_NE(*ev & 1u, 0u);  // EPOLLIN again
        auto c = test::connect_tcp((*l)->port());
        ASSERT_TRUE(c);
        ASSERT_TRUE(test::run_until(loop, [&] { return (*l)->stats().accepted.get() == 1; }));
    }
}
