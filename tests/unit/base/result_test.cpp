#include "switchyard/base/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sy {
namespace {

enum class err { bad, worse };

result<int, err> parse(bool ok) {
    if (!ok) return unexpected(err::worse);
    return 42;
}

TEST(result, value_and_error) {
    auto a = parse(true);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 42);
    auto b = parse(false);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error(), err::worse);
    EXPECT_EQ(b.value_or(7), 7);
}

TEST(result, void_specialisation) {
    result<void, err> ok;
    EXPECT_TRUE(ok);
    result<void, err> bad = unexpected(err::bad);
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error(), err::bad);
}

TEST(result, move_only_values) {
    result<std::unique_ptr<std::string>, err> r = std::make_unique<std::string>("x");
    ASSERT_TRUE(r);
    auto p = std::move(r).value();
    EXPECT_EQ(*p, "x");
}

}  // namespace
}  // namespace sy
