// amqp_access: AMQP users, their password hashes, tags and RabbitMQ's permissions (per-vhost
// configure/write/read regexes and topic permissions). The model is RabbitMQ's internal
// authentication backend (docs: "Access Control", "Passwords and hashing"), so definitions move
// across: a password is stored as rabbit_password_hashing_sha256 (base64 of a 4-byte salt +
// SHA-256(salt + password)) or _sha512, and checked with OpenSSL's EVP digests.
//
// Thread: values. Built on the main thread at start-up (server/amqp_listener.cpp), then only
// read (by the broker loop, and by each loop's management API for HTTP Basic).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/auth/policy.hpp"

namespace sy::session {

/// One permission regex as RabbitMQ matches it (Erlang re:run, not anchored: "^...$" anchors).
/// "" never matches (RabbitMQ: no access); ".*" always matches without running a regex.
/// Copies share the compiled regex.
class amqp_pattern {
  public:
    amqp_pattern() = default;  ///< "" : never matches
    /// Throws std::regex_error on a bad regex (a start-up error naming the setting).
    explicit amqp_pattern(std::string source);
    bool matches(std::string_view s) const;
    const std::string& source() const { return source_; }

  private:
    enum class kind : std::uint8_t { none, all, regex };
    kind kind_ = kind::none;
    std::string source_;
    std::shared_ptr<const std::regex> re_;
};

/// RabbitMQ's three permission kinds (rabbitmqctl set_permissions CONF WRITE READ).
enum class amqp_perm : std::uint8_t { configure, write, read };
std::string_view to_string(amqp_perm p);

/// set_permissions -p vhost user configure write read.
struct amqp_vhost_permission {
    std::string vhost;
    amqp_pattern configure, write, read;
    const amqp_pattern& of(amqp_perm p) const;
};

/// set_topic_permissions -p vhost user exchange write read: regexes on the routing key of
/// publishes (write) and bindings (read) on that topic exchange. An exchange without one is open.
struct amqp_topic_permission {
    std::string vhost;
    std::string exchange;
    amqp_pattern write, read;
};

/// What one identity may do in the vhost of one connection: fixed at connection.open (copied
/// from the user, or built from a token's claims), read per method by the channels.
struct amqp_grant {
    std::string user;
    std::string vhost;
    amqp_vhost_permission perm;
    std::vector<amqp_topic_permission> topics;  ///< this vhost's only
    /// Set for a JWT password: the token's grants decide (scopes, or the switchyard / mercure
    /// claims on amq.topic through policy->allowed), not perm and topics.
    auth::principal_ptr token;
    std::shared_ptr<const auth::policy> policy;
    /// The topic permission of exchange, or nullptr (no restriction).
    const amqp_topic_permission* topic(std::string_view exchange) const;
};

enum class amqp_hashing : std::uint8_t { sha256, sha512 };

/// One static user (amqp.users, amqp.user_tags, amqp.permissions, amqp.topic_permissions).
struct amqp_user {
    std::string name;
    amqp_hashing hashing = amqp_hashing::sha256;
    std::string password_hash;  ///< decoded: 4-byte salt + digest (never the password)
    std::vector<std::string> tags;
    bool loopback_only = false;  ///< guest: like RabbitMQ's loopback_users
    std::vector<amqp_vhost_permission> permissions;
    std::vector<amqp_topic_permission> topic_permissions;

    bool has_tag(std::string_view tag) const;
    /// RabbitMQ's management login: administrator, monitoring, policymaker or management.
    bool may_manage() const;
    /// This user's permission in vhost, or nullptr (RabbitMQ: no access to the vhost).
    const amqp_vhost_permission* permission(std::string_view vhost) const;
    /// The grant of vhost (nullopt: no permission there).
    std::optional<amqp_grant> grant(std::string_view vhost) const;
};

/// The hashing algorithm named as in RabbitMQ's definitions ("rabbit_password_hashing_sha256"),
/// or nullopt.
std::optional<amqp_hashing> parse_hashing(std::string_view name);
/// salt + digest(salt + password): RabbitMQ's rabbit_password:salted_hash.
std::string salted_hash(amqp_hashing h, std::string_view salt, std::string_view password);
/// A fresh random 4-byte salt (OpenSSL RAND_bytes) and its salted hash.
std::string hash_password(amqp_hashing h, std::string_view password);
/// Constant-time comparison of password against u's stored hash.
bool check_password(const amqp_user& u, std::string_view password);

/// The users when none is configured: guest/guest from loopback only, tagged administrator, with
/// ".*" on every vhost (RabbitMQ's default user on its default vhost).
std::vector<amqp_user> default_users(const std::vector<std::string>& vhosts);

/// The one credential check of AMQP users (PLAIN/AMQPLAIN and the management API's HTTP Basic
/// share it): the user, or nullptr when the name is unknown, the password wrong, or a
/// loopback_only user (guest) connects from elsewhere. The pointer is into users.
const amqp_user* authenticate_user(const std::vector<amqp_user>& users, std::string_view user,
                                   std::string_view pass, bool loopback);

/// RabbitMQ's ACCESS_REFUSED detail for a resource: "access to queue 'q' in vhost '/' refused
/// for user 'u'" (kind: "queue" | "exchange"; the default exchange is named amq.default).
std::string refused_text(std::string_view kind, std::string_view name, std::string_view vhost,
                         std::string_view user);
/// ... and for a topic: "access to topic 'k' in exchange 'amq.topic' in vhost '/' refused for
/// user 'u'".
std::string topic_refused_text(std::string_view key, std::string_view exchange,
                               std::string_view vhost, std::string_view user);

}  // namespace sy::session
