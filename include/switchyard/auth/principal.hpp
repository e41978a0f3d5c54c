// principal: who a request (or an AMQP connection) is, and which hub topics it may publish to and
// subscribe to. Made once per token or static user (patterns compiled into small sublists), then
// shared read-only by every request and subscription of that identity.
//
// Contract: immutable after make(); safe to read from any thread. Topic patterns use the hub's
// syntax (hub/topic.hpp: "news.*", "chat.>"); "{sub}" in a pattern expands to the subject before
// compiling, and a pattern that is not valid after expansion grants nothing (a subject with a
// '.' or a byte outside [A-Za-z0-9_-:] cannot be spliced into a topic safely).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/hub/sublist.hpp"

namespace sy::auth {

enum class action : std::uint8_t { publish, subscribe };
std::string_view to_string(action a);

/// One RabbitMQ OAuth 2 scope (`rabbitmq.read:vhost/resource[/routing_key]`), kept as written so
/// the AMQP side can apply it to vhosts, exchanges and queues. Globs: '*' matches any run of
/// bytes (RabbitMQ's wildcard matching), everything else itself.
struct scope_grant {
    enum class kind : std::uint8_t { read, write, configure };
    kind what = kind::read;
    std::string vhost;
    std::string resource;
    std::string routing_key;  // empty: any
};

/// RabbitMQ's scope glob: '*' any run of bytes (possibly empty), every other byte itself.
bool glob_matches(std::string_view glob, std::string_view s);

/// Whether every topic `inner` matches is also matched by `outer` (both valid hub patterns).
/// "chat.>" covers "chat.room.*"; "chat.*" does not cover "chat.>".
bool pattern_covers(std::string_view outer, std::string_view inner);

class principal {
  public:
    struct grants {
        std::vector<std::string> publish;    // hub patterns, "{sub}" allowed
        std::vector<std::string> subscribe;  // hub patterns, "{sub}" allowed
        bool admin = false;
    };

    /// The one way to build a principal: JWT claims (auth::verifier), static AMQP users and the
    /// anonymous rules all come through here. exp: Unix seconds, 0 for no expiry.
    static std::shared_ptr<const principal> make(std::string subject, std::int64_t exp,
                                                 const grants& g,
                                                 std::vector<scope_grant> scopes = {},
                                                 std::vector<std::string> tags = {});

    const std::string& subject() const { return subject_; }
    std::int64_t exp() const { return exp_; }  // Unix seconds; 0: never expires
    bool expired(std::int64_t now_s) const { return exp_ != 0 && now_s >= exp_; }
    bool admin() const { return admin_; }
    /// The RabbitMQ scopes of the token as written (empty for other claim styles).
    const std::vector<scope_grant>& scopes() const { return scopes_; }
    /// RabbitMQ user tags ("administrator", "management", ...): from scopes or a static user.
    const std::vector<std::string>& tags() const { return tags_; }

    /// A concrete topic: one sublist lookup, no allocation.
    bool may(action a, std::string_view topic) const;
    /// A subscription pattern: true only when one granted pattern covers all of it (a wildcard
    /// broader than the grant is refused, never narrowed). A literal goes through may().
    bool may_pattern(action a, std::string_view pattern) const;
    /// The granted patterns after {sub} expansion (diagnostics, docs, tests).
    const std::vector<std::string>& patterns(action a) const;

  private:
    struct compiled {
        std::vector<std::string> patterns;
        hub::sublist<std::uint8_t> list;
    };
    const compiled& of(action a) const { return a == action::publish ? publish_ : subscribe_; }
    static void compile(compiled& c, const std::vector<std::string>& in, std::string_view sub);

    std::string subject_;
    std::int64_t exp_ = 0;
    bool admin_ = false;
    compiled publish_;
    compiled subscribe_;
    std::vector<scope_grant> scopes_;
    std::vector<std::string> tags_;
};

using principal_ptr = std::shared_ptr<const principal>;

}  // namespace sy::auth
