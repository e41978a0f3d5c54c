// The hub on real threads: one thread per shard running a mutex+condvar task queue (test-only
// executor). Run under TSan too (build-tsan-hub).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "hub_test_support.hpp"

namespace sy::hub {
namespace {

using test::bytes;
using test::recorder;

class thread_executor {
  public:
    explicit thread_executor(unsigned n) : loops_(n) {}
    ~thread_executor() { stop(); }
    post_fn poster() {
        return [this](unsigned s, task t) {
            loop& l = loops_[s];
            {
                std::lock_guard<std::mutex> g(l.mu);
                l.q.push_back(std::move(t));
            }
            l.cv.notify_one();
        };
    }
    void start() {
        for (auto& l : loops_) l.th = std::thread([&l] { run(l); });
    }
    /// Runs f on shard s and waits for it.
    void on(unsigned s, std::function<void()> f) {
        std::promise<void> done;
        poster()(s, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }
    void stop() {
        for (auto& l : loops_) {
            {
                std::lock_guard<std::mutex> g(l.mu);
                l.stop = true;
            }
            l.cv.notify_one();
        }
        for (auto& l : loops_) {
            if (l.th.joinable()) l.th.join();
        }
    }

  private:
    struct loop {
        std::mutex mu;
        std::condition_variable cv;
        std::deque<task> q;
        bool stop = false;
        std::thread th;
    };
    static void run(loop& l) {
        while (true) {
            task t;
            {
                std::unique_lock<std::mutex> g(l.mu);
                l.cv.wait(g, [&] { return l.stop || !l.q.empty(); });
                if (l.q.empty()) return;  // stop requested and drained
                t = std::move(l.q.front());
                l.q.pop_front();
            }
            t();
        }
    }
    std::deque<loop> loops_;
};

// Waits (bounded) until pred() is true; pred is evaluated on shard 0 via `on`.
template <typename Pred>
bool wait_until(Pred pred) {
    for (int i = 0; i < 2000; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

void threaded_fan_out(unsigned shards) {
    SCOPED_TRACE("shards=" + std::to_string(shards));
    thread_executor ex(shards);
    hub h(hub_settings{}, shards, ex.poster());
    ex.start();
    const int per_shard_subs = 3;
    const int msgs_per_shard = 200;
    std::vector<std::unique_ptr<recorder>> recs(shards * per_shard_subs);
    std::vector<subscription_handle> handles(recs.size());
    for (unsigned s = 0; s < shards; ++s) {
        ex.on(s, [&, s] {
            for (int k = 0; k < per_shard_subs; ++k) {
                const std::size_t i = s * per_shard_subs + k;
                recs[i] = std::make_unique<recorder>();
                const char* pat = k == 0 ? "t.a" : (k == 1 ? "t.*" : ">");
                handles[i] = h.shard(s).subscribe(pat, recs[i].get()).value();
            }
        });
    }
    std::atomic<int> acks{0};
    std::atomic<std::uint64_t> reached{0};
    for (unsigned s = 0; s < shards; ++s) {
        h.shard(s);  // reference only
        ex.poster()(s, [&, s] {
            for (int i = 0; i < msgs_per_shard; ++i) {
                h.shard(s).publish(i % 2 ? "t.a" : "t.b", "", bytes("m"), [&](auto r) {
                    ASSERT_TRUE(r.has_value());
                    reached += r->reached;
                    ++acks;
                });
            }
        });
    }
    const int total = static_cast<int>(shards) * msgs_per_shard;
    ASSERT_TRUE(wait_until([&] { return acks.load() == total; }));
    // Every t.a reaches 3 subscribers per shard, every t.b 2.
    EXPECT_EQ(reached.load(), static_cast<std::uint64_t>(shards) * shards *
                                  (msgs_per_shard / 2 * 3 + msgs_per_shard / 2 * 2));
    for (unsigned s = 0; s < shards; ++s)
        ex.on(s, [&, s] {
            for (int k = 0; k < per_shard_subs; ++k) handles[s * per_shard_subs + k].reset();
        });
    ex.stop();
    const std::uint64_t half = static_cast<std::uint64_t>(shards) * msgs_per_shard / 2;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto ids = recs[i]->ids();
        const int k = static_cast<int>(i % per_shard_subs);
        EXPECT_EQ(ids.size(), k == 0 ? half : 2 * half);
        if (k == 0) {
            for (std::size_t j = 0; j < ids.size(); ++j) ASSERT_EQ(ids[j], j + 1);
        }
    }
}

TEST(HubThreads, FanOut1) {
    threaded_fan_out(1);
}
TEST(HubThreads, FanOut2) {
    threaded_fan_out(2);
}
TEST(HubThreads, FanOut4) {
    threaded_fan_out(4);
}

// Resumes while other threads publish: each resumed subscriber ends with since+1..last.
TEST(HubThreads, ResumeWhilePublishing) {
    const unsigned shards = 4;
    thread_executor ex(shards);
    hub h(hub_settings{}, shards, ex.poster());
    ex.start();
    const std::string topic = "res";
    const int per_shard = 150;
    std::atomic<int> acks{0};
    std::vector<std::unique_ptr<recorder>> recs(shards);
    std::vector<subscription_handle> handles(shards);
    for (unsigned s = 0; s < shards; ++s) {
        ex.poster()(s, [&, s] {
            for (int i = 0; i < per_shard; ++i) {
                h.shard(s).publish(topic, "", bytes("m"), [&](auto) { ++acks; });
                if (i == 40 + 10 * static_cast<int>(s)) {
                    recs[s] = std::make_unique<recorder>();
                    handles[s] = h.shard(s)
                                     .subscribe(topic, recs[s].get(), subscribe_options::after(5))
                                     .value();
                }
            }
        });
    }
    ASSERT_TRUE(wait_until([&] { return acks.load() == static_cast<int>(shards) * per_shard; }));
    for (unsigned s = 0; s < shards; ++s) ex.on(s, [&, s] { handles[s].reset(); });
    ex.stop();
    const std::uint64_t last = shards * per_shard;
    for (unsigned s = 0; s < shards; ++s) {
        const auto ids = recs[s]->ids();
        ASSERT_EQ(ids.size(), last - 5) << "shard " << s;
        for (std::size_t j = 0; j < ids.size(); ++j) ASSERT_EQ(ids[j], j + 6);
    }
}

}  // namespace
}  // namespace sy::hub
