// The Redis backplane's server side: settings from [backplane] and its metric families
// (docs/scaling.md, docs/metrics.md). The bridge itself is src/backplane.
#include <atomic>

#include "switchyard/backplane/backplane.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

namespace {

void register_backplane_metrics(runtime& rt, const backplane::backplane& bp) {
    using metrics::kind;
    using field = std::atomic<std::uint64_t> backplane::counters::*;
    struct family {
        const char* name;
        kind type;
        const char* help;
        field f;
    };
    using c = backplane::counters;
    static const family families[] = {
        {"sy_backplane_publishes_total", kind::counter,
         "Publishes numbered by the Redis script (acknowledged with an id).", &c::publishes},
        {"sy_backplane_publish_failures_total", kind::counter,
         "Publishes refused because Redis was unreachable or failed (503 to the publisher).",
         &c::publish_failures},
        {"sy_backplane_received_total", kind::counter,
         "Channel messages this node took in from Redis.", &c::received},
        {"sy_backplane_subscribe_commands_total", kind::counter,
         "SUBSCRIBE/PSUBSCRIBE commands sent (first local subscriber, or a resubscription).",
         &c::subscribe_commands},
        {"sy_backplane_unsubscribe_commands_total", kind::counter,
         "UNSUBSCRIBE/PUNSUBSCRIBE commands sent (grace period after the last subscriber).",
         &c::unsubscribe_commands},
        {"sy_backplane_channels", kind::gauge, "Channels and patterns subscribed now.",
         &c::channels},
        {"sy_backplane_history_reads_total", kind::counter, "History reads from Redis streams.",
         &c::reads},
        {"sy_backplane_catch_up_total", kind::counter,
         "Messages delivered by catch-up reads after a reconnection.", &c::catch_up},
        {"sy_backplane_reconnects_total", kind::counter, "Reconnections to Redis.", &c::reconnects},
    };
    const backplane::counters* st = &bp.stats();
    for (const family& f : families) {
        rt.metrics().add_value({f.name, f.type, f.help, {}, false},
                               [st, m = f.f] { return (st->*m).load(std::memory_order_relaxed); });
    }
    rt.metrics().add_value(
        {"sy_backplane_up",
         kind::gauge,
         "1 while both Redis links (commands, subscriptions) of every backplane.url are up.",
         {},
         false},
        [b = &bp] { return b->healthy() ? 1u : 0u; });
}

}  // namespace

std::unique_ptr<backplane::backplane> make_backplane(runtime& rt, const server_config& cfg) {
    const backplane_config& c = cfg.backplane;
    if (c.url.empty()) return nullptr;
    if (c.url.size() > 64) throw config_error("backplane.url: at most 64 Redis URLs");
    backplane::settings s;
    for (const std::string& url : c.url) {
        auto ep = backplane::parse_redis_url(url);
        if (!ep) throw config_error(ep.error());
        if (ep->tls) {
            auto tc = net::tls_client::create(
                {ep->host, c.tls_ca_file, c.tls_cert_file, c.tls_key_file, ep->insecure});
            if (!tc) throw config_error("backplane.url " + ep->display + ": " + tc.error());
            ep->tls_client = std::move(*tc);
        }
        s.endpoints.push_back(std::move(*ep));
    }
    s.node_id = !c.node_id.empty() ? c.node_id : (cfg.listen.empty() ? "" : cfg.listen.front());
    s.fallback_local = c.fallback == "local";
    s.grace = millis(c.grace_ms);
    s.connect_timeout = millis(c.connect_timeout_ms);
    s.retry_max = millis(c.retry_max_ms);
    if (c.presence_ttl_ms < 30) throw config_error("backplane.presence_ttl_ms: at least 30");
    s.presence_ttl = millis(c.presence_ttl_ms);
    s.catch_up_topics = c.catch_up_topics;
    auto bp = std::make_unique<backplane::backplane>(std::move(s));
    if (!rt.metrics().contains("sy_backplane_up")) register_backplane_metrics(rt, *bp);
    for (const auto& ep : bp->config().endpoints) {
        log::info("backplane: {} as node {} (fallback {})", ep.display, bp->config().node_id,
                  c.fallback);
    }
    return bp;
}

}  // namespace sy::server
