// net::connector: a non-blocking connect that becomes a connection on the loop; refused
// connects report the error from the loop; destroying the connector cancels; backoff.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "switchyard/net/connector.hpp"

using namespace sy;
using namespace sy::net;
using namespace std::chrono_literals;

namespace {

struct quiet : connection_handler {
    int* opens;
    explicit quiet(int* o) : opens(o) {}
    void on_open(connection&) override { ++*opens; }
    void on_data(connection&, byte_buffer& in) override { in.consume(in.size()); }
};

// A listening loopback socket on a free port (accept is left to the kernel's backlog).
struct listening {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    address addr;
    listening() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd, 8), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        addr = address::from_sockaddr(reinterpret_cast<sockaddr*>(&a), len);
    }
    ~listening() { ::close(fd); }
};

TEST(Connector, ConnectsAndHandsOverAConnection) {
    core::loop loop;
    listening srv;
    connection_options opts;
    int opens = 0;
    std::optional<result<connection*, core::os_error>> got;
    auto c = connector::start(loop, srv.addr, 2000ms, std::make_unique<quiet>(&opens), opts,
                              [&](result<connection*, core::os_error> r) { got = r; });
    EXPECT_FALSE(got);  // never inside start()
    for (int i = 0; i < 100 && !got; ++i) loop.run_once(10);
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value()) << got->error().message();
    EXPECT_EQ(opens, 1);  // on_open ran before done
    EXPECT_FALSE(c->pending());
    (**got)->close(close_mode::immediate);
    loop.run_once(0);
}

TEST(Connector, RefusedIsReportedFromTheLoop) {
    core::loop loop;
    address addr;
    {
        listening gone;  // a port nobody listens on any more
        addr = gone.addr;
    }
    connection_options opts;
    int opens = 0;
    std::optional<result<connection*, core::os_error>> got;
    auto c = connector::start(loop, addr, 2000ms, std::make_unique<quiet>(&opens), opts,
                              [&](result<connection*, core::os_error> r) { got = r; });
    EXPECT_FALSE(got);
    for (int i = 0; i < 100 && !got; ++i) loop.run_once(10);
    ASSERT_TRUE(got);
    ASSERT_FALSE(got->has_value());
    EXPECT_EQ(got->error().code, ECONNREFUSED);
    EXPECT_EQ(opens, 0);
}

TEST(Connector, DestroyingCancels) {
    core::loop loop;
    listening srv;
    connection_options opts;
    int opens = 0;
    bool called = false;
    auto c = connector::start(loop, srv.addr, 2000ms, std::make_unique<quiet>(&opens), opts,
                              [&](result<connection*, core::os_error>) { called = true; });
    c.reset();
    for (int i = 0; i < 5; ++i) loop.run_once(10);
    EXPECT_FALSE(called);
    EXPECT_EQ(loop.timer_count(), 0u);  // the deadline timer went with it
}

TEST(Backoff, DoublesUpToTheCeilingAndResets) {
    backoff b{100ms, 500ms};
    EXPECT_EQ(b.next(), 100ms);
    EXPECT_EQ(b.next(), 200ms);
    EXPECT_EQ(b.next(), 400ms);
    EXPECT_EQ(b.next(), 500ms);
    EXPECT_EQ(b.next(), 500ms);
    b.reset();
    EXPECT_EQ(b.next(), 100ms);
}

}  // namespace
