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
}  // namespace

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
    bool ok = hit ? *hit : grant_->perm.of(p).matches(subject);
    if (!hit) access_cache_.put(resource_key(p), kind, subject, ok);
    if (ok) return std::nullopt;
    return make_fault(403, refused_text(kind, name, vhost_->name, grant_->user));
}

std::optional<amqp_fault> amqp_connection::check_topic(amqp_perm p, std::string_view exchange,
                                                       std::string_view key) {
    if (!grant_) return make_fault(403, topic_refused_text(key, exchange, vhost_->name, user_));
    const amqp_topic_permission* t = grant_->topic(exchange);
    if (!t) return std::nullopt;
    auto hit = access_cache_.find(topic_key(p), exchange, key);
    bool ok = hit ? *hit : (p == amqp_perm::write ? t->write : t->read).matches(key);
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
