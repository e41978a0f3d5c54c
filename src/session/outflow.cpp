#include "switchyard/session/outflow.hpp"

#include <algorithm>

#include "switchyard/hub/policy.hpp"

namespace sy::session {

outflow_guard::verdict outflow_guard::check(const hub::message& m, std::size_t queued,
                                            hub::subscription_id sub) {
    const hub::topic_policy* p = m.policy;
    if (!p || p->output_cap_bytes == 0) return verdict::send;
    cap_ = p->output_cap_bytes;
    if (queued < cap_) {
        if (!marked_.empty()) recheck(queued, sub);
        return verdict::send;
    }
    switch (p->slow) {
        case hub::slow_policy::drop_oldest: {
            if (m.is_gap()) return verdict::send;  // a gap is tiny and must not be lost
            if (!gap_ || gap_->topic != m.topic) {
                // A second topic (wildcard subscription) restarts the range: one gap names one
                // topic's ids; the count of the earlier topic's losses is kept in `lost`.
                const std::uint64_t carried = gap_ ? gap_->lost : 0;
                gap_ = pending_gap{m.topic, m.id, m.id, carried};
            }
            gap_->to = m.id;
            ++gap_->lost;
            shard_->count_drop();
            if (counters_) counters_->drops.add();
            return verdict::skip;
        }
        case hub::slow_policy::disconnect:
            shard_->count_disconnect();
            if (counters_) counters_->disconnects.add();
            return verdict::disconnect;
        case hub::slow_policy::block_publisher:
            if (std::find(marked_.begin(), marked_.end(), m.topic) == marked_.end()) {
                marked_.push_back(m.topic);
                shard_->set_over_cap(sub, m.topic, true);
                if (counters_) counters_->over_cap.add();
            }
            return verdict::send;
    }
    return verdict::send;
}

std::optional<pending_gap> outflow_guard::take_gap() {
    std::optional<pending_gap> g = std::move(gap_);
    gap_.reset();
    return g;
}

bool outflow_guard::recheck(std::size_t queued, hub::subscription_id sub) {
    if (queued * 2 > cap_) return false;
    for (const std::string& t : marked_) shard_->set_over_cap(sub, t, false);
    marked_.clear();
    return gap_.has_value();
}

}  // namespace sy::session
