// Single-writer counters: incremented by the owning loop thread only (no locked instruction on the
// hot path), readable from any thread (metrics) without a data race.
#pragma once

#include <atomic>
#include <cstdint>

namespace sy::core {

class counter {
  public:
    /// Owner thread only.
    void add(std::uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /// Owner thread only (for gauges and maxima).
    void set(std::uint64_t v) { v_.store(v, std::memory_order_relaxed); }
    void set_max(std::uint64_t v) {
        if (v > v_.load(std::memory_order_relaxed)) v_.store(v, std::memory_order_relaxed);
    }
    /// Any thread.
    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> v_{0};
};

}  // namespace sy::core
