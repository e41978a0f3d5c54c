#include "switchyard/hub/topic.hpp"

#include <algorithm>

namespace sy::hub {

std::string_view to_string(topic_error e) {
    switch (e) {
        case topic_error::empty:
            return "empty topic";
        case topic_error::too_long:
            return "topic too long";
        case topic_error::too_many_tokens:
            return "too many tokens";
        case topic_error::empty_token:
            return "empty token";
        case topic_error::bad_char:
            return "invalid character in topic";
        case topic_error::bad_wildcard:
            return "misplaced wildcard";
    }
    return "unknown topic error";
}

namespace {

constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    t['_'] = t['-'] = t[':'] = true;
    return t;
}
constexpr std::array<bool, 256> token_char = make_token_table();

bool is_wildcard(std::string_view tok) {
    return tok == "*" || tok == ">";
}

// One pass over the name, token by token; wildcards allowed only when `pattern`.
result<void, topic_error> validate(std::string_view s, const topic_limits& limits, bool pattern) {
    if (s.empty()) return unexpected(topic_error::empty);
    if (s.size() > limits.max_length) return unexpected(topic_error::too_long);
    const std::size_t max_tokens = std::min(limits.max_tokens, max_topic_tokens);
    std::size_t tokens = 0;
    std::size_t start = 0;
    while (true) {
        std::size_t end = s.find('.', start);
        if (end == std::string_view::npos) end = s.size();
        std::string_view tok = s.substr(start, end - start);
        if (tok.empty()) return unexpected(topic_error::empty_token);
        if (++tokens > max_tokens) return unexpected(topic_error::too_many_tokens);
        if (pattern && is_wildcard(tok)) {
            if (tok == ">" && end != s.size()) return unexpected(topic_error::bad_wildcard);
        } else {
            for (char c : tok) {
                if (token_char[static_cast<unsigned char>(c)]) continue;
                if (c == '*' || c == '>') {
                    return unexpected(pattern ? topic_error::bad_wildcard : topic_error::bad_char);
                }
                return unexpected(topic_error::bad_char);
            }
        }
        if (end == s.size()) break;
        start = end + 1;
    }
    return {};
}

}  // namespace

result<void, topic_error> validate_topic(std::string_view topic, const topic_limits& limits) {
    return validate(topic, limits, false);
}

result<void, topic_error> validate_pattern(std::string_view pattern, const topic_limits& limits) {
    return validate(pattern, limits, true);
}

bool is_literal(std::string_view pattern) {
    std::size_t start = 0;
    while (start <= pattern.size()) {
        std::size_t end = pattern.find('.', start);
        if (end == std::string_view::npos) end = pattern.size();
        if (is_wildcard(pattern.substr(start, end - start))) return false;
        start = end + 1;
    }
    return true;
}

std::size_t split_tokens(std::string_view s, std::array<std::string_view, max_topic_tokens>& out) {
    std::size_t n = 0;
    std::size_t start = 0;
    while (true) {
        std::size_t end = s.find('.', start);
        if (end == std::string_view::npos) end = s.size();
        if (n == max_topic_tokens) return max_topic_tokens + 1;
        out[n++] = s.substr(start, end - start);
        if (end == s.size()) return n;
        start = end + 1;
    }
}

bool pattern_matches(std::string_view pattern, std::string_view topic) {
    std::size_t p = 0;
    std::size_t t = 0;
    while (true) {
        std::size_t pe = pattern.find('.', p);
        if (pe == std::string_view::npos) pe = pattern.size();
        std::string_view ptok = pattern.substr(p, pe - p);
        if (t > topic.size()) return false;  // topic ran out of tokens
        if (ptok == ">") return true;        // at least one topic token remains here
        std::size_t te = topic.find('.', t);
        if (te == std::string_view::npos) te = topic.size();
        if (ptok != "*" && ptok != topic.substr(t, te - t)) return false;
        const bool p_last = pe == pattern.size();
        const bool t_last = te == topic.size();
        if (p_last || t_last) return p_last && t_last;
        p = pe + 1;
        t = te + 1;
    }
}

}  // namespace sy::hub
