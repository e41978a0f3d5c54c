// system_topics: the server publishes its own figures on hub topics under the reserved prefix
// "sys." (sys.stats, and whatever else is registered: sys.queues, sys.topics, sys.connections),
// so a dashboard gets them the way any client gets any topic (SSE, WebSocket, gRPC, AMQP
// amq.topic). Clients cannot publish there: the hub refuses a client publish under the prefix
// (hub_settings::reserved_prefixes, publish_error::reserved_topic) on every transport.
//
// Mechanism: one timer on loop 0, every management.stats_interval_ms. Each tick, for each
// registered provider, the hub is asked whether sys.<name> has a subscriber
// (hub_shard::count_subscribers: no post at all when no shard holds a subscription); only then
// is the provider called and its JSON published. With nobody subscribed a tick costs a few
// relaxed loads per provider, so an idle server pays ~nothing.
//
// Threads: add() before run() (app::on_runtime or earlier); providers are called on loop 0 and
// may answer on any loop thread (a gatherer that posts to other loops answers where it
// finishes); the answer is published from the loop it arrives on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/unique_function.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

class app;

/// The reserved prefix of the server's own topics.
inline constexpr std::string_view k_system_prefix = "sys.";

class system_topics {
  public:
    /// Takes the JSON document to publish (one per tick); callable once, on any loop thread.
    using reply_fn = unique_function<void(std::string json)>;
    /// Produces sys.<name>'s document; called on loop 0 only while the topic has subscribers.
    using provider_fn = std::function<void(runtime& rt, reply_fn reply)>;

    /// Registers sys.<name> (name: one topic token, e.g. "queues"). Before run().
    void add(std::string name, provider_fn provider);

    /// Loop 0's thread, from the runtime's loop-start hook: arms the timer (interval_ms 0: off).
    void start(runtime& rt, loop_state& loop0, std::uint64_t interval_ms);
    /// Loop 0's thread, at shutdown: cancels the timer (no provider is called afterwards).
    void stop(loop_state& loop0);

    /// The shortest period accepted: a smaller setting is raised to it.
    static constexpr std::uint64_t k_min_interval_ms = 100;

  private:
    struct entry;
    void tick(runtime& rt, loop_state& loop0);

    std::vector<std::shared_ptr<entry>> entries_;
    std::uint64_t interval_ms_ = 0;
    core::timer_id timer_{};
    bool running_ = false;
};

/// Installs the sys.* publisher on a with sys.stats registered (docs/dashboard.md lists its
/// fields). The returned object lives as long as a; add more providers to it before run():
///     auto sys = sy::server::install_system_topics(app);
///     sys->add("queues", [](runtime& rt, system_topics::reply_fn r) { r(queues_json(rt)); });
std::shared_ptr<system_topics> install_system_topics(app& a);

/// The sys.stats provider (one JSON object built from the metrics registry and per-loop
/// figures; rates from counter deltas since its previous call). Loop 0 only.
system_topics::provider_fn stats_provider();

}  // namespace sy::server
