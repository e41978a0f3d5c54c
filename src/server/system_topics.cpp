// The sys.* publisher: one timer on loop 0, a subscriber check per topic, a provider called
// only when someone listens (see server/system_topics.hpp).
#include "switchyard/server/system_topics.hpp"

#include <algorithm>
#include <atomic>

#include "switchyard/server/app.hpp"

namespace sy::server {

// One registered topic. `busy` is set on loop 0 when the provider is called and cleared by its
// reply on whichever loop that runs, hence atomic; a tick skips a topic whose reply is due.
struct system_topics::entry {
    std::string topic;  // "sys.<name>"
    provider_fn provider;
    std::atomic<bool> busy{false};
};

void system_topics::add(std::string name, provider_fn provider) {
    auto e = std::make_shared<entry>();
    e->topic = std::string(k_system_prefix) + name;
    e->provider = std::move(provider);
    entries_.push_back(std::move(e));
}

void system_topics::start(runtime& rt, loop_state& loop0, std::uint64_t interval_ms) {
    if (interval_ms == 0 || !loop0.shard || entries_.empty()) return;
    interval_ms_ = std::max(interval_ms, k_min_interval_ms);
    running_ = true;
    timer_ = loop0.loop->add_timer(millis(interval_ms_), [this, &rt, &loop0] { tick(rt, loop0); });
}

void system_topics::stop(loop_state& loop0) {
    running_ = false;
    if (loop0.loop->timer_pending(timer_)) loop0.loop->cancel_timer(timer_);
}

void system_topics::tick(runtime& rt, loop_state& loop0) {
    if (!running_) return;
    timer_ = loop0.loop->add_timer(millis(interval_ms_), [this, &rt, &loop0] { tick(rt, loop0); });
    for (const auto& e : entries_) {
        if (e->busy.load(std::memory_order_acquire)) continue;
        // Answered on loop 0 (the calling shard); with no subscription anywhere, at once.
        loop0.shard->count_subscribers(e->topic, [this, e, &rt](std::uint64_t n) {
            if (n == 0 || !running_) return;
            e->busy.store(true, std::memory_order_relaxed);
            e->provider(rt, [e](std::string json) {
                // The loop the reply arrived on publishes (the hub takes it to the owner).
                if (loop_state* ls = current_loop_state(); ls && ls->shard) {
                    ls->shard->publish(e->topic, "application/json", shared_bytes::copy_of(json),
                                       {}, hub::publish_origin::server);
                }
                e->busy.store(false, std::memory_order_release);
            });
        });
    }
}

std::shared_ptr<system_topics> install_system_topics(app& a) {
    auto sys = std::make_shared<system_topics>();
    sys->add("stats", stats_provider());
    a.on_runtime([sys](runtime& rt) {
        const std::uint64_t ms = rt.config().management.stats_interval_ms;
        rt.on_loop_start([sys, &rt, ms](loop_state& ls) {
            if (ls.index == 0) sys->start(rt, ls, ms);
        });
        rt.on_loop_stop([sys](loop_state& ls) {
            if (ls.index == 0) sys->stop(ls);
        });
    });
    return sys;
}

}  // namespace sy::server
