#include "switchyard/core/loop_group.hpp"

#include <pthread.h>
#include <sched.h>

namespace sy::core {

bool pin_current_thread(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

void name_current_thread(const std::string& name) {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

loop_group::loop_group(options o) : opts_(std::move(o)) {
    if (opts_.threads == 0) opts_.threads = 1;
    loops_.reserve(opts_.threads);
    for (std::size_t i = 0; i < opts_.threads; ++i)
        loops_.push_back(std::make_unique<loop>(opts_.loop_options));
}

loop_group::~loop_group() {
    stop();
}

void loop_group::start(std::function<void(std::size_t, loop&)> on_start) {
    if (running()) return;
    unsigned ncpu = std::thread::hardware_concurrency();
    if (ncpu == 0) ncpu = 1;
    for (std::size_t i = 0; i < loops_.size(); ++i) {
        threads_.emplace_back([this, i, ncpu, on_start] {
            name_current_thread(opts_.name + "-" + std::to_string(i));
            if (opts_.pin_cpus) pin_current_thread((opts_.first_cpu + i) % ncpu);
            loop& l = *loops_[i];
            if (on_start) l.post([&l, i, on_start] { on_start(i, l); });
            l.run();
        });
    }
}

void loop_group::stop() {
    if (!running()) return;
    for (auto& l : loops_) {
        loop* lp = l.get();
        lp->post([lp] { lp->stop(); });
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void loop_group::post_all(const std::function<task(std::size_t)>& make) {
    for (std::size_t i = 0; i < loops_.size(); ++i) loops_[i]->post(make(i));
}

}  // namespace sy::core
