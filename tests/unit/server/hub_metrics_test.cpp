// select_topics: which topics get sy_hub_topic_* series (metrics.topics, metrics.topics_top).
#include "switchyard/server/hub_metrics.hpp"

#include <gtest/gtest.h>

namespace sy::server {
namespace {

TEST(HubMetrics, ExactNamesNeedNoListing) {
    topic_selection sel{{"news", "b.c"}, 0};
    EXPECT_FALSE(sel.needs_listing());
    EXPECT_EQ(select_topics(sel, {}), (std::vector<std::string>{"b.c", "news"}));
}

TEST(HubMetrics, PatternsAndTopNChooseFromTheListing) {
    topic_selection sel{{"news", "chat.*"}, 2};
    EXPECT_TRUE(sel.needs_listing());
    EXPECT_TRUE((topic_selection{{}, 1}).needs_listing());
    std::vector<listed_topic> listed = {{"chat.a", 1},   {"chat.b.c", 50}, {"big", 100},
                                        {"bigger", 100}, {"small", 3},     {"news", 7}};
    // chat.* matches chat.a only (one word); the top 2 by publishes tie at 100: by name.
    EXPECT_EQ(select_topics(sel, listed),
              (std::vector<std::string>{"big", "bigger", "chat.a", "news"}));
    sel.top = 10;  // more than listed: every topic
    EXPECT_EQ(select_topics(sel, listed).size(), 6u);
}

}  // namespace
}  // namespace sy::server
