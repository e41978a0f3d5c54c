// loop_group: N loops on N threads (one loop per thread), optionally pinned to CPUs.
//
// Thread: construct, start(), stop() and the destructor from one controlling thread (main).
// post(i, t) is thread-safe (it is loop::post). at(i) gives the loop; touch its non-post members
// only from inside tasks running on it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/core/loop.hpp"

namespace sy::core {

class loop_group {
  public:
    struct options {
        std::size_t threads = 1;
        bool pin_cpus = false;  ///< pin loop i to CPU (first_cpu + i) % hardware_concurrency
        unsigned first_cpu = 0;
        std::string name = "sy-loop";  ///< thread names become name-<i> (max 15 chars)
        loop::options loop_options;
    };

    explicit loop_group(options o);
    ~loop_group();  ///< stop() + join
    loop_group(const loop_group&) = delete;
    loop_group& operator=(const loop_group&) = delete;

    /// Starts the threads. on_start(i, loop) runs first on each loop thread (set up listeners...).
    void start(std::function<void(std::size_t, loop&)> on_start = {});
    /// Posts stop to every loop and joins the threads. Idempotent.
    void stop();

    std::size_t size() const { return loops_.size(); }
    loop& at(std::size_t i) { return *loops_[i]; }
    /// Thread-safe.
    void post(std::size_t i, task t) { loops_[i]->post(std::move(t)); }
    /// Thread-safe: calls make(i) on the caller's thread for each loop and posts the result.
    void post_all(const std::function<task(std::size_t)>& make);
    bool running() const { return !threads_.empty(); }

  private:
    options opts_;
    std::vector<std::unique_ptr<loop>> loops_;
    std::vector<std::thread> threads_;
};

/// Pins the calling thread to one CPU. False if the kernel refused (e.g. CPU offline / cgroup).
bool pin_current_thread(unsigned cpu);
/// Names the calling thread (shown in top/perf); truncated to 15 characters.
void name_current_thread(const std::string& name);

}  // namespace sy::core
