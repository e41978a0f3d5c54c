// policy: the one permission check of every hub entry point (HTTP pub/sub/polls, SSE, WebSocket,
// gRPC Hub, jobs, routes, and the AMQP amq.topic bridge). It holds the verifier and the anonymous
// rules; allowed() answers for a principal, or for an anonymous caller when the principal is null.
//
// Off (no [auth] in the config): everything is allowed, as before the feature. On: a principal
// may what its grants say, plus what the anonymous rules give everyone.
//
// Thread: immutable after construction; shared read-only by every loop (a JWKS refresh builds a
// new policy and hands it to each loop by posting).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "switchyard/auth/jwt.hpp"
#include "switchyard/auth/principal.hpp"

namespace sy::auth {

struct policy_settings {
    bool enabled = false;
    principal::grants anonymous;  // topic patterns that need no token ({sub} is not expanded)
    /// Called by authenticate() when a token's kid names no key (a JWKS URL is fetched again,
    /// server/jwks.cpp). Runs on the caller's thread, any loop: it must be thread-safe and cheap.
    std::function<void()> on_unknown_kid;
};

class policy {
  public:
    /// Disabled: allows everything, verifies nothing.
    policy();
    /// verifier may be null when only anonymous rules are configured (every token is refused).
    policy(std::shared_ptr<const verifier> v, const policy_settings& s);

    bool enabled() const { return enabled_; }

    /// The one check. topic: a concrete topic, or for subscribe a pattern (covered as a whole
    /// by one grant, see principal::may_pattern). Anonymous rules apply to everyone.
    bool allowed(const principal* p, action a, std::string_view topic) const;

    /// Verifies a token (the bytes after "Bearer ", a ?token= value, a cookie value, an AMQP
    /// PLAIN password). Without a verifier every token is malformed. An unknown kid calls
    /// policy_settings::on_unknown_kid before answering.
    result<principal_ptr, verify_error> authenticate(std::string_view token,
                                                     std::int64_t now_s) const;

    const verifier* token_verifier() const { return verifier_.get(); }

    /// When a stream of p must end: exp plus the leeway the verifier allows (0: never).
    std::int64_t deadline_of(const principal& p) const {
        if (p.exp() == 0) return 0;
        return p.exp() + (verifier_ ? verifier_->settings().leeway_s : 0);
    }

  private:
    bool enabled_ = false;
    std::shared_ptr<const verifier> verifier_;
    principal_ptr anonymous_;
    std::function<void()> on_unknown_kid_;
};

/// Unix seconds now (the clock authenticate's callers pass).
std::int64_t unix_now_s();

}  // namespace sy::auth
