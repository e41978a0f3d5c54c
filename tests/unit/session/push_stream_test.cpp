// The push core (session/push_stream.hpp) against a fault-injecting transport: SSE framing over
// the HTTP/1.1 target (tunnel_target over an h1_tunnel over a net::connection whose stream is a
// test::fault_stream), so the slow-subscriber guard sees a real output queue that the test fills
// (EAGAIN writes) and drains, and the peer can reset the connection mid-stream.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>

#include "fault_stream.hpp"
#include "loopback.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/session/h1_tunnel.hpp"
#include "switchyard/session/push_stream.hpp"
#include "switchyard/session/sse_session.hpp"

using namespace sy;
using namespace std::chrono_literals;

namespace {

struct idle_handler : net::connection_handler {
    void on_data(net::connection&, byte_buffer& in) override { in.consume(in.size()); }
};

hub::hub_settings settings(hub::slow_policy p, std::uint64_t cap) {
    hub::hub_settings s;
    s.defaults.slow = p;
    s.defaults.output_cap_bytes = cap;
    return s;
}

struct fixture {
    core::loop loop;
    net::connection_list list;
    net::connection_options opts;  // the connection keeps a reference
    std::shared_ptr<test::fault_plan> plan = std::make_shared<test::fault_plan>();
    test::socket_pair sp = test::make_socket_pair();
    session::push_counters counters;
    std::unique_ptr<hub::hub> h;
    net::connection* conn = nullptr;
    std::string got;  // what the peer read so far

    explicit fixture(hub::hub_settings s) {
        h = std::make_unique<hub::hub>(std::move(s), 1,
                                       [this](unsigned, sy::task t) { loop.post(std::move(t)); });
        conn = net::connection::create(loop, test::fault_stream(std::move(sp.a), plan),
                                       std::make_unique<idle_handler>(), opts, {}, &list);
    }
    ~fixture() {
        list.close_all(net::close_mode::immediate);
        loop.run_once(0);
        loop.run_once(0);
    }
    hub::hub_shard& shard() { return h->shard(0); }

    /// Starts an SSE push stream of `topic` over the connection, as the gateway does on h1.
    bool start(const std::string& topic, millis heartbeat = millis(0),
               std::int64_t expires_at_s = 0) {
        auto tunnel = std::make_shared<session::h1_tunnel>(*conn);
        conn->set_handler(std::make_unique<session::h1_tunnel_handler>(tunnel));
        session::sse_subscription sub;
        sub.pattern = topic;
        sub.heartbeat = heartbeat;
        sub.counters = &counters;
        sub.expires_at_s = expires_at_s;
        return session::start_sse(shard(), session::tunnel_target(tunnel, loop), std::move(sub));
    }
    void publish(const std::string& topic, const std::string& body) {
        shard().publish(topic, "text/plain", shared_bytes::copy_of(body));
        turns(3);
    }
    void turns(int n) {
        for (int i = 0; i < n; ++i) loop.run_once(0);
    }
    void read_peer() { got += test::read_available(sp.b.get()); }
    /// Runs the loop (writes allowed again) until the peer has read `needle`.
    bool until_read(const std::string& needle) {
        return test::run_until(loop, [&] {
            read_peer();
            return got.find(needle) != std::string::npos;
        });
    }
};

/// Non-blocking read of what is there; eof set once the peer (the server side) closed.
std::string read_now(int fd, bool& eof) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) {
            out.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        if (r == 0) eof = true;
        return out;
    }
}

std::string body_of(int i) {
    return "m" + std::to_string(i) + std::string(40, 'x');
}

}  // namespace

TEST(PushStream, DropOldestSkipsWhileOverCapThenSendsOneGap) {
    fixture f(settings(hub::slow_policy::drop_oldest, 100));
    ASSERT_TRUE(f.start("t"));
    ASSERT_TRUE(f.until_read(": ok"));
    f.plan->eagain_writes = 1 << 20;  // the peer stops reading: everything stays queued
    for (int i = 1; i <= 6; ++i) f.publish("t", body_of(i));
    EXPECT_GE(f.conn->queued_bytes(), 100u);
    EXPECT_GT(f.counters.drops.get(), 0u);
    f.plan->eagain_writes = 0;  // drains: the watch timer re-checks and sends the gap
    ASSERT_TRUE(f.until_read("event: gap"));
    f.publish("t", body_of(7));
    ASSERT_TRUE(f.until_read("m7x"));
    // Sent before the cap: m1 and m2 (the queue was below 100 bytes before each); then the gap
    // names what was skipped, then live messages again.
    EXPECT_NE(f.got.find("m1x"), std::string::npos);
    EXPECT_EQ(f.got.find("m6x"), std::string::npos);
    const auto gap = f.got.find("event: gap");
    EXPECT_LT(gap, f.got.find("m7x"));
    EXPECT_NE(f.got.find("\"to\":6", gap), std::string::npos) << f.got;
    EXPECT_EQ(f.counters.gaps_sent.get(), 1u);
    EXPECT_EQ(f.counters.deliveries.get() + f.counters.drops.get(), 7u);
}

