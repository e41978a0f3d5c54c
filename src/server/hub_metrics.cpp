// The hub's metric families (docs/metrics.md, "Hub"): totals summed from each shard's
// single-writer counters at scrape (hub::totals), and per-topic series for the topics
// metrics.topics names (and, once the hub can list its topics, the patterns there and the
// metrics.topics_top most published), gathered at scrape through hub_shard::stats() the way the
// AMQP figures are: a registry refresh step that answers when every topic's owner did.
#include "switchyard/server/hub_metrics.hpp"

#include <algorithm>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "switchyard/base/log.hpp"
#include "switchyard/hub/topic.hpp"

namespace sy::server {

std::vector<std::string> select_topics(const topic_selection& sel,
                                       std::vector<listed_topic> listed) {
    std::vector<std::string> out;
    for (const auto& n : sel.names) {
        if (hub::is_literal(n)) out.push_back(n);
    }
    for (const auto& t : listed) {
        for (const auto& p : sel.names) {
            if (!hub::is_literal(p) && hub::pattern_matches(p, t.name)) {
                out.push_back(t.name);
                break;
            }
        }
    }
    const std::size_t top = std::min<std::size_t>(sel.top, listed.size());
    std::partial_sort(listed.begin(), listed.begin() + static_cast<std::ptrdiff_t>(top),
                      listed.end(), [](const listed_topic& a, const listed_topic& b) {
                          return a.publishes != b.publishes ? a.publishes > b.publishes
                                                            : a.name < b.name;
                      });
    for (std::size_t i = 0; i < top; ++i) out.push_back(listed[i].name);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

bool topic_selection::needs_listing() const {
    if (top > 0) return true;
    return std::any_of(names.begin(), names.end(),
                       [](const std::string& n) { return !hub::is_literal(n); });
}

namespace {

using metrics::kind;

/// The last gathered per-topic figures: replaced whole by each refresh, read by each render.
struct topic_snapshot {
    std::mutex mu;  // scrape paths only
    std::vector<std::pair<std::string, hub::topic_stats>> topics;
};

/// One refresh: stats() of every selected topic from the scraping loop's shard; done() once
/// all answered (on that loop: stats callbacks run on the calling shard).
void gather_topics(hub::hub_shard& shard, std::vector<std::string> names,
                   const std::shared_ptr<topic_snapshot>& snap, std::function<void()> done) {
    if (names.empty()) {
        std::lock_guard lk(snap->mu);
        snap->topics.clear();
        return done();
    }
    struct pending {
        std::vector<std::pair<std::string, hub::topic_stats>> got;
        std::size_t waiting = 0;
        std::shared_ptr<topic_snapshot> snap;
        std::function<void()> done;
    };
    auto p = std::make_shared<pending>();
    p->waiting = names.size();
    p->snap = snap;
    p->done = std::move(done);
    p->got.resize(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        p->got[i].first = names[i];
        shard.stats(names[i], [p, i](result<hub::topic_stats, hub::topic_error> r) {
            if (r) p->got[i].second = *r;
            if (--p->waiting > 0) return;
            {
                std::lock_guard lk(p->snap->mu);
                p->snap->topics = std::move(p->got);
            }
            auto d = std::move(p->done);
            d();
        });
    }
}

void add_totals(runtime& rt) {
    auto& m = rt.metrics();
    m.add_value(
        {"sy_hub_topics", kind::gauge, "Hub topics (topics are never forgotten).", {}, false},
        [&rt] { return rt.hub().totals().topics; });
    m.add({"sy_hub_subscribers",
           kind::gauge,
           "Hub subscriptions by transport (amqp: one per amq.topic binding pattern; other: "
           "in-process subscribers).",
           {"transport"},
           false},
          [&rt](metrics::emitter& e) {
              const hub::hub_totals t = rt.hub().totals();
              for (std::size_t k = 0; k < hub::subscriber_transport_count; ++k) {
                  e.add({hub::to_string(static_cast<hub::subscriber_transport>(k))},
                        t.subscribers[k]);
              }
          });
    m.add_value({"sy_hub_publishes_total",
                 kind::counter,
                 "Messages accepted by their topic's owner shard.",
                 {},
                 false},
                [&rt] { return rt.hub().totals().publishes; });
    m.add_value({"sy_hub_deliveries_total",
                 kind::counter,
                 "Subscribers reached by hub messages, summed over publishes.",
                 {},
                 false},
                [&rt] { return rt.hub().totals().deliveries; });
    m.add_value({"sy_hub_drops_total",
                 kind::counter,
                 "Messages skipped by drop-oldest subscribers (slow-subscriber policy).",
                 {},
                 false},
                [&rt] { return rt.hub().counters().drops; });
}

/// One per-topic family read from the snapshot.
void add_topic_family(runtime& rt, const std::shared_ptr<topic_snapshot>& snap, const char* name,
                      kind type, const char* help, std::uint64_t hub::topic_stats::*field) {
    rt.metrics().add({name, type, help, {"topic"}, true}, [snap, field](metrics::emitter& e) {
        std::lock_guard lk(snap->mu);
        for (const auto& [topic, st] : snap->topics) e.add({topic}, st.*field);
    });
}

}  // namespace

void register_hub_metrics(runtime& rt) {
    add_totals(rt);
    const metrics_config& mc = rt.config().metrics;
    // Start-up checks (main thread): each series is a label value, so the cap bounds them.
    if (mc.topics_top > k_topics_top_max) {
        throw config_error(fmt::format("metrics.topics_top: {} is above the cap of {}",
                                       mc.topics_top, k_topics_top_max));
    }
    for (const auto& p : mc.topics) {
        if (!hub::validate_pattern(p)) {
            throw config_error(fmt::format("metrics.topics: '{}' is not a topic or pattern", p));
        }
    }
    topic_selection sel{mc.topics, static_cast<std::size_t>(mc.topics_top)};
    if (sel.names.empty() && sel.top == 0) return;
    auto snap = std::make_shared<topic_snapshot>();
    rt.metrics().add_refresh([sel, snap](std::function<void()> done) {
        loop_state* ls = current_loop_state();
        if (!ls || !ls->shard) return done();
        hub::hub_shard* shard = ls->shard;
        if (!sel.needs_listing()) {
            return gather_topics(*shard, select_topics(sel, {}), snap, std::move(done));
        }
        // Patterns and the top N choose from the hub's listing of every topic.
        shard->list_topics([shard, sel, snap,
                            done = std::move(done)](std::vector<hub::topic_info> topics) mutable {
            std::vector<listed_topic> listed;
            listed.reserve(topics.size());
            for (auto& t : topics) listed.push_back({std::move(t.name), t.stats.publishes});
            gather_topics(*shard, select_topics(sel, std::move(listed)), snap, std::move(done));
        });
    });
    using st = hub::topic_stats;
    add_topic_family(rt, snap, "sy_hub_topic_publishes_total", kind::counter,
                     "Messages published to the topic (metrics.topics, metrics.topics_top).",
                     &st::publishes);
    add_topic_family(rt, snap, "sy_hub_topic_deliveries_total", kind::counter,
                     "Subscribers reached by the topic's messages.", &st::deliveries);
    add_topic_family(rt, snap, "sy_hub_topic_subscribers", kind::gauge,
                     "Subscriptions matching the topic, over all loops.", &st::subscribers);
    add_topic_family(rt, snap, "sy_hub_topic_history_messages", kind::gauge,
                     "Messages the topic's history holds for resume.", &st::history_count);
}

}  // namespace sy::server
