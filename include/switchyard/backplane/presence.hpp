// redis_presence: presence and per-node topic figures across nodes, on the backplane's Redis
// (docs/scaling.md, "Presence across nodes" and "Topic stats across nodes").
//
// What this node writes, on the Redis holding the topic (backplane::shard_index):
// - sy:p:<topic>, a sorted set: one member "<name>\n<instance>" per name present on this node,
//   scored by its expiry (Redis' clock: now + ttl). A join adds it at once; every ttl/3 loop 0
//   refreshes every name this node holds (one script per topic), and the same script removes
//   what expired and answers the names that left with it, for which this node publishes the
//   leave message a dead node could not. A leave on this node is one ZREM.
// - sy:n:<topic>, a hash: field <instance> = "<subscribers> <expiry>", for every topic this
//   node subscribes to by name, refreshed with the presence (HDEL when the count is 0).
// A node killed with -9 stops refreshing: its names and its figures are gone after the ttl.
// <instance> is backplane.node_id and the process id (prefork children share a node id).
//
// Threads: loop 0 only (the backplane's loop); callbacks run there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/hub/presence.hpp"

namespace sy::backplane {

class backplane;

/// A topic as every node reports it.
struct topic_nodes {
    std::uint64_t epoch = 0;    // the topic's epoch in Redis (0: never published)
    std::uint64_t last_id = 0;  // the last offset Redis assigned
    std::vector<std::pair<std::string, std::uint64_t>> nodes;  // instance, subscribers
};
using nodes_callback = unique_function<void(std::optional<topic_nodes>)>;

class redis_presence final : public hub::presence_store {
  public:
    redis_presence(backplane& bp, millis ttl, std::string instance);
    /// On loop 0 when it starts / stops: the refresh timer.
    void start(core::loop& l);
    void stop();

    void join(const std::string& topic, const std::string& name) override;
    void leave(const std::string& topic, const std::string& name) override;
    /// Every node's names (live entries only); nullopt while the topic's Redis is down.
    void members(const std::string& topic, hub::members_callback done) override;
    /// Every node's subscriber count of topic and the topic's epoch and last id in Redis.
    void topic_figures(const std::string& topic, nodes_callback done);

    const std::string& instance() const { return instance_; }

  private:
    void tick();
    void touch(const std::string& topic, const std::vector<std::string>& names);
    void write_count(const std::string& topic, std::uint64_t subscribers);
    void publish_leave(const std::string& topic, std::string_view name);

    backplane& bp_;
    millis ttl_;
    std::string instance_;
    std::string ttl_text_;
    core::loop* loop_ = nullptr;
    core::timer_id timer_{};
    hub::local_presence mine_;
    std::vector<std::string> counted_;  // topics whose count this node wrote at the last tick
};

}  // namespace sy::backplane
