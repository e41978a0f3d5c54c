// histogram: an HDR-style log-linear latency histogram (values are non-negative integers,
// nanoseconds in sy-bench).
//
// Layout: values below 2^sub_bits are counted exactly; above that, each power-of-two range
// [2^k, 2^(k+1)) is split into 2^(sub_bits-1) equal buckets, so any recorded value is known to
// within a relative error of 2^-(sub_bits-1) (sub_bits 11: 0.1%). Recording is an index
// computation and an increment (no allocation, no branch on the value's magnitude beyond one
// compare). Values above max_value are clamped to it and counted in saturated().
//
// percentile(p) returns the highest value equivalent to the bucket holding the ceil(p% * count)th
// smallest recorded value (HdrHistogram's convention, an upper bound), clamped to the true max.
//
// Thread: not thread-safe; sy-bench keeps one per loop thread and merges them at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sy::bench {

class histogram {
  public:
    /// sub_bits in [2, 20]; max_value >= 2^sub_bits (rounded up to the bucket that holds it).
    explicit histogram(unsigned sub_bits = 11, std::uint64_t max_value = std::uint64_t{1} << 40);

    void record(std::uint64_t v) { record_n(v, 1); }
    void record_n(std::uint64_t v, std::uint64_t n);
    /// Adds every count of o. Both must have the same sub_bits and max_value (else false).
    bool merge(const histogram& o);
    void reset();

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
    std::uint64_t saturated() const { return saturated_; }
    /// p in [0, 100]. 0 for an empty histogram.
    std::uint64_t percentile(double p) const;

    // ---- layout (public for tests) ----
    std::size_t bucket_count() const { return counts_.size(); }
    std::size_t index_of(std::uint64_t v) const;
    /// Smallest and largest value that map to bucket i.
    std::uint64_t lowest_at(std::size_t i) const;
    std::uint64_t highest_at(std::size_t i) const;
    unsigned sub_bits() const { return sub_bits_; }
    std::uint64_t max_value() const { return max_value_; }

  private:
    unsigned sub_bits_;
    std::uint64_t half_;  // 2^(sub_bits-1): buckets per power of two above the exact range
    std::uint64_t max_value_;
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
    std::uint64_t saturated_ = 0;
};

}  // namespace sy::bench
