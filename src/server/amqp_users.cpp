// amqp.users, amqp.user_tags, amqp.permissions and amqp.topic_permissions -> the broker's users
// (session/amqp_access.hpp). Start-up, main thread: a bad entry is a config_error naming the
// setting and the entry (docs/auth.md, "AMQP").
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "switchyard/base/text.hpp"
#include "switchyard/server/amqp.hpp"

namespace sy::server {

namespace {

// s split at every ':' (no field may hold a ':': names, vhosts and regexes of these settings).
std::vector<std::string> fields(std::string_view s) {
    std::vector<std::string> out;
    while (true) {
        auto colon = s.find(':');
        out.emplace_back(s.substr(0, colon));
        if (colon == std::string_view::npos) return out;
        s.remove_prefix(colon + 1);
    }
}

session::amqp_pattern pattern(const std::string& re, std::string_view setting,
                              std::string_view entry) {
    try {
        return session::amqp_pattern(re);
    } catch (const std::regex_error& e) {
        throw config_error(
            fmt::format("{}: '{}': bad regex '{}': {}", setting, entry, re, e.what()));
    }
}

// "name:password" (plain, hashed here with a fresh salt; the password is everything after the
// first ':', as before) or "name:rabbit_password_hashing_sha256:BASE64" (RabbitMQ's
// password_hash of a definitions export: base64 of salt + digest).
session::amqp_user parse_user(const std::string& entry) {
    session::amqp_user u;
    auto colon = entry.find(':');
    u.name = entry.substr(0, colon);
    if (u.name.empty()) throw config_error(fmt::format("amqp.users: '{}': no user name", entry));
    const std::string secret = colon == std::string::npos ? std::string() : entry.substr(colon + 1);
    auto colon2 = secret.find(':');
    auto hashing = session::parse_hashing(std::string_view(secret).substr(0, colon2));
    if (hashing && colon2 != std::string::npos) {
        u.hashing = *hashing;
        const std::size_t digest = *hashing == session::amqp_hashing::sha512 ? 64 : 32;
        if (!base64_decode(secret.substr(colon2 + 1), u.password_hash) ||
            u.password_hash.size() != 4 + digest) {
            throw config_error(fmt::format(
                "amqp.users: user '{}': the hash is not base64 of a 4-byte salt and a {}-byte "
                "digest (RabbitMQ's password_hash)",
                u.name, digest));
        }
    } else {
        u.password_hash = session::hash_password(session::amqp_hashing::sha256, secret);
    }
    u.loopback_only = u.name == "guest";
    return u;
}

session::amqp_user& find_user(std::vector<session::amqp_user>& users, const std::string& name,
                              std::string_view setting, std::string_view entry) {
    for (auto& u : users) {
        if (u.name == name) return u;
    }
    throw config_error(fmt::format("{}: '{}': no user '{}' in amqp.users", setting, entry, name));
}

void add_tags(std::vector<session::amqp_user>& users, const std::string& entry) {
    auto colon = entry.find(':');
    if (colon == std::string::npos) {
        throw config_error(fmt::format("amqp.user_tags: '{}': expected name:tag,tag", entry));
    }
    auto& u = find_user(users, entry.substr(0, colon), "amqp.user_tags", entry);
    std::string_view rest = std::string_view(entry).substr(colon + 1);
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto tag = trim_ows(rest.substr(0, comma));
        if (!tag.empty()) u.tags.emplace_back(tag);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
}

void add_permission(std::vector<session::amqp_user>& users, const std::string& entry,
                    const std::vector<std::string>& vhosts) {
    auto f = fields(entry);
    if (f.size() != 5) {
        throw config_error(
            fmt::format("amqp.permissions: '{}': expected user:vhost:configure:write:read", entry));
    }
    auto& u = find_user(users, f[0], "amqp.permissions", entry);
    if (std::find(vhosts.begin(), vhosts.end(), f[1]) == vhosts.end()) {
        throw config_error(
            fmt::format("amqp.permissions: '{}': no vhost '{}' in amqp.vhosts", entry, f[1]));
    }
    std::erase_if(u.permissions, [&](const auto& p) { return p.vhost == f[1]; });  // last wins
    constexpr std::string_view s = "amqp.permissions";
    u.permissions.push_back(
        {f[1], pattern(f[2], s, entry), pattern(f[3], s, entry), pattern(f[4], s, entry)});
}

void add_topic_permission(std::vector<session::amqp_user>& users, const std::string& entry) {
    auto f = fields(entry);
    if (f.size() != 5) {
        throw config_error(fmt::format(
            "amqp.topic_permissions: '{}': expected user:vhost:exchange:write:read", entry));
    }
    auto& u = find_user(users, f[0], "amqp.topic_permissions", entry);
    constexpr std::string_view s = "amqp.topic_permissions";
    u.topic_permissions.push_back({f[1], f[2], pattern(f[3], s, entry), pattern(f[4], s, entry)});
}

}  // namespace

std::vector<session::amqp_user> amqp_users_of(const amqp_config& c) {
    const std::vector<std::string> vhosts =
        c.vhosts.empty() ? std::vector<std::string>{"/"} : c.vhosts;
    if (c.users.empty()) {
        if (!c.user_tags.empty() || !c.permissions.empty() || !c.topic_permissions.empty()) {
            throw config_error("amqp.user_tags / amqp.permissions need amqp.users");
        }
        return session::default_users(vhosts);
    }
    std::vector<session::amqp_user> users;
    for (const auto& e : c.users) users.push_back(parse_user(e));
    for (const auto& e : c.user_tags) add_tags(users, e);
    for (const auto& e : c.permissions) add_permission(users, e, vhosts);
    for (const auto& e : c.topic_permissions) add_topic_permission(users, e);
    // guest keeps RabbitMQ's default user's rights unless the config says otherwise: tagged
    // administrator, ".*" on every vhost (so `amqp.users = ["guest:guest", ...]` works as before).
    for (auto& u : users) {
        if (u.name != "guest") continue;
        if (u.tags.empty()) u.tags = {"administrator"};
        if (u.permissions.empty()) u.permissions = session::default_users(vhosts)[0].permissions;
    }
    return users;
}

}  // namespace sy::server
