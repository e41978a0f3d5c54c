#include <gtest/gtest.h>

#include <array>
#include <memory>

#include "switchyard/base/unique_function.hpp"

namespace sy {
namespace {

TEST(UniqueFunction, InlineAndHeapMoveOnly) {
    auto p = std::make_unique<int>(41);
    unique_function<int(int)> small = [p = std::move(p)](int x) { return *p + x; };
    EXPECT_EQ(small(1), 42);
    std::array<char, 200> big{};
    big[0] = 5;
    unique_function<int()> large = [big, q = std::make_unique<int>(2)] { return big[0] + *q; };
    EXPECT_EQ(large(), 7);
    unique_function<int()> moved = std::move(large);
    EXPECT_FALSE(large);
    EXPECT_EQ(moved(), 7);
    unique_function<int(int)> m2;
    m2 = std::move(small);
    EXPECT_EQ(m2(2), 43);
    EXPECT_FALSE(small);
}

TEST(UniqueFunction, OneCacheLineAndSevenPointersInline) {
    static_assert(sizeof(task) == 64);
    std::array<void*, 7> seven{};
    auto fits = [seven] { (void)seven; };
    static_assert(task::fits_inline<decltype(fits)>());
    std::array<void*, 8> eight{};
    auto spills = [eight] { (void)eight; };
    static_assert(!task::fits_inline<decltype(spills)>());
    int calls = 0;
    task t = [seven, &calls] {
        (void)seven;
        ++calls;
    };
    t();
    EXPECT_EQ(calls, 1);
}

TEST(UniqueFunction, DestroysCaptureOnce) {
    auto counter = std::make_shared<int>(0);
    {
        task t = [c = counter] { ++*c; };
        task u = std::move(t);
        u();
        EXPECT_EQ(counter.use_count(), 2);
        u.reset();
        EXPECT_EQ(counter.use_count(), 1);
    }
    EXPECT_EQ(*counter, 1);
}

}  // namespace
}  // namespace sy
