// amqp_permissions: RabbitMQ's access control on AMQP methods (docs "Access Control", the table
// of configure/write/read per method) against the grant of connection.open. Broker loop only.
// Which method checks what, in RabbitMQ's order, is at the call sites in amqp_channel.cpp.
#include "amqp_internal.hpp"

namespace sy::session {

namespace {
// access_cache keys: resource permissions 0..2, topic permissions 3..5.
std::uint8_t resource_key(amqp_perm p) {
    return static_cast<std::uint8_t>(p);
}
std::uint8_t topic_key(amqp_perm p) {
    return static_cast<std::uint8_t>(3 + static_cast<std::uint8_t>(p));
}

auth::scope_grant::kind scope_kind(amqp_perm p) {
    switch (p) {
        case amqp_perm::configure:
            return auth::scope_grant::kind::configure;
        case amqp_perm::write:
            return auth::scope_grant::kind::write;
        case amqp_perm::read:
            break;
    }
    return auth::scope_grant::kind::read;
}

bool hub_claims(const auth::principal& t) {
    return !t.patterns(auth::action::publish).empty() ||
           !t.patterns(auth::action::subscribe).empty();
}

// A token's rights on a resource. RabbitMQ scopes (rabbitmq.configure:VHOST/NAME, globs) as
// RabbitMQ's OAuth 2 backend reads them; the hub claims (switchyard, mercure) give, in vhost "/",
// amq.topic (write with publish patterns, read with subscribe patterns) and the server-named
// queues a subscriber declares to bind it (amq.gen-*); what they may carry is the topic check.
bool token_allows(const amqp_grant& g, amqp_perm p, std::string_view kind, std::string_view name) {
    const auth::principal& t = *g.token;
    for (const auto& s : t.scopes()) {
        if (s.what == scope_kind(p) && auth::glob_matches(s.vhost, g.vhost) &&
            auth::glob_matches(s.resource, name))
            return true;
    }
    if (g.vhost != "/") return false;
    const bool pub = !t.patterns(auth::action::publish).empty();
    const bool sub = !t.patterns(auth::action::subscribe).empty();
    if (kind == "exchange" && name == "amq.topic")
        return (p == amqp_perm::write && pub) || (p == amqp_perm::read && sub);
    return kind == "queue" && name.starts_with("amq.gen-") && sub;
}

// A token's rights on a routing key of a topic exchange. amq.topic in "/" is the hub's topic
// space: there the hub's one check decides (policy::allowed; a binding is its hub pattern, and a
// wildcard broader than the grant is refused). Elsewhere the scopes' routing-key globs.
bool token_allows_topic(const amqp_grant& g, amqp_perm p, std::string_view exchange,
                        std::string_view key) {
    const auth::principal& t = *g.token;
    if (bridged(exchange, g.vhost)) {
        if (p == amqp_perm::write) return g.policy->allowed(&t, auth::action::publish, key);
        return g.policy->allowed(&t, auth::action::subscribe, hub_pattern(key));
    }
    for (const auto& s : t.scopes()) {
        if (s.what == scope_kind(p) && auth::glob_matches(s.vhost, g.vhost) &&
            auth::glob_matches(s.resource, exchange) &&
            (s.routing_key.empty() || auth::glob_matches(s.routing_key, key)))
            return true;
    }
    return false;
}
}  // namespace

std::optional<amqp_grant> token_grant(auth::principal_ptr token,
                                      std::shared_ptr<const auth::policy> policy,
                                      std::string_view vhost) {
    bool access = vhost == "/" && hub_claims(*token);
    for (const auto& s : token->scopes()) access = access || auth::glob_matches(s.vhost, vhost);
    if (!access) return std::nullopt;
    amqp_grant g;
    g.user = token->subject();
    g.vhost = std::string(vhost);
    g.token = std::move(token);
    g.policy = std::move(policy);
    return g;
}

std::optional<bool> access_cache::find(std::uint8_t what, std::string_view a,
                                       std::string_view b) const {
    for (std::size_t i = 0; i < used_; ++i) {
        const entry& x = e_[i];
        if (x.what == what && x.a == a && x.b == b) return x.ok;
    }
    return std::nullopt;
}

void access_cache::put(std::uint8_t what, std::string_view a, std::string_view b, bool ok) {
    entry& x = e_[next_];
    next_ = (next_ + 1) % e_.size();
    used_ = std::max(used_, next_ == 0 ? e_.size() : next_);
    x.what = what;
    x.ok = ok;
    x.a.assign(a);
    x.b.assign(b);
}

std::optional<amqp_fault> amqp_connection::check(amqp_perm p, std::string_view kind,
                                                 std::string_view name) {
    if (!grant_) return make_fault(403, refused_text(kind, name, vhost_->name, user_));
    // RabbitMQ names the default exchange amq.default in permissions and texts.
    std::string_view subject = kind == "exchange" && name.empty() ? "amq.default" : name;
    // kind is part of the key: a queue and an exchange may share a name.
    auto hit = access_cache_.find(resource_key(p), kind, subject);
    bool ok = hit             ? *hit
              : grant_->token ? token_allows(*grant_, p, kind, subject)
                              : grant_->perm.of(p).matches(subject);
    if (!hit) access_cache_.put(resource_key(p), kind, subject, ok);
    if (ok) return std::nullopt;
    return make_fault(403, refused_text(kind, name, vhost_->name, grant_->user));
}

std::optional<amqp_fault> amqp_connection::check_topic(amqp_perm p, std::string_view exchange,
                                                       std::string_view key) {
    if (!grant_) return make_fault(403, topic_refused_text(key, exchange, vhost_->name, user_));
    const amqp_topic_permission* t = grant_->token ? nullptr : grant_->topic(exchange);
    if (!t && !grant_->token) return std::nullopt;
    auto hit = access_cache_.find(topic_key(p), exchange, key);
    bool ok = hit ? *hit
              : t ? (p == amqp_perm::write ? t->write : t->read).matches(key)
                  : token_allows_topic(*grant_, p, exchange, key);
    if (!hit) access_cache_.put(topic_key(p), exchange, key, ok);
    if (ok) return std::nullopt;
    return make_fault(403, topic_refused_text(key, exchange, vhost_->name, grant_->user));
}

bool amqp_channel::permit(amqp_perm p, std::string_view kind, std::string_view name,
                          std::uint16_t cls, std::uint16_t mth) {
    auto f = conn_.check(p, kind, name);
    if (!f) return true;
    fail(*f, cls, mth);
    return false;
}

bool amqp_channel::permit_topic(amqp_perm p, std::string_view exchange, std::string_view key,
                                std::uint16_t cls, std::uint16_t mth) {
    auto* ex = conn_.server().broker.find_exchange(conn_.vhost(), exchange);
    if (!ex || ex->type != hub::exchange_type::topic) return true;
    auto f = conn_.check_topic(p, exchange, key);
    if (!f) return true;
    fail(*f, cls, mth);
    return false;
}

bool amqp_channel::permit_binding(std::string_view kind, std::string_view destination,
                                  std::string_view source, std::string_view key, std::uint16_t cls,
                                  std::uint16_t mth) {
    return permit(amqp_perm::write, kind, destination, cls, mth) &&
           permit(amqp_perm::read, "exchange", source, cls, mth) &&
           permit_topic(amqp_perm::read, source, key, cls, mth);
}

bool amqp_channel::permit_dead_letter(const std::string& queue, const hub::queue_args& args,
                                      std::uint16_t cls, std::uint16_t mth) {
    if (!args.dead_letter_exchange || conn_.vhost().queues.count(queue)) return true;
    return permit(amqp_perm::read, "queue", queue, cls, mth) &&
           permit(amqp_perm::write, "exchange", *args.dead_letter_exchange, cls, mth);
}

}  // namespace sy::session
