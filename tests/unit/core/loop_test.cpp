#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/core/loop_group.hpp"
#include "switchyard/core/thread_pool.hpp"

using namespace sy::core;
using sy::task;
using namespace std::chrono_literals;

TEST(Task, MoveOnlyCaptureAndHeapFallback) {
    auto p = std::make_unique<int>(7);
    int seen = 0;
    task t = [p = std::move(p), &seen] { seen = *p; };
    task u = std::move(t);
    EXPECT_FALSE(t);
    u();
    EXPECT_EQ(seen, 7);
    char big[200] = {1};
    task h = [big, &seen] { seen = big[0] + 1; };
    task h2 = std::move(h);
    h2();
    EXPECT_EQ(seen, 2);
}

TEST(Loop, PostFromManyThreadsKeepsPerProducerOrderAndLosesNothing) {
    loop l;
    constexpr int producers = 4, per = 20000;
    std::vector<int> last(producers, -1);
    int total = 0;
    bool ordered = true;
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p) {
        ts.emplace_back([&, p] {
            for (int i = 0; i < per; ++i) {
                l.post([&, p, i] {
                    if (last[p] != i - 1) ordered = false;
                    last[p] = i;
                    if (++total == producers * per) l.stop();
                });
            }
        });
    }
    l.run();
    for (auto& t : ts) t.join();
    EXPECT_TRUE(ordered);
    EXPECT_EQ(total, producers * per);
    EXPECT_EQ(l.stats().tasks_run.get(), static_cast<std::uint64_t>(producers * per));
}

TEST(Loop, TasksPostedBeforeDestructionAreDestroyed) {
    auto token = std::make_shared<int>(1);
    {
        loop l;
        l.post([token] {});
        EXPECT_EQ(token.use_count(), 2);
    }
    EXPECT_EQ(token.use_count(), 1);
}

TEST(Timers, FireInDeadlineOrderThenInsertionOrder) {
    loop l;
    std::vector<int> order;
    l.add_timer(30ms, [&] { order.push_back(3); });
    l.add_timer(10ms, [&] { order.push_back(1); });
    l.add_timer(20ms, [&] { order.push_back(2); });
    l.add_timer(20ms, [&] { order.push_back(22); });
    l.add_timer(40ms, [&] { l.stop(); });
    l.run();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 22, 3}));
    EXPECT_EQ(l.stats().timers_fired.get(), 5u);
}

TEST(Timers, CancelAndReschedule) {
    loop l;
    std::vector<int> order;
    auto a = l.add_timer(10ms, [&] { order.push_back(1); });
    auto b = l.add_timer(20ms, [&] { order.push_back(2); });
    auto c = l.add_timer(30ms, [&] { order.push_back(3); });
    EXPECT_TRUE(l.cancel_timer(b));
    EXPECT_FALSE(l.cancel_timer(b));  // second cancel is a no-op
    EXPECT_TRUE(l.reschedule_timer(a, 40ms));
    EXPECT_TRUE(l.reschedule_timer(c, 5ms));
    l.add_timer(60ms, [&] { l.stop(); });
    l.run();
    EXPECT_EQ(order, (std::vector<int>{3, 1}));
    EXPECT_FALSE(l.timer_pending(a));
    EXPECT_FALSE(l.cancel_timer(a));  // fired: stale id
}

TEST(Timers, CancelManyKeepsHeapValid) {
    timer_queue q;
    std::vector<timer_id> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(q.add((i * 7919) % 1000, {}));
    for (int i = 0; i < 1000; i += 3) EXPECT_TRUE(q.cancel(ids[i]));
    for (int i = 1; i < 1000; i += 3) EXPECT_TRUE(q.reschedule(ids[i], 5000 - i));
    std::int64_t prev = -1, d;
    task t;
    int n = 0;
    while (q.pop_expired(1'000'000, t, d)) {
        EXPECT_GE(d, prev);
        prev = d;
        ++n;
    }
    EXPECT_EQ(n, 666);
}

TEST(Timers, LagIsMeasured) {
    loop l;
    l.add_timer(1ms, [&] { std::this_thread::sleep_for(20ms); });
    l.add_timer(2ms, [&] { l.stop(); });  // runs late: the first callback slept
    l.run();
    EXPECT_GE(l.stats().timer_lag_max_ns.get(), 10'000'000u);
}

// A handler that closes a peer handler in the same dispatch batch: the peer's event must still
// find live memory (it is freed after the batch) and be ignored.
namespace {
struct pipe_handler final : io_handler {
    loop& l;
    int fd;
    bool closed = false;
    pipe_handler* other = nullptr;
    static inline int alive = 0;
    static inline int stale_events = 0;
    static inline pipe_handler* last_closed = nullptr;
    pipe_handler(loop& lp, int f) : l(lp), fd(f) { ++alive; }
    ~pipe_handler() { --alive; }
    void on_io(std::uint32_t) override {
        if (closed) {
            ++stale_events;
            return;
        }
        char buf[16];
        [[maybe_unused]] auto n = ::read(fd, buf, sizeof buf);
        if (other && !other->closed) other->close();
    }
    void close() {
        closed = true;
        last_closed = this;
        (void)l.io().remove(fd);
        l.destroy_later(std::unique_ptr<pipe_handler>(this));
    }
};
}  // namespace

