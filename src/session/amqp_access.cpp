// amqp_access: users, password hashes and permission regexes (see amqp_access.hpp).
#include "switchyard/session/amqp_access.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace sy::session {

// ---- patterns ----

amqp_pattern::amqp_pattern(std::string source) : source_(std::move(source)) {
    if (source_.empty()) {
        kind_ = kind::none;
    } else if (source_ == ".*" || source_ == "^.*" || source_ == "^.*$" || source_ == ".*$") {
        kind_ = kind::all;  // the common "everything": no regex per check
    } else {
        kind_ = kind::regex;
        re_ = std::make_shared<const std::regex>(source_, std::regex::ECMAScript);
    }
}

bool amqp_pattern::matches(std::string_view s) const {
    switch (kind_) {
        case kind::none:
            return false;
        case kind::all:
            return true;
        case kind::regex:
            break;
    }
    // Not anchored, as Erlang's re:run in rabbit_auth_backend_internal.
    return std::regex_search(s.begin(), s.end(), *re_);
}

std::string_view to_string(amqp_perm p) {
    switch (p) {
        case amqp_perm::configure:
            return "configure";
        case amqp_perm::write:
            return "write";
        case amqp_perm::read:
            break;
    }
    return "read";
}

const amqp_pattern& amqp_vhost_permission::of(amqp_perm p) const {
    switch (p) {
        case amqp_perm::configure:
            return configure;
        case amqp_perm::write:
            return write;
        case amqp_perm::read:
            break;
    }
    return read;
}

const amqp_topic_permission* amqp_grant::topic(std::string_view exchange) const {
    for (const auto& t : topics) {
        if (t.exchange == exchange) return &t;
    }
    return nullptr;
}

// ---- users ----

bool amqp_user::has_tag(std::string_view tag) const {
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

bool amqp_user::may_manage() const {
    return has_tag("administrator") || has_tag("monitoring") || has_tag("policymaker") ||
           has_tag("management");
}

const amqp_vhost_permission* amqp_user::permission(std::string_view vhost) const {
    for (const auto& p : permissions) {
        if (p.vhost == vhost) return &p;
    }
    return nullptr;
}

std::optional<amqp_grant> amqp_user::grant(std::string_view vhost) const {
    const amqp_vhost_permission* p = permission(vhost);
    if (!p) return std::nullopt;
    amqp_grant g;
    g.user = name;
    g.vhost = std::string(vhost);
    g.perm = *p;
    for (const auto& t : topic_permissions) {
        if (t.vhost == vhost) g.topics.push_back(t);
    }
    return g;
}

// ---- hashes ----

std::optional<amqp_hashing> parse_hashing(std::string_view name) {
    if (name == "rabbit_password_hashing_sha256") return amqp_hashing::sha256;
    if (name == "rabbit_password_hashing_sha512") return amqp_hashing::sha512;
    return std::nullopt;
}

namespace {
constexpr std::size_t k_salt = 4;  // rabbit_password:generate_salt/0

const EVP_MD* digest_of(amqp_hashing h) {
    return h == amqp_hashing::sha512 ? EVP_sha512() : EVP_sha256();
}
}  // namespace

std::string salted_hash(amqp_hashing h, std::string_view salt, std::string_view password) {
    std::string in;
    in.reserve(salt.size() + password.size());
    in.append(salt).append(password);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(in.data(), in.size(), md, &n, digest_of(h), nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    OPENSSL_cleanse(in.data(), in.size());
    std::string out(salt);
    out.append(reinterpret_cast<const char*>(md), n);
    return out;
}

std::string hash_password(amqp_hashing h, std::string_view password) {
    unsigned char salt[k_salt];
    if (RAND_bytes(salt, sizeof salt) != 1) throw std::runtime_error("RAND_bytes failed");
    return salted_hash(h, std::string_view(reinterpret_cast<const char*>(salt), sizeof salt),
                       password);
}

bool check_password(const amqp_user& u, std::string_view password) {
    const std::string& stored = u.password_hash;
    if (stored.size() <= k_salt) return false;
    const std::string want = salted_hash(u.hashing, stored.substr(0, k_salt), password);
    return want.size() == stored.size() &&
           CRYPTO_memcmp(want.data(), stored.data(), stored.size()) == 0;
}

std::vector<amqp_user> default_users(const std::vector<std::string>& vhosts) {
    amqp_user g;
    g.name = "guest";
    g.password_hash = hash_password(amqp_hashing::sha256, "guest");
    g.tags = {"administrator"};
    g.loopback_only = true;
    for (const auto& v : vhosts) {
        g.permissions.push_back({v, amqp_pattern(".*"), amqp_pattern(".*"), amqp_pattern(".*")});
    }
    return {std::move(g)};
}

const amqp_user* authenticate_user(const std::vector<amqp_user>& users, std::string_view user,
                                   std::string_view pass, bool loopback) {
    for (const auto& u : users) {
        if (u.name != user) continue;
        if (!check_password(u, pass)) return nullptr;
        return loopback || !u.loopback_only ? &u : nullptr;
    }
    return nullptr;
}

// ---- RabbitMQ's texts ----

std::string refused_text(std::string_view kind, std::string_view name, std::string_view vhost,
                         std::string_view user) {
    if (kind == "exchange" && name.empty()) name = "amq.default";
    std::string t = "access to ";
    t.append(kind).append(" '").append(name).append("' in vhost '").append(vhost);
    t.append("' refused for user '").append(user).append("'");
    return t;
}

std::string topic_refused_text(std::string_view key, std::string_view exchange,
                               std::string_view vhost, std::string_view user) {
    std::string t = "access to topic '";
    t.append(key).append("' in exchange '").append(exchange).append("' in vhost '");
    t.append(vhost).append("' refused for user '").append(user).append("'");
    return t;
}

}  // namespace sy::session
