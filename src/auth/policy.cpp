#include "switchyard/auth/policy.hpp"

#include <chrono>

#include "switchyard/hub/topic.hpp"

namespace sy::auth {

std::int64_t unix_now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

policy::policy() = default;

policy::policy(std::shared_ptr<const verifier> v, const policy_settings& s)
    : enabled_(s.enabled),
      verifier_(std::move(v)),
      anonymous_(principal::make("", 0, s.anonymous)),
      on_unknown_kid_(s.on_unknown_kid) {}

bool policy::allowed(const principal* p, action a, std::string_view topic) const {
    if (!enabled_) return true;
    const bool literal = hub::is_literal(topic);
    auto may = [&](const principal& who) {
        return literal ? who.may(a, topic) : who.may_pattern(a, topic);
    };
    if (anonymous_ && may(*anonymous_)) return true;
    return p != nullptr && may(*p);
}

result<principal_ptr, verify_error> policy::authenticate(std::string_view token,
                                                         std::int64_t now_s) const {
    if (!verifier_) return unexpected(verify_error::malformed);
    auto r = verifier_->verify(token, now_s);
    if (!r && r.error() == verify_error::unknown_kid && on_unknown_kid_) on_unknown_kid_();
    return r;
}

}  // namespace sy::auth
