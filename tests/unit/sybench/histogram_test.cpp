// sy-bench's log-linear histogram: layout continuity, error bound, percentiles against a sorted
// reference, merge, clamping.
#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using sy::bench::histogram;

TEST(Histogram, EmptyReportsZero) {
    histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(50), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
    histogram h(8);  // exact below 256
    for (std::uint64_t v = 0; v < 256; ++v) {
        EXPECT_EQ(h.index_of(v), v);
        EXPECT_EQ(h.lowest_at(v), v);
        EXPECT_EQ(h.highest_at(v), v);
    }
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    EXPECT_EQ(h.percentile(50), 50u);
    EXPECT_EQ(h.percentile(99), 99u);
    EXPECT_EQ(h.percentile(100), 100u);
    EXPECT_EQ(h.percentile(0), 1u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, BucketsTileWithoutHolesOrOverlap) {
    histogram h(6, 1u << 20);
    for (std::size_t i = 0; i + 1 < h.bucket_count(); ++i) {
        ASSERT_LE(h.lowest_at(i), h.highest_at(i)) << i;
        ASSERT_EQ(h.highest_at(i) + 1, h.lowest_at(i + 1)) << i;
        ASSERT_EQ(h.index_of(h.lowest_at(i)), i);
        ASSERT_EQ(h.index_of(h.highest_at(i)), i);
    }
}

TEST(Histogram, RelativeErrorBound) {
    histogram h(11);
    std::mt19937_64 rng(7);
    for (int n = 0; n < 100000; ++n) {
        std::uint64_t v = rng() >> (24 + rng() % 40);
        std::size_t i = h.index_of(v);
        ASSERT_LE(h.lowest_at(i), v);
        ASSERT_GE(h.highest_at(i), v);
        // Bucket width <= value / 2^(sub_bits-1).
        ASSERT_LE(h.highest_at(i) - h.lowest_at(i), std::max<std::uint64_t>(v >> 10, 0)) << v;
    }
}

TEST(Histogram, PercentilesMatchSortedReference) {
    histogram h;
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(12.0, 1.5);  // ~160 us median, long tail
    std::vector<std::uint64_t> ref;
    for (int n = 0; n < 200000; ++n) {
        auto v = static_cast<std::uint64_t>(dist(rng));
        ref.push_back(v);
        h.record(v);
    }
    std::sort(ref.begin(), ref.end());
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * ref.size()));
        std::uint64_t want = ref[rank - 1];
        std::uint64_t got = h.percentile(p);
        EXPECT_GE(got, want) << p;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(want) * 1.001 + 1) << p;
    }
    EXPECT_EQ(h.percentile(100), ref.back());
    EXPECT_EQ(h.max(), ref.back());
    EXPECT_EQ(h.min(), ref.front());
}

TEST(Histogram, MergeAddsCounts) {
    histogram a, b;
    for (int i = 0; i < 1000; ++i) a.record(1000);
    for (int i = 0; i < 1000; ++i) b.record(3000000);
    ASSERT_TRUE(a.merge(b));
    EXPECT_EQ(a.count(), 2000u);
    EXPECT_EQ(a.percentile(50), 1000u);
    EXPECT_GE(a.percentile(51), 3000000u);
    EXPECT_EQ(a.max(), 3000000u);
    histogram other(8);
    EXPECT_FALSE(a.merge(other));
}

TEST(Histogram, ClampsAboveMax) {
    histogram h(8, 1u << 16);
    h.record(1u << 30);
    EXPECT_EQ(h.saturated(), 1u);
    EXPECT_EQ(h.max(), h.max_value());
    EXPECT_EQ(h.percentile(100), h.max_value());
    h.reset();
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.saturated(), 0u);
}

TEST(Histogram, RecordN) {
    histogram h;
    h.record_n(10, 99);
    h.record_n(5000, 1);
    h.record_n(7, 0);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.percentile(99), 10u);
    EXPECT_EQ(h.percentile(99.5), 5000u);
    EXPECT_EQ(h.min(), 10u);
}
