#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "switchyard/hub/presence.hpp"

namespace sy::hub {
namespace {

std::vector<std::string> members_of(local_presence& p, const std::string& topic) {
    std::optional<std::vector<std::string>> got;
    p.members(topic, [&got](std::optional<std::vector<std::string>> m) { got = std::move(m); });
    EXPECT_TRUE(got.has_value());  // the local store always answers, inline
    return got.value_or(std::vector<std::string>{});
}

TEST(LocalPresence, ListsNamesSortedOncePerTopic) {
    local_presence p;
    p.join("room.a", "cat");
    p.join("room.a", "ann");
    p.join("room.a", "ann");
    p.join("room.b", "bob");
    EXPECT_EQ(members_of(p, "room.a"), (std::vector<std::string>{"ann", "cat"}));
    EXPECT_EQ(members_of(p, "room.b"), (std::vector<std::string>{"bob"}));
    EXPECT_TRUE(members_of(p, "room.c").empty());
}

TEST(LocalPresence, NamePresentUntilItsLastSocketLeaves) {
    local_presence p;
    EXPECT_TRUE(p.add("t", "ann"));
    EXPECT_FALSE(p.add("t", "ann"));
    EXPECT_FALSE(p.remove("t", "ann"));
    EXPECT_EQ(members_of(p, "t"), (std::vector<std::string>{"ann"}));
    EXPECT_TRUE(p.remove("t", "ann"));
    EXPECT_TRUE(members_of(p, "t").empty());
    EXPECT_TRUE(p.entries().empty());  // an empty topic is dropped
}

TEST(LocalPresence, LeavingWhatNeverJoinedChangesNothing) {
    local_presence p;
    p.join("t", "ann");
    EXPECT_FALSE(p.remove("t", "bob"));
    EXPECT_FALSE(p.remove("u", "ann"));
    EXPECT_EQ(members_of(p, "t"), (std::vector<std::string>{"ann"}));
}

}  // namespace
}  // namespace sy::hub
