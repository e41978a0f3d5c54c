// The hub's metric families: sy_hub_* totals and the per-topic sy_hub_topic_* series
// (docs/metrics.md, "Hub"). Registered by the gateway (install_gateway) before the server runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "switchyard/hub/hub.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

/// The largest metrics.topics_top accepted (a start-up error above it).
inline constexpr std::uint64_t k_topics_top_max = 100;

/// One topic of a listing of every hub topic, with what the top-N choice sorts by.
struct listed_topic {
    std::string name;
    std::uint64_t publishes = 0;
};

/// Which topics get their own series: metrics.topics (exact names, or hub patterns with * and
/// >) and the `top` most published (metrics.topics_top, at most 100).
struct topic_selection {
    std::vector<std::string> names;
    std::size_t top = 0;
    /// Patterns or a top N: the choice needs a listing of every topic.
    bool needs_listing() const;
};

/// The topics to gather: the exact names, the listed topics a pattern matches and the top
/// `sel.top` of `listed` by publishes (ties by name); sorted, without duplicates.
std::vector<std::string> select_topics(const topic_selection& sel,
                                       std::vector<listed_topic> listed);

/// Registers the sy_hub_* families in rt.metrics(), and the per-topic ones when metrics.topics or
/// metrics.topics_top ask for them (patterns and the top N choose from hub_shard::list_topics,
/// at scrape time).
void register_hub_metrics(runtime& rt);

}  // namespace sy::server
