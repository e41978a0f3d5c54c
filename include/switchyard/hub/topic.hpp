// Topic names and subscription patterns (NATS subject semantics).
//
// A topic is a dot-separated list of tokens, each made of [A-Za-z0-9_-:], for example
// "orders.eu.created". A pattern is a topic in which a whole token may also be
//   "*"  exactly one token            "orders.*.created" matches "orders.eu.created"
//   ">"  one or more trailing tokens  "orders.>" matches "orders.eu" and "orders.eu.created",
//                                     but not "orders"
// ">" may only be the last token. "*" or ">" inside a token ("ord*") is invalid.
// Everything here is pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "switchyard/base/result.hpp"

namespace sy::hub {

enum class topic_error : unsigned char {
    empty,     // "" (or a pattern with nothing in it)
    too_long,  // longer than topic_limits::max_length
    too_many_tokens,
    empty_token,   // "a..b", ".a", "a."
    bad_char,      // a byte outside [A-Za-z0-9_-:] (or a wildcard in a topic)
    bad_wildcard,  // "*" / ">" mixed into a token, or ">" not last
};
std::string_view to_string(topic_error e);

/// Hard cap on tokens: matching keeps the tokens of one topic in a fixed array on the stack.
inline constexpr std::size_t max_topic_tokens = 64;

struct topic_limits {
    std::size_t max_length = 256;
    std::size_t max_tokens = 32;  // clamped to max_topic_tokens
};

/// A concrete topic (publish target): no wildcards.
result<void, topic_error> validate_topic(std::string_view topic, const topic_limits& limits = {});
/// A subscription pattern: a topic in which whole tokens may be "*" or (last) ">".
result<void, topic_error> validate_pattern(std::string_view pattern,
                                           const topic_limits& limits = {});

/// True when a valid pattern has no wildcard token (it names exactly one topic).
bool is_literal(std::string_view pattern);

/// Matches a (valid) pattern against a (valid) topic, token by token. Used for small tables
/// (policy rules); many subscriptions go through sublist instead.
bool pattern_matches(std::string_view pattern, std::string_view topic);

/// Splits s at '.' into out; returns the token count, or max_topic_tokens + 1 when s has more
/// tokens than fit (out then holds the first max_topic_tokens).
std::size_t split_tokens(std::string_view s, std::array<std::string_view, max_topic_tokens>& out);

}  // namespace sy::hub
