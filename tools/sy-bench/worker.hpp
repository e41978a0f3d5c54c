// worker: the part of a sy-bench run that lives on one event loop: its share of subscribers and
// publishers, their counters and its latency histogram.
//
// THREADS
//   A worker is created on the main thread, then used only on its loop's thread (start(),
//   begin_publishing(), shutdown() arrive as posted tasks), except:
//   * stats() counters are single-writer core::counter: readable from any thread at any time
//     (main prints progress from them; publishers on other loops read delivery totals);
//   * stats().latency is read by the main thread only after the loops were joined.
//   run_shared holds what every loop reads (stop flag, global publish count, first error).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/connection.hpp"

namespace sy::bench {

class worker;
class requester;

/// State shared by every loop of a run (thread-safe members only).
struct run_shared {
    explicit run_shared(const options& o) : opt(o) {}
    const options& opt;
    std::atomic<bool> stop_publishing{false};
    std::atomic<std::uint64_t> sent{0};  // publishes started, all loops (--messages)
    std::atomic<bool> fatal{false};
    std::vector<worker*> workers;       // fixed before the loops start
    std::int64_t publish_start_ns = 0;  // written by main before begin_publishing is posted

    void fail(std::string why);
    std::string first_error() const;
    /// Unique deliveries summed over every loop (any thread).
    std::uint64_t unique_total() const;

  private:
    mutable std::mutex m_;
    std::string first_error_;
};

struct loop_stats {
    explicit loop_stats(std::size_t topics) : ok_per_topic(new core::counter[topics]) {}
    core::counter subs_ready, subs_closed;  // closed: lost after being ready
    core::counter pubs_ready;
    core::counter deliveries, unique, duplicates, foreign;
    core::counter last_delivery_ns;
    core::counter sent, ok, errors, outstanding;
    core::counter window_full;  // rate mode: a scheduled send waited for the window
    core::counter polls;        // long-poll requests sent
    std::unique_ptr<core::counter[]> ok_per_topic;
    histogram latency;  // loop thread; main reads it after join
};

class worker {
  public:
    worker(std::size_t index, core::loop& l, run_shared& sh);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // ---- posted by main (loop thread) ----
    void start();  ///< connects this loop's publishers and subscribers
    void begin_publishing();
    void shutdown();

    // ---- called by handlers (loop thread) ----
    void sub_ready();
    void sub_failed(const std::string& why);
    void sub_closed();
    void pub_ready(requester& r);
    void pub_closed(requester& r, const std::string& why);
    /// A requester got a response and may send again (window mode).
    void pub_progress(requester& r);
    bool may_send();  ///< global limits: stop flag, --messages, --ahead
    bool shutting_down() const { return shutting_down_; }

    const options& opt() const { return sh_.opt; }
    run_shared& shared() { return sh_; }
    loop_stats& stats() { return stats_; }
    const loop_stats& stats() const { return stats_; }
    core::loop& owner() { return loop_; }
    const std::string& pub_target(std::size_t topic) const { return pub_targets_[topic]; }
    const std::string& sub_target(std::size_t topic) const { return sub_targets_[topic]; }

  private:
    void connect_more();
    void connect_sub(std::size_t global_index);
    void connect_pub(std::size_t global_index);
    void tick();
    void schedule_tick();

    std::size_t index_;
    core::loop& loop_;
    run_shared& sh_;
    loop_stats stats_;
    net::connection_options copts_;
    net::connection_list conns_;
    std::vector<std::string> pub_targets_, sub_targets_;
    std::vector<std::size_t> my_subs_;  // global subscriber indices owned by this loop
    std::size_t next_sub_ = 0;
    std::size_t connecting_ = 0;
    std::vector<requester*> pubs_;          // connected publishers (owned by their connections)
    std::vector<std::uint64_t> scheduled_;  // rate mode: sends done per publisher
    bool publishing_ = false;
    bool shutting_down_ = false;
    core::timer_id tick_{};
    bool tick_armed_ = false;
};

}  // namespace sy::bench
