#include "switchyard/session/amqp_args.hpp"

#include <optional>
#include <type_traits>

namespace sy::session {

using namespace sy::amqp;

std::string render_value(const field_value& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_integral_v<T>) {
                return std::to_string(static_cast<std::int64_t>(x));
            } else if constexpr (std::is_floating_point_v<T>) {
                return std::to_string(x);
            } else if constexpr (std::is_same_v<T, std::string_view>) {
                return std::string(x);
            } else if constexpr (std::is_same_v<T, byte_array>) {
                return std::string(x.bytes);
            } else if constexpr (std::is_same_v<T, timestamp_value>) {
                return std::to_string(x.seconds);
            } else if constexpr (std::is_same_v<T, decimal_value>) {
                return std::to_string(x.value) + "e-" + std::to_string(x.scale);
            } else if constexpr (std::is_same_v<T, void_value>) {
                return {};
            } else {
                return "<complex>";
            }
        },
        v);
}

std::vector<hub::header_pair> render_table(const table_view& t) {
    std::vector<hub::header_pair> out;
    for (const field_entry& e : t.entries()) {
        out.emplace_back(std::string(e.key), render_value(e.value));
    }
    return out;
}

std::optional<std::int64_t> as_integer(const field_value& v) {
    return std::visit(
        [](const auto& x) -> std::optional<std::int64_t> {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                return static_cast<std::int64_t>(x);
            } else {
                return std::nullopt;
            }
        },
        v);
}

namespace {

// The type names RabbitMQ uses in its messages (rabbit_binary_parser field types).
std::string_view rabbit_type_name(const field_value& v) {
    static constexpr std::string_view names[] = {
        "void",      "bool",        "byte",      "unsignedbyte", "short",  "unsignedshort",
        "signedint", "unsignedint", "long",      "float",        "double", "decimal",
        "longstr",   "binary",      "timestamp", "table",        "array"};
    return names[v.index()];
}

std::optional<std::string> as_str(const field_value& v) {
    if (auto* s = std::get_if<std::string_view>(&v)) return std::string(*s);
    if (auto* b = std::get_if<byte_array>(&v)) return std::string(b->bytes);
    return std::nullopt;
}

}  // namespace

bool parse_queue_args(const table_view& t, hub::queue_args& out, std::string& bad,
                      std::string& why) {
    for (const field_entry& e : t.entries()) {
        bad = std::string(e.key);
        // RabbitMQ's reasons (rabbit_amqqueue check_*_arg), printed as Erlang terms.
        auto num = [&](std::optional<std::uint64_t>& dst, std::int64_t min) {
            auto i = as_integer(e.value);
            if (!i) {
                why = "\"expected integer, got " + std::string(rabbit_type_name(e.value)) + "\"";
                return false;
            }
            if (*i < min) {
                why = std::string(*i < 0 ? "{value_negative," : "{value_zero,") +
                      std::to_string(*i) + "}";
                return false;
            }
            dst = static_cast<std::uint64_t>(*i);
            return true;
        };
        auto str = [&](std::optional<std::string>& dst) {
            auto s = as_str(e.value);
            if (!s) {
                why = "\"expected string, got " + std::string(rabbit_type_name(e.value)) + "\"";
                return false;
            }
            dst = *s;
            return true;
        };
        bool ok = true;
        if (e.key == "x-message-ttl") {
            ok = num(out.message_ttl_ms, 0);
        } else if (e.key == "x-expires") {
            ok = num(out.expires_ms, 1);
        } else if (e.key == "x-max-length") {
            ok = num(out.max_length, 0);
        } else if (e.key == "x-max-length-bytes") {
            ok = num(out.max_length_bytes, 0);
        } else if (e.key == "x-max-priority") {
            // rabbit_amqqueue check_max_priority_arg: non-negative, at most 255.
            std::optional<std::uint64_t> v;
            ok = num(v, 0);
            if (ok && *v > 255) {
                why = "{max_value_exceeded," + std::to_string(*v) + "}";
                ok = false;
            }
            if (ok) out.max_priority = static_cast<std::uint8_t>(*v);
        } else if (e.key == "x-dead-letter-exchange") {
            ok = str(out.dead_letter_exchange);
        } else if (e.key == "x-dead-letter-routing-key") {
            ok = str(out.dead_letter_routing_key);
        } else if (e.key == "x-overflow") {
            auto s = as_str(e.value);
            if (s == "drop-head") {
                out.overflow = hub::overflow_policy::drop_head;
            } else if (s == "reject-publish" || s == "reject-publish-dlx") {
                out.overflow = hub::overflow_policy::reject_publish;
            } else {
                why = "invalid_overflow";
                ok = false;
            }
        }
        if (!ok) return false;
    }
    bad.clear();
    return true;
}

hub::broker_binding make_binding(std::string dest, bool to_exchange, std::string_view key,
                                 const table_view& args) {
    hub::broker_binding b;
    b.queue = std::move(dest);
    b.to_exchange = to_exchange;
    b.key = std::string(key);
    b.args = render_table(args);
    for (const auto& [k, v] : b.args) {
        if (k == "x-match") b.match_all = v != "any";
        b.args_key += k;
        b.args_key.push_back('\0');
        b.args_key += v;
        b.args_key.push_back('\0');
    }
    return b;
}

}  // namespace sy::session
