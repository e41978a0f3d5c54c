#include "switchyard/auth/principal.hpp"

#include <algorithm>
#include <array>

#include "switchyard/hub/topic.hpp"

namespace sy::auth {

std::string_view to_string(action a) {
    return a == action::publish ? "publish" : "subscribe";
}

bool glob_matches(std::string_view glob, std::string_view s) {
    // Iterative wildcard match with one backtrack point (the last '*'): linear in practice.
    std::size_t g = 0, i = 0, star = std::string_view::npos, mark = 0;
    while (i < s.size()) {
        if (g < glob.size() && glob[g] == '*') {
            star = g++;
            mark = i;
        } else if (g < glob.size() && glob[g] == s[i]) {
            ++g;
            ++i;
        } else if (star != std::string_view::npos) {
            g = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (g < glob.size() && glob[g] == '*') ++g;
    return g == glob.size();
}

bool pattern_covers(std::string_view outer, std::string_view inner) {
    std::array<std::string_view, hub::max_topic_tokens> o;
    std::array<std::string_view, hub::max_topic_tokens> in;
    const std::size_t no = hub::split_tokens(outer, o);
    const std::size_t ni = hub::split_tokens(inner, in);
    if (no > hub::max_topic_tokens || ni > hub::max_topic_tokens) return false;
    for (std::size_t k = 0; k < no; ++k) {
        // ">" covers the rest when inner still has at least one token there (">" needs one).
        if (o[k] == ">") return k < ni;
        if (k >= ni) return false;
        if (in[k] == ">") return false;   // inner reaches further than a single-token outer
        if (o[k] == "*") continue;        // covers a literal and "*"
        if (in[k] != o[k]) return false;  // a literal covers only itself
    }
    return no == ni;
}

namespace {

std::string expand_sub(std::string_view pattern, std::string_view sub) {
    constexpr std::string_view k_var = "{sub}";
    std::string out;
    out.reserve(pattern.size() + sub.size());
    std::size_t pos = 0;
    while (true) {
        const std::size_t at = pattern.find(k_var, pos);
        out.append(pattern.substr(pos, at - pos));
        if (at == std::string_view::npos) break;
        out.append(sub);
        pos = at + k_var.size();
    }
    return out;
}

}  // namespace

void principal::compile(compiled& c, const std::vector<std::string>& in, std::string_view sub) {
    // {sub} must stay one literal token: a subject "a.b" or ">" would otherwise widen the grant.
    const bool sub_ok = sub.find('.') == std::string_view::npos && hub::validate_topic(sub);
    for (const auto& raw : in) {
        if (!sub_ok && raw.find("{sub}") != std::string::npos) continue;
        std::string p = expand_sub(raw, sub);
        if (!hub::validate_pattern(p)) continue;  // grants nothing (see the header)
        if (std::find(c.patterns.begin(), c.patterns.end(), p) != c.patterns.end()) continue;
        c.list.insert(p, 1);
        c.patterns.push_back(std::move(p));
    }
}

std::shared_ptr<const principal> principal::make(std::string subject, std::int64_t exp,
                                                 const grants& g, std::vector<scope_grant> scopes,
                                                 std::vector<std::string> tags) {
    auto p = std::make_shared<principal>();
    p->subject_ = std::move(subject);
    p->exp_ = exp;
    p->admin_ = g.admin;
    compile(p->publish_, g.publish, p->subject_);
    compile(p->subscribe_, g.subscribe, p->subject_);
    p->scopes_ = std::move(scopes);
    p->tags_ = std::move(tags);
    return p;
}

bool principal::may(action a, std::string_view topic) const {
    return of(a).list.matches_any(topic);
}

bool principal::may_pattern(action a, std::string_view pattern) const {
    if (hub::is_literal(pattern)) return may(a, pattern);
    for (const auto& g : of(a).patterns) {
        if (pattern_covers(g, pattern)) return true;
    }
    return false;
}

const std::vector<std::string>& principal::patterns(action a) const {
    return of(a).patterns;
}

}  // namespace sy::auth
