// The write-coalescing policy (net/write_coalescing.hpp) on its own, with made-up times, and on a
// real connection: quiet -> written in its turn; busy -> held up to the delay; caps end the hold.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "fault_stream.hpp"
#include "loopback.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/write_coalescing.hpp"

using namespace sy;
using namespace sy::net;

namespace {

constexpr std::int64_t ms = 1'000'000;

coalesce_limits limits(std::int64_t delay_ns, std::size_t frames = 16,
                       std::size_t bytes = 64 << 10) {
    coalesce_limits l;
    l.delay_ns = delay_ns;
    l.max_frames = frames;
    l.max_bytes = bytes;
    return l;
}

}  // namespace

TEST(WriteCoalescer, FirstOutputIsDueAtOnce) {
    write_coalescer w;
    EXPECT_EQ(w.on_queued(limits(2 * ms), 100 * ms, 0, 1, 10), 100 * ms);
    EXPECT_FALSE(w.holding(100 * ms));
}

TEST(WriteCoalescer, QuietLoopWritesAtOnce) {
    write_coalescer w;
    w.on_written(100 * ms);
    // The loop slept (idle at 150 ms) after this connection's last write: quiet.
    EXPECT_EQ(w.on_queued(limits(2 * ms), 160 * ms, 150 * ms, 1, 10), 160 * ms);
    EXPECT_FALSE(w.holding(160 * ms));
}

TEST(WriteCoalescer, BusyLoopHoldsUpToTheDelayFromTheFirstHeldByte) {
    write_coalescer w;
    w.on_written(100 * ms);
    // No idle sleep since the write (idle at 90 ms): busy, held until 101 + 2 ms.
    EXPECT_EQ(w.on_queued(limits(2 * ms), 101 * ms, 90 * ms, 1, 10), 103 * ms);
    EXPECT_TRUE(w.holding(101 * ms));
    // More output later does not push the deadline back: the delay is a bound.
    EXPECT_EQ(w.on_queued(limits(2 * ms), 102 * ms, 90 * ms, 2, 20), 103 * ms);
    EXPECT_TRUE(w.holding(102 * ms));
    EXPECT_FALSE(w.holding(103 * ms));
    w.on_written(103 * ms);
    EXPECT_EQ(w.due(), 0);
}

TEST(WriteCoalescer, FrameCapEndsTheHold) {
    write_coalescer w;
    w.on_written(100 * ms);
    const auto l = limits(5 * ms, 4);
    EXPECT_GT(w.on_queued(l, 101 * ms, 0, 3, 30), 101 * ms);
    EXPECT_EQ(w.on_queued(l, 101 * ms, 0, 4, 40), 101 * ms);
    EXPECT_FALSE(w.holding(101 * ms));
}

TEST(WriteCoalescer, ByteCapEndsTheHold) {
    write_coalescer w;
    w.on_written(100 * ms);
    const auto l = limits(5 * ms, 16, 1000);
    EXPECT_GT(w.on_queued(l, 101 * ms, 0, 1, 999), 101 * ms);
    EXPECT_EQ(w.on_queued(l, 101 * ms, 0, 2, 1000), 101 * ms);
}

TEST(WriteCoalescer, ZeroDelayNeverHolds) {
    write_coalescer w;
    w.on_written(100 * ms);
    EXPECT_EQ(w.on_queued(limits(0), 100 * ms, 0, 1, 1), 100 * ms);
}

TEST(WriteCoalescer, ReleaseEndsTheHoldNow) {
    write_coalescer w;
    w.on_written(100 * ms);
    EXPECT_TRUE(w.holding(w.on_queued(limits(5 * ms), 100 * ms, 0, 1, 1) - 1));
    w.release(101 * ms);
    EXPECT_FALSE(w.holding(101 * ms));
}

namespace {

struct quiet_handler : connection_handler {
    void on_data(connection&, byte_buffer& in) override { in.consume(in.size()); }
};

struct coalescing_fixture {
    core::loop loop;
    connection_list list;
    connection_options opts;
    io_counters counters;
    test::socket_pair sp = test::make_socket_pair();
    std::shared_ptr<test::fault_plan> plan = std::make_shared<test::fault_plan>();
    connection* c = nullptr;

