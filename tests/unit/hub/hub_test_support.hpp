// Test helpers for the hub: a fake multi-shard executor driven by the test, and a recording
// subscriber.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "switchyard/hub/hub.hpp"

namespace sy::hub::test {

/// Per-shard FIFO task queues; the test decides which shard runs next. Single-threaded.
class fake_executor {
  public:
    explicit fake_executor(unsigned shards) : queues_(shards) {}
    post_fn poster() {
        return [this](unsigned shard, task t) { queues_.at(shard).push_back(std::move(t)); };
    }
    bool run_one(unsigned shard) {
        auto& q = queues_.at(shard);
        if (q.empty()) return false;
        task t = std::move(q.front());
        q.pop_front();
        t();
        ++ran_;
        return true;
    }
    /// Runs until every queue is empty, picking a random non-empty shard (seeded) each step and
    /// running a random number (1..3) of its tasks.
    void run_all(std::uint32_t seed) {
        std::mt19937 rng(seed);
        while (true) {
            std::vector<unsigned> ready;
            for (unsigned i = 0; i < queues_.size(); ++i) {
                if (!queues_[i].empty()) ready.push_back(i);
            }
            if (ready.empty()) return;
            const unsigned s = ready[rng() % ready.size()];
            const unsigned n = 1 + rng() % 3;
            for (unsigned i = 0; i < n && run_one(s); ++i) {
            }
        }
    }
    /// Runs a few random steps (does not drain).
    void run_some(std::mt19937& rng, unsigned steps) {
        for (unsigned k = 0; k < steps; ++k) run_one(static_cast<unsigned>(rng() % queues_.size()));
    }
    std::size_t pending() const {
        std::size_t n = 0;
        for (const auto& q : queues_) n += q.size();
        return n;
    }
    std::uint64_t ran() const { return ran_; }

  private:
    std::vector<std::deque<task>> queues_;
    std::uint64_t ran_ = 0;
};

struct received {
    std::string topic;
    std::uint64_t id;
    message_kind kind;
    std::uint64_t gap_from;
    std::uint64_t gap_to;
    std::string payload;
};

class recorder : public subscriber {
  public:
    void on_message(const delivery& d) override {
        const message& m = d.msg();
        got.push_back({m.topic, m.id, m.kind, m.gap_from, m.gap_to, std::string(m.payload.view())});
        if (on_msg) on_msg(d);
    }
    std::vector<std::uint64_t> ids() const {
        std::vector<std::uint64_t> v;
        for (const auto& r : got) {
            if (r.kind == message_kind::data) v.push_back(r.id);
        }
        return v;
    }
    std::vector<received> got;
    std::function<void(const delivery&)> on_msg;
};

inline sy::shared_bytes bytes(std::string_view s) {
    return sy::shared_bytes::copy_of(s);
}

/// Finds a topic name "<prefix><n>" owned by `shard`.
inline std::string topic_on(const hub& h, unsigned shard, const std::string& prefix) {
    for (int n = 0;; ++n) {
        std::string t = prefix + std::to_string(n);
        if (h.owner_of(t) == shard) return t;
    }
}

}  // namespace sy::hub::test