TEST(PushStream, DisconnectPolicyEndsTheStreamAndUnsubscribes) {
    fixture f(settings(hub::slow_policy::disconnect, 100));
    ASSERT_TRUE(f.start("d"));
    ASSERT_TRUE(f.until_read(": ok"));
    f.plan->eagain_writes = 1 << 20;
    for (int i = 1; i <= 4; ++i) f.publish("d", body_of(i));
    EXPECT_EQ(f.counters.disconnects.get(), 1u);
    f.plan->eagain_writes = 0;
    // What was queued is flushed, then FIN (the end of an SSE body on HTTP/1.1).
    bool eof = false;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        f.got += read_now(f.sp.b.get(), eof);
        return eof;
    }));
    EXPECT_NE(f.got.find("m1x"), std::string::npos);
    ::shutdown(f.sp.b.get(), SHUT_WR);  // the graceful close completes with the peer's FIN
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.counters.sse_closed.get() == 1; }));
    // No subscriber left: a publish reaches nobody.
    std::uint64_t reached = 99;
    f.shard().publish("d", "text/plain", shared_bytes::copy_of(std::string("x")),
                      [&](result<hub::publish_ack, hub::publish_error>&& r) {
                          if (r) reached = r->reached;
                      });
    f.turns(4);
    EXPECT_EQ(reached, 0u);
}

TEST(PushStream, BlockPublisherRejectsUntilTheQueueDrains) {
    // A real full socket this time (the peer does not read, the send buffer is small), so the
    // queue drains when the peer reads again.
    fixture f(settings(hub::slow_policy::block_publisher, 1000));
    int small = 4096;
    ASSERT_EQ(::setsockopt(f.conn->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    ASSERT_TRUE(f.start("b"));
    ASSERT_TRUE(f.until_read(": ok"));
    const std::string big(2000, 'z');
    for (int i = 1; i <= 20; ++i) f.publish("b", "m" + std::to_string(i) + "x" + big);
    ASSERT_GE(f.conn->queued_bytes(), 1000u);
    EXPECT_EQ(f.counters.over_cap.get(), 1u);
    auto publish_result = [&] {
        std::optional<hub::publish_error> err;
        bool done = false;
        f.shard().publish("b", "text/plain", shared_bytes::copy_of(std::string("y")),
                          [&](result<hub::publish_ack, hub::publish_error>&& r) {
                              done = true;
                              if (!r) err = r.error();
                          });
        EXPECT_TRUE(test::run_until(f.loop, [&] { return done; }));
        return err;
    };
    EXPECT_EQ(publish_result(), hub::publish_error::rejected_over_cap);
    // Publishes after the mark were rejected too; m1 went out.
    const std::uint64_t sent = f.counters.deliveries.get();
    EXPECT_LT(sent, 20u);
    ASSERT_TRUE(test::run_until(f.loop, [&] {  // the peer reads: the queue drains
        f.read_peer();
        return f.conn->queued_bytes() == 0;
    }));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return !publish_result().has_value(); }));
    EXPECT_EQ(f.counters.deliveries.get(), sent + 1);
    EXPECT_NE(f.got.find("m1x"), std::string::npos);
}

TEST(PushStream, PeerResetStopsTheSubscription) {
    fixture f(settings(hub::slow_policy::drop_oldest, 1 << 20));
    ASSERT_TRUE(f.start("r"));
    ASSERT_TRUE(f.until_read(": ok"));
    f.plan->reset_next_write = true;
    f.publish("r", body_of(1));  // the write fails: the connection closes, the target reports it
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.counters.sse_closed.get() == 1; }));
    f.publish("r", body_of(2));
    EXPECT_EQ(f.counters.deliveries.get(), 1u);
}

TEST(PushStream, HeartbeatOnlyWhileNothingIsQueued) {
    fixture f(settings(hub::slow_policy::drop_oldest, 1 << 20));
    ASSERT_TRUE(f.start("h", millis(10)));
    ASSERT_TRUE(f.until_read(": hb"));
    f.plan->eagain_writes = 1 << 20;
    f.publish("h", body_of(1));
    const std::size_t queued = f.conn->queued_bytes();
    ASSERT_GT(queued, 0u);
    const auto until = std::chrono::steady_clock::now() + 60ms;
    while (std::chrono::steady_clock::now() < until) f.loop.run_once(5);
    EXPECT_EQ(f.conn->queued_bytes(), queued);  // no heartbeat piled up behind the message
    f.plan->eagain_writes = 0;
    ASSERT_TRUE(f.until_read("m1x"));
}

TEST(PushStream, RefusedPatternEndsTheStream) {
    fixture f(settings(hub::slow_policy::drop_oldest, 1 << 20));
    EXPECT_FALSE(f.start("a..b"));
    bool eof = false;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        f.got += read_now(f.sp.b.get(), eof);
        return eof;
    }));
    EXPECT_NE(f.got.find(": ok"), std::string::npos);
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.counters.sse_closed.get() == 1; }));
    EXPECT_EQ(f.counters.sse_sessions.get(), 1u);
}

TEST(PushStream, EndsAtTheTokensExpiryWithAnSseErrorEvent) {
    fixture f(settings(hub::slow_policy::drop_oldest, 1 << 20));
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now).count();
    ASSERT_TRUE(f.start("e", millis(0), now_s + 1));
    ASSERT_TRUE(f.until_read(": ok"));
    f.publish("e", "before");
    ASSERT_TRUE(f.until_read("before"));
    // Within about a second: "event: error" then the end of the stream (FIN).
    bool eof = false;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        f.got += read_now(f.sp.b.get(), eof);
        return eof;
    }));
    EXPECT_NE(f.got.find("event: error\ndata: token expired\n\n"), std::string::npos) << f.got;
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.counters.sse_closed.get() == 1; }));
    std::uint64_t reached = 99;
    f.shard().publish("e", "text/plain", shared_bytes::copy_of(std::string("after")),
                      [&](result<hub::publish_ack, hub::publish_error>&& r) {
                          if (r) reached = r->reached;
                      });
    f.turns(4);
    EXPECT_EQ(reached, 0u);  // unsubscribed: nothing reaches the expired subscriber
}
