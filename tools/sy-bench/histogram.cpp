#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sy::bench {

histogram::histogram(unsigned sub_bits, std::uint64_t max_value)
    : sub_bits_(std::clamp(sub_bits, 2u, 20u)),
      half_(std::uint64_t{1} << (sub_bits_ - 1)),
      max_value_(std::max(max_value, std::uint64_t{1} << sub_bits_)) {
    counts_.assign(index_of(max_value_) + 1, 0);
}

std::size_t histogram::index_of(std::uint64_t v) const {
    if (v < 2 * half_) return static_cast<std::size_t>(v);
    // msb >= sub_bits: shift so the value keeps sub_bits significant bits; sub is in
    // [half, 2*half), so consecutive shifts tile the index space without holes.
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - (sub_bits_ - 1);
    const std::uint64_t sub = v >> shift;
    return static_cast<std::size_t>(shift * half_ + sub);
}

std::uint64_t histogram::lowest_at(std::size_t i) const {
    if (i < 2 * half_) return i;
    const std::uint64_t shift = i / half_ - 1;
    const std::uint64_t sub = i - shift * half_;
    return sub << shift;
}

std::uint64_t histogram::highest_at(std::size_t i) const {
    if (i < 2 * half_) return i;
    const std::uint64_t shift = i / half_ - 1;
    const std::uint64_t sub = i - shift * half_;
    return ((sub + 1) << shift) - 1;
}

void histogram::record_n(std::uint64_t v, std::uint64_t n) {
    if (n == 0) return;
    if (v > max_value_) {
        v = max_value_;
        saturated_ += n;
    }
    counts_[index_of(v)] += n;
    count_ += n;
    sum_ += v * n;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
}

bool histogram::merge(const histogram& o) {
    if (o.sub_bits_ != sub_bits_ || o.max_value_ != max_value_) return false;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    saturated_ += o.saturated_;
    if (o.count_) {
        min_ = std::min(min_, o.min_);
        max_ = std::max(max_, o.max_);
    }
    return true;
}

void histogram::reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = sum_ = max_ = saturated_ = 0;
    min_ = ~std::uint64_t{0};
}

std::uint64_t histogram::percentile(double p) const {
    if (count_ == 0) return 0;
    p = std::clamp(p, 0.0, 100.0);
    // Rank of the wanted value (1-based); p = 0 asks for the minimum.
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(highest_at(i), min_, max_);
    }
    return max_;
}

}  // namespace sy::bench