    explicit coalescing_fixture(coalesce_limits l) {
        opts.counters = &counters;
        opts.coalesce = l;
        c = connection::create(loop, test::fault_stream(std::move(sp.a), plan),
                               std::make_unique<quiet_handler>(), opts, {}, &list);
        c->set_write_coalescing(true);
    }
    ~coalescing_fixture() {
        list.close_all(close_mode::immediate);
        loop.run_once(0);
    }
    // One busy turn (no idle sleep) in which s is queued.
    void busy_turn(const char* s) {
        loop.post([this, s] { c->write(shared_bytes::copy_of(s)); });
        loop.run_once(0);
    }
};

}  // namespace

TEST(WriteCoalescing, QuietIsImmediateBusyIsHeldThenWrittenTogether) {
    coalescing_fixture f(limits(30 * ms));
    f.busy_turn("a");  // never written before: at once
    EXPECT_EQ(f.plan->writevs, 1);
    const auto held_at = std::chrono::steady_clock::now();
    f.busy_turn("b");  // the loop has not slept since: held
    f.busy_turn("c");
    EXPECT_EQ(f.plan->writevs, 1);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.plan->writevs == 2; }));
    EXPECT_GE(std::chrono::steady_clock::now() - held_at, std::chrono::milliseconds(29));
    ASSERT_EQ(f.plan->writev_bytes.size(), 2u);
    EXPECT_EQ(f.plan->writev_bytes[1], 2u);  // "b" and "c" in one writev
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 3), "abc");
    EXPECT_EQ(f.counters.coalesced_writevs.get(), 2u);
}

TEST(WriteCoalescing, AnIdleSleepMakesTheNextMessageImmediate) {
    coalescing_fixture f(limits(200 * ms));
    f.busy_turn("a");
    f.loop.run_once(20);  // nothing to do for 20 ms: the loop was idle
    f.busy_turn("b");
    EXPECT_EQ(f.plan->writevs, 2);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 2), "ab");
}

TEST(WriteCoalescing, FrameCapWritesInTheTurnItIsReached) {
    coalescing_fixture f(limits(500 * ms, 3));
    f.busy_turn("a");
    f.busy_turn("b");
    f.busy_turn("c");
    EXPECT_EQ(f.plan->writevs, 1);
    f.busy_turn("d");  // the third held frame: written now, not in 500 ms
    EXPECT_EQ(f.plan->writevs, 2);
    EXPECT_EQ(f.plan->writev_bytes.back(), 3u);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 4), "abcd");
}

TEST(WriteCoalescing, ByteCapWritesInTheTurnItIsReached) {
    coalescing_fixture f(limits(500 * ms, 100, 8));
    f.busy_turn("a");
    f.busy_turn("bbbb");
    EXPECT_EQ(f.plan->writevs, 1);
    f.busy_turn("cccc");  // 8 bytes held
    EXPECT_EQ(f.plan->writevs, 2);
    EXPECT_EQ(f.plan->writev_bytes.back(), 8u);
}

TEST(WriteCoalescing, CloseAndFlushWriteWhatIsHeld) {
    coalescing_fixture f(limits(500 * ms));
    f.busy_turn("a");
    f.busy_turn("b");
    EXPECT_EQ(f.plan->writevs, 1);
    f.c->flush();
    EXPECT_EQ(f.plan->writevs, 2);
    f.busy_turn("c");
    EXPECT_EQ(f.plan->writevs, 2);
    f.c->close();
    f.loop.run_once(0);
    EXPECT_EQ(f.plan->writevs, 3);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 3), "abc");
}

TEST(WriteCoalescing, OffConnectionsWriteEveryTurn) {
    coalescing_fixture f(limits(500 * ms));
    f.c->set_write_coalescing(false);
    f.busy_turn("a");
    f.busy_turn("b");
    EXPECT_EQ(f.plan->writevs, 2);
    EXPECT_EQ(f.counters.coalesced_writevs.get(), 0u);
}
