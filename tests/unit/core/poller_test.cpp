// Both pollers against the contract of switchyard/core/poller.hpp: level-triggered readiness,
// modify() narrowing and widening interest, remove() with fd reuse (no stale event), peer close,
// and a loop (timers, posts) running on each. The io_uring cases skip where the kernel refuses.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/core/loop.hpp"

using namespace sy::core;
using namespace std::chrono_literals;

namespace {

struct recorder final : io_handler {
    std::vector<std::uint32_t> seen;
    void on_io(std::uint32_t events) override { seen.push_back(events); }
};

struct socket_pair {
    int a = -1, b = -1;
    socket_pair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        a = fds[0];
        b = fds[1];
    }
    ~socket_pair() {
        if (a >= 0) ::close(a);
        if (b >= 0) ::close(b);
    }
};

class poller_contract : public ::testing::TestWithParam<poller_kind> {
  protected:
    void SetUp() override {
        std::string why;
        if (GetParam() == poller_kind::io_uring && !io_uring_usable(&why))
            GTEST_SKIP() << "io_uring unavailable: " << why;
        p_ = create_poller(GetParam());
    }
    /// Events for h among up to 16 returned by one wait.
    std::vector<std::uint32_t> wait_for(io_handler* h, int timeout_ms) {
        poll_event evs[16];
        int n = p_->wait(evs, timeout_ms);
        std::vector<std::uint32_t> r;
        for (int i = 0; i < n; ++i)
            if (evs[i].handler == h) r.push_back(evs[i].events);
        return r;
    }
    std::unique_ptr<poller> p_;
};

TEST_P(poller_contract, ReadableStaysReportedUntilDrained) {
    socket_pair s;
    recorder r;
    ASSERT_TRUE(p_->add(s.a, ev::readable, &r));
    EXPECT_TRUE(wait_for(&r, 0).empty());
    ASSERT_EQ(::write(s.b, "hello", 5), 5);
    auto e = wait_for(&r, 1000);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0] & ev::readable);
    char c;
    ASSERT_EQ(::read(s.a, &c, 1), 1);  // 4 bytes left: level-triggered reports it again
    e = wait_for(&r, 1000);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0] & ev::readable);
    char rest[8];
    ASSERT_EQ(::read(s.a, rest, sizeof rest), 4);
    EXPECT_TRUE(wait_for(&r, 20).empty());
    EXPECT_EQ(p_->name(), std::string(GetParam() == poller_kind::epoll ? "epoll" : "io_uring"));
}

TEST_P(poller_contract, ModifyChangesInterest) {
    socket_pair s;
    recorder r;
    ASSERT_TRUE(p_->add(s.a, ev::readable, &r));
    EXPECT_TRUE(wait_for(&r, 0).empty());  // armed: nothing to read
    ASSERT_TRUE(p_->modify(s.a, ev::readable | ev::writable, &r));
    auto e = wait_for(&r, 1000);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0] & ev::writable);
    ASSERT_TRUE(p_->modify(s.a, ev::readable, &r));  // after its event fired (not armed)
    EXPECT_TRUE(wait_for(&r, 20).empty());
    ASSERT_EQ(::write(s.b, "x", 1), 1);
    e = wait_for(&r, 1000);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0] & (ev::readable | ev::writable), ev::readable);
}

TEST_P(poller_contract, RemovedFdReusedGetsNoStaleEvent) {
    recorder old_h, new_h;
    auto s = std::make_unique<socket_pair>();
    ASSERT_TRUE(p_->add(s->a, ev::readable, &old_h));
    EXPECT_TRUE(wait_for(&old_h, 0).empty());
    ASSERT_EQ(::write(s->b, "x", 1), 1);  // completes the armed poll of the old registration
    const int num = s->a;
    ASSERT_TRUE(p_->remove(num));
    s.reset();  // closes both; a new pair may take the same numbers
    socket_pair t;
    ASSERT_EQ(t.a, num);
    ASSERT_TRUE(p_->add(t.a, ev::readable, &new_h));
    poll_event evs[16];
    int n = p_->wait(evs, 20);
    for (int i = 0; i < n; ++i) EXPECT_NE(evs[i].handler, &old_h);
    EXPECT_FALSE(p_->modify(num + 1000, ev::readable, &new_h));  // never added: ENOENT
    EXPECT_FALSE(p_->add(t.a, ev::readable, &new_h));            // already registered: EEXIST
}

TEST_P(poller_contract, PeerCloseIsReported) {
    socket_pair s;
    recorder r;
    ASSERT_TRUE(p_->add(s.a, ev::readable | ev::peer_closed, &r));
    ::close(s.b);
    s.b = -1;
    auto e = wait_for(&r, 1000);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(e[0] & ev::peer_closed);
}

TEST_P(poller_contract, RemovedAndClosedSocketReachesThePeer) {
    socket_pair s;
    recorder r;
    ASSERT_TRUE(p_->add(s.a, ev::readable, &r));
    EXPECT_TRUE(wait_for(&r, 0).empty());
    ASSERT_TRUE(p_->remove(s.a));
    ::close(s.a);
    s.a = -1;
    EXPECT_TRUE(wait_for(&r, 0).empty());  // io_uring: the POLL_REMOVE drops the file here
    char c;
    EXPECT_EQ(::read(s.b, &c, 1), 0);  // EOF, not EAGAIN
}

TEST_P(poller_contract, ForgottenAndClosedSocketReachesThePeerAndItsNumberIsFree) {
    auto s = std::make_unique<socket_pair>();
    recorder r;
    ASSERT_TRUE(p_->add(s->a, ev::readable, &r));
    EXPECT_TRUE(wait_for(&r, 0).empty());
    const int num = s->a;
    p_->forget(num);  // what net::connection does before closing its socket
    ::close(num);
    s->a = -1;
    EXPECT_TRUE(wait_for(&r, 0).empty());
    char c;
    EXPECT_EQ(::read(s->b, &c, 1), 0);  // EOF: the poll no longer holds the file open
    socket_pair t;                      // likely reuses num, as accept() would
    if (t.a == num) {
        EXPECT_TRUE(p_->add(t.a, ev::readable, &r));
    }
}

TEST_P(poller_contract, LoopRunsTimersAndCrossThreadPosts) {
    loop::options o;
    o.poller = GetParam();
    loop l(o);
    EXPECT_EQ(l.io().name(), p_->name());
    std::atomic<int> ran{0};
    bool timer_fired = false;
    l.add_timer(15ms, [&] { timer_fired = true; });
    std::thread producer([&] {
        std::this_thread::sleep_for(30ms);  // the loop is asleep in its wait
        for (int i = 0; i < 100; ++i) l.post([&] { ++ran; });
        l.post([&] { l.stop(); });
    });
    l.run();
    producer.join();
    EXPECT_TRUE(timer_fired);
    EXPECT_EQ(ran.load(), 100);
    EXPECT_GE(l.stats().posts_woken.get(), 1u);
}

INSTANTIATE_TEST_SUITE_P(kinds, poller_contract,
                         ::testing::Values(poller_kind::epoll, poller_kind::io_uring),
                         [](const auto& info) {
                             return std::string(info.param == poller_kind::epoll ? "epoll"
                                                                                 : "io_uring");
                         });

}  // namespace
