#include "switchyard/core/thread_pool.hpp"

#include "switchyard/core/loop_group.hpp"

namespace sy::core {

thread_pool::thread_pool(options o) : opts_(std::move(o)) {
    if (opts_.threads == 0) opts_.threads = 1;
    for (std::size_t i = 0; i < opts_.threads; ++i) {
        threads_.emplace_back([this, i] {
            name_current_thread(opts_.name + "-" + std::to_string(i));
            worker();
        });
    }
}

thread_pool::~thread_pool() {
    stop();
}

void thread_pool::stop() {
    {
        std::lock_guard lk(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

std::size_t thread_pool::queued() const {
    std::lock_guard lk(mu_);
    return queue_.size();
}

result<void, submit_error> thread_pool::enqueue(task t) {
    {
        std::lock_guard lk(mu_);
        if (stopping_) return unexpected(submit_error::stopped);
        if (queue_.size() >= opts_.max_queue) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            return unexpected(submit_error::queue_full);
        }
        queue_.push_back(std::move(t));
    }
    cv_.notify_one();
    return {};
}

void thread_pool::worker() {
    for (;;) {
        task t;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            t = std::move(queue_.front());
            queue_.pop_front();
        }
        t();
        completed_.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace sy::core
