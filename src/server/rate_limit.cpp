#include "rate_limit.hpp"

#include <algorithm>

#include "switchyard/core/loop.hpp"

namespace sy::server {

bool rate_windows::allow(std::string_view key, std::int64_t now_ms, std::uint64_t per_second,
                         std::int64_t& retry_after_s) {
    if (per_second == 0) return true;
    if (windows_.size() >= prune_at_) prune(now_ms);
    auto it = windows_.find(key);
    if (it == windows_.end()) it = windows_.emplace(std::string(key), window{now_ms, 0}).first;
    window& w = it->second;
    if (now_ms - w.start_ms >= 1000) w = {now_ms, 0};
    if (w.count >= per_second) {
        retry_after_s = std::max<std::int64_t>(1, (w.start_ms + 1000 - now_ms + 999) / 1000);
        return false;
    }
    ++w.count;
    return true;
}

void rate_windows::prune(std::int64_t now_ms) {
    std::erase_if(windows_, [now_ms](const auto& e) { return now_ms - e.second.start_ms >= 1000; });
    prune_at_ = std::max<std::size_t>(4096, windows_.size() * 2);
}

bool publish_rate_ok(std::string_view peer, std::int64_t& retry_after_s) {
    core::loop* l = core::loop::current();
    rate_tables* t = l ? l->slot<rate_tables>() : nullptr;
    if (!t || t->publish_rate == 0) return true;
    return t->publishes.allow(peer, l->now_ms(), t->publish_rate, retry_after_s);
}

}  // namespace sy::server
