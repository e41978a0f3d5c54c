// presence: who is on a topic. A WebSocket opened with GET /sub/T?presence=NAME is a member
// named NAME of T while it is open (its join and leave messages are published on T as before);
// GET /topics/T/presence lists the names. One interface, two stores:
// - local_presence (this header): this process's members, the store without a backplane;
// - backplane::redis_presence (src/backplane/presence.cpp): every node's members, written to
//   Redis and refreshed with a TTL, so a node that dies drops out after the TTL
//   (docs/scaling.md, "Presence").
//
// Threads: a store is used on one loop only (loop 0); callbacks run there, possibly inline.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/base/unique_function.hpp"

namespace sy::hub {

/// The names present, sorted, each once; nullopt when the store cannot tell (Redis unreachable).
using members_callback = unique_function<void(std::optional<std::vector<std::string>>)>;

class presence_store {
  public:
    virtual ~presence_store() = default;
    /// A member named name joined topic. Counted: the same name joined twice (two sockets)
    /// stays present until it left twice.
    virtual void join(const std::string& topic, const std::string& name) = 0;
    virtual void leave(const std::string& topic, const std::string& name) = 0;
    virtual void members(const std::string& topic, members_callback done) = 0;
};

class local_presence final : public presence_store {
  public:
    /// topic -> name -> how many of this process's sockets hold that name.
    using table =
        std::map<std::string, std::map<std::string, std::size_t, std::less<>>, std::less<>>;

    void join(const std::string& topic, const std::string& name) override { add(topic, name); }
    void leave(const std::string& topic, const std::string& name) override { remove(topic, name); }
    void members(const std::string& topic, members_callback done) override;

    /// True when name was not present on topic before (its first socket).
    bool add(const std::string& topic, const std::string& name);
    /// True when name is no longer present on topic (its last socket left).
    bool remove(const std::string& topic, const std::string& name);
    const table& entries() const { return topics_; }

  private:
    table topics_;
};

}  // namespace sy::hub