TEST(Loop, DeferredCloseFreesAfterTheBatch) {
    pipe_handler::alive = pipe_handler::stale_events = 0;
    loop l;
    int a[2], b[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    auto* ha = new pipe_handler(l, a[0]);
    auto* hb = new pipe_handler(l, b[0]);
    ha->other = hb;
    hb->other = ha;
    ASSERT_TRUE(l.io().add(a[0], ev::readable, ha));
    ASSERT_TRUE(l.io().add(b[0], ev::readable, hb));
    ASSERT_EQ(::write(a[1], "x", 1), 1);
    ASSERT_EQ(::write(b[1], "y", 1), 1);
    // Both are ready in one batch: the first closes the second, whose event then arrives stale.
    l.run_once(100);
    EXPECT_EQ(pipe_handler::stale_events, 1);
    EXPECT_EQ(pipe_handler::alive, 1);  // the closed one was freed at the end of the turn
    pipe_handler* survivor = pipe_handler::last_closed == ha ? hb : ha;
    (void)l.io().remove(survivor->fd);
    delete survivor;
    for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST(Loop, BeforeSleepHookRunsOncePerTurn) {
    loop l;
    struct hook : before_sleep_hook {
        int runs = 0;
        void before_sleep() override { ++runs; }
    } h;
    l.post([&] {
        l.schedule_before_sleep(h);
        l.schedule_before_sleep(h);
        l.schedule_before_sleep(h);
    });
    l.run_once(100);
    EXPECT_EQ(h.runs, 1);
    int persistent = 0;
    auto id = l.add_before_sleep([&] { ++persistent; });
    l.run_once(0);
    l.run_once(0);
    l.remove_before_sleep(id);
    l.run_once(0);
    EXPECT_EQ(persistent, 2);
}

TEST(LoopGroup, PostToEachLoopRunsOnItsThread) {
    loop_group g({.threads = 2, .pin_cpus = true});
    std::atomic<int> done{0};
    std::vector<std::thread::id> ids(2);
    g.start([&](std::size_t i, loop& l) {
        ids[i] = std::this_thread::get_id();
        EXPECT_EQ(loop::current(), &l);
        ++done;
    });
    while (done < 2) std::this_thread::yield();
    std::atomic<int> ran{0};
    for (std::size_t i = 0; i < 2; ++i) {
        g.post(i, [&, i] {
            EXPECT_EQ(std::this_thread::get_id(), ids[i]);
            ++ran;
        });
    }
    while (ran < 2) std::this_thread::yield();
    g.stop();
    EXPECT_NE(ids[0], ids[1]);
}

TEST(ThreadPool, ResultComesBackOnTheSubmittingLoopThread) {
    thread_pool pool({.threads = 2, .max_queue = 16});
    loop l;
    std::thread::id loop_thread = std::this_thread::get_id();
    std::vector<int> got;
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(pool.submit(
            l,
            [i] {
                EXPECT_NE(std::this_thread::get_id(), std::thread::id());
                return i * i;
            },
            [&](int v) {
                EXPECT_EQ(std::this_thread::get_id(), loop_thread);
                got.push_back(v);
                if (got.size() == 8) l.stop();
            }));
    }
    l.run();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49}));
}

TEST(ThreadPool, BoundedQueueRejects) {
    thread_pool pool({.threads = 1, .max_queue = 2});
    std::atomic<bool> release{false};
    std::atomic<int> started{0};
    ASSERT_TRUE(pool.execute([&] {
        ++started;
        while (!release) std::this_thread::yield();
    }));
    while (started == 0) std::this_thread::yield();
    EXPECT_TRUE(pool.execute([] {}));
    EXPECT_TRUE(pool.execute([] {}));
    auto r = pool.execute([] {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), submit_error::queue_full);
    EXPECT_EQ(pool.rejected(), 1u);
    release = true;
    pool.stop();
    EXPECT_EQ(pool.completed(), 3u);
    auto r2 = pool.execute([] {});
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error(), submit_error::stopped);
}

namespace {

struct slot_a {
    int v = 1;
};
struct slot_b {
    explicit slot_b(int* d) : dead(d) {}
    ~slot_b() { ++*dead; }
    int* dead;
};

}  // namespace

TEST(loop_slots, typed_slots_are_per_loop_and_found_from_current) {
    sy::core::loop a, b;
    EXPECT_EQ(a.slot<slot_a>(), nullptr);
    slot_a mine{5};
    a.set_slot(&mine);
    EXPECT_EQ(a.slot<slot_a>(), &mine);
    EXPECT_EQ(b.slot<slot_a>(), nullptr);  // one slot per type per loop
    auto& owned = b.emplace_slot<slot_a>();
    EXPECT_EQ(&b.emplace_slot<slot_a>(), &owned);  // emplacing again keeps the first
    int seen = 0;
    a.post([&seen] { seen = sy::core::loop::current()->slot<slot_a>()->v; });
    a.run_once(0);
    EXPECT_EQ(seen, 5);
}

TEST(loop_slots, owned_slots_die_with_the_loop_after_unrun_tasks) {
    int dead = 0;
    int dead_when_task_destroyed = -1;
    {
        sy::core::loop l;
        l.emplace_slot<slot_b>(&dead);
        struct probe {
            sy::core::loop* l;
            int* dead;
            int* out;
            ~probe() {
                if (l) *out = *dead + (l->slot<slot_b>() ? 0 : 100);
            }
        };
        auto p = std::make_shared<probe>(probe{&l, &dead, &dead_when_task_destroyed});
        l.post([p] {});  // never run: destroyed by ~loop
        p.reset();
    }
    EXPECT_EQ(dead, 1);
    EXPECT_EQ(dead_when_task_destroyed, 0);  // the slot was still there
}
