#include "config_routes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace sy::server::detail {

namespace {

constexpr std::array<std::string_view, 11> k_route_keys = {
    "path",    "websocket", "sse",         "long_poll", "publish", "publish_post",
    "history", "resume",    "slow_policy", "framing",   "origins"};

struct route_reader {
    const std::string& origin;
    config_problems& problems;

    void bad(const toml::node& n, std::string_view key, std::string_view what) {
        const std::size_t line = n.source().begin.line;
        problems.emplace_back(line, fmt::format("{}:{}: routes.{}: {}", origin, line, key, what));
    }

    void text(const toml::node& n, std::string_view key, std::string& out) {
        if (auto s = n.value_exact<std::string>()) {
            out = *s;
        } else {
            bad(n, key, "expected a string");
        }
    }

    void flag(const toml::node& n, std::string_view key, bool& out) {
        if (auto b = n.value_exact<bool>()) {
            out = *b;
        } else {
            bad(n, key, "expected true or false");
        }
    }

    void set(const toml::node& n, std::string_view key, route_config& r) {
        if (key == "path") return text(n, key, r.path);
        if (key == "websocket") return text(n, key, r.websocket);
        if (key == "sse") return text(n, key, r.sse);
        if (key == "long_poll") return text(n, key, r.long_poll);
        if (key == "publish") return flag(n, key, r.publish);
        if (key == "publish_post") return flag(n, key, r.publish_post);
        if (key == "resume") return flag(n, key, r.resume);
        if (key == "history") {
            auto i = n.value_exact<std::int64_t>();
            if (!i || *i < 0) return bad(n, key, "expected a non-negative integer");
            r.history = static_cast<std::uint64_t>(*i);
            return;
        }
        if (key == "slow_policy") {
            text(n, key, r.slow_policy);
            if (r.slow_policy != "drop-oldest" && r.slow_policy != "disconnect" &&
                r.slow_policy != "block-publisher" && n.is_string()) {
                bad(n, key,
                    fmt::format("unknown value '{}' (drop-oldest,disconnect,block-publisher)",
                                r.slow_policy));
            }
            return;
        }
        if (key == "framing") {
            text(n, key, r.framing);
            if (r.framing != "raw" && r.framing != "envelope" && n.is_string()) {
                bad(n, key, fmt::format("unknown value '{}' (raw,envelope)", r.framing));
            }
            return;
        }
        // origins
        auto* arr = n.as_array();
        if (!arr) return bad(n, key, "expected an array of strings");
        r.origins.clear();
        for (auto& e : *arr) {
            auto s = e.value_exact<std::string>();
            if (!s) return bad(n, key, "array items must be strings");
            r.origins.push_back(*s);
        }
    }

    // What one table must hold together: a path, something to serve, publish where a topic is.
    void check(const toml::table& t, const route_config& r) {
        const std::size_t line = t.source().begin.line;
        auto say = [&](std::string_view what) {
            problems.emplace_back(line, fmt::format("{}:{}: routes: {}", origin, line, what));
        };
        if (r.path.empty()) return say("a route needs a path");
        if (r.path.front() != '/') say(fmt::format("path '{}' must start with '/'", r.path));
        if (r.websocket.empty() && r.sse.empty() && r.long_poll.empty()) {
            say(fmt::format("route {} has no websocket, sse or long_poll topic", r.path));
        }
        if (r.publish && r.websocket.empty()) {
            say(fmt::format("route {}: publish needs a websocket topic", r.path));
        }
    }

    void table(const toml::table& t, std::vector<route_config>& out) {
        route_config r;
        r.line = t.source().begin.line;
        for (auto&& [k, v] : t) {
            const std::string_view key = k.str();
            if (std::find(k_route_keys.begin(), k_route_keys.end(), key) == k_route_keys.end()) {
                const std::size_t line = k.source().begin.line;
                problems.emplace_back(
                    line, fmt::format("{}:{}: unknown key 'routes.{}' (a route has: path, "
                                      "websocket, sse, long_poll, publish, publish_post, "
                                      "history, resume, slow_policy, framing, origins)",
                                      origin, line, key));
                continue;
            }
            set(v, key, r);
        }
        check(t, r);
        out.push_back(std::move(r));
    }
};

}  // namespace

void read_routes(const toml::node& n, const std::string& origin, std::vector<route_config>& out,
                 config_problems& problems) {
    route_reader rd{origin, problems};
    const auto* arr = n.as_array();
    if (!arr || !arr->is_array_of_tables()) {
        rd.bad(n, "", "expected [[routes]] tables");
        return;
    }
    for (auto& e : *arr) rd.table(*e.as_table(), out);
}

}  // namespace sy::server::detail
