#include "switchyard/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace sy::http {

namespace {

constexpr method_mask bit(http::method m) {
    return method_mask(1u << static_cast<int>(m));
}

}  // namespace

std::string allow_header_value(method_mask mask) {
    if (mask & bit(http::method::get)) mask |= bit(http::method::head);
    mask |= bit(http::method::options);
    std::string out;
    for (int i = 0; i < method_count - 1; ++i) {
        if (!(mask & (1u << i))) continue;
        if (!out.empty()) out += ", ";
        out += method_token(static_cast<http::method>(i));
    }
    return out;
}

struct router::endpoint {
    handler fn;
    std::vector<std::string> param_names;  // in capture order
};

struct router::endpoint_set {
    std::array<std::unique_ptr<endpoint>, method_count> by_method;
    std::unique_ptr<endpoint> any;
    method_mask mask = 0;
};

struct router::node {
    std::vector<std::pair<std::string, std::unique_ptr<node>>> statics;
    std::unique_ptr<node> param;
    std::unique_ptr<endpoint_set> wildcard;  // routes ending in "*name" at this position
    std::unique_ptr<endpoint_set> here;      // routes ending exactly at this node
};

struct router::match_ctx {
    http::method m;
    std::array<std::string_view, max_params> values;
    int depth = 0;
    method_mask allow = 0;
    bool path_matched = false;
    const endpoint* found = nullptr;
};

router::router() : root_(std::make_unique<node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

namespace {

// Splits "/a/:b/*c" into segments: "/" -> {""}, "/a/" -> {"a", ""}.
std::vector<std::string_view> split_pattern(std::string_view p) {
    if (p.empty() || p.front() != '/')
        throw std::invalid_argument("route pattern must start with '/': " + std::string(p));
    std::vector<std::string_view> segs;
    p.remove_prefix(1);
    while (true) {
        std::size_t s = p.find('/');
        segs.push_back(p.substr(0, s));
        if (s == std::string_view::npos) break;
        p.remove_prefix(s + 1);
    }
    return segs;
}

}  // namespace

router& router::add(http::method m, std::string_view pattern, handler h) {
    return add_route(static_cast<int>(m), pattern, std::move(h));
}

router& router::any(std::string_view pattern, handler h) {
    return add_route(-1, pattern, std::move(h));
}

router& router::add_route(int method_index, std::string_view pattern, handler h) {
    if (method_index == static_cast<int>(http::method::other))
        throw std::invalid_argument("use any() for extension methods");
    std::vector<std::string_view> segs = split_pattern(pattern);
    auto ep = std::make_unique<endpoint>();
    ep->fn = std::move(h);
    node* n = root_.get();
    std::unique_ptr<endpoint_set>* slot = nullptr;
    for (std::size_t i = 0; i < segs.size(); ++i) {
        std::string_view s = segs[i];
        if (!s.empty() && s.front() == '*') {
            if (i + 1 != segs.size())
                throw std::invalid_argument("wildcard must be last: " + std::string(pattern));
            ep->param_names.emplace_back(s.size() > 1 ? s.substr(1) : s);
            slot = &n->wildcard;
            break;
        }
        if (!s.empty() && s.front() == ':') {
            if (s.size() == 1)
                throw std::invalid_argument("unnamed parameter: " + std::string(pattern));
            ep->param_names.emplace_back(s.substr(1));
            if (!n->param) n->param = std::make_unique<node>();
            n = n->param.get();
        } else {
            node* next = nullptr;
            for (auto& [name, child] : n->statics)
                if (name == s) next = child.get();
            if (!next) {
                n->statics.emplace_back(std::string(s), std::make_unique<node>());
                next = n->statics.back().second.get();
            }
            n = next;
        }
    }
    if (ep->param_names.size() > max_params)
        throw std::invalid_argument("too many parameters: " + std::string(pattern));
    if (!slot) slot = &n->here;
    if (!*slot) *slot = std::make_unique<endpoint_set>();
    endpoint_set& set = **slot;
    std::unique_ptr<endpoint>& target = method_index < 0 ? set.any : set.by_method[method_index];
    if (target) throw std::invalid_argument("duplicate route: " + std::string(pattern));
    target = std::move(ep);
    method_mask added = method_index < 0 ? method_mask((1u << (method_count - 1)) - 1)
                                         : method_mask(1u << method_index);
    set.mask |= added;
    all_methods_ |= added;
    return *this;
}

// Picks the endpoint for c.m in s, or records the methods s offers (for 405 / OPTIONS).
bool router::try_endpoints(const endpoint_set* s, match_ctx& c) const {
    if (!s) return false;
    c.path_matched = true;
    const endpoint* e = s->by_method[static_cast<int>(c.m)].get();
    if (!e && c.m == http::method::head)
        e = s->by_method[static_cast<int>(http::method::get)].get();
    if (!e) e = s->any.get();
    if (e && static_cast<std::size_t>(c.depth) == e->param_names.size()) {
        c.found = e;
        return true;
    }
    c.allow |= s->mask;
    return false;
}

// rest: the unconsumed path after a '/'; done: no segment left (the path ended at this node).
bool router::walk(const node& n, std::string_view rest, bool done, match_ctx& c) const {
    if (done) {
        if (try_endpoints(n.here.get(), c)) return true;
        if (n.wildcard && c.depth < max_params) {
            c.values[c.depth++] = rest.substr(0, 0);
            if (try_endpoints(n.wildcard.get(), c)) return true;
            --c.depth;
        }
        return false;
    }
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    std::string_view next =
        slash == std::string_view::npos ? rest.substr(rest.size()) : rest.substr(slash + 1);
    bool next_done = slash == std::string_view::npos;
    for (const auto& [name, child] : n.statics)
        if (name == seg && walk(*child, next, next_done, c)) return true;
    if (n.param && !seg.empty() && c.depth < max_params) {
        c.values[c.depth++] = seg;
        if (walk(*n.param, next, next_done, c)) return true;
        --c.depth;
    }
    if (n.wildcard && c.depth < max_params) {
        c.values[c.depth++] = rest;
        if (try_endpoints(n.wildcard.get(), c)) return true;
        --c.depth;
    }
    return false;
}

router::match_result router::match(request& req) const {
    req.clear_params();
    std::string_view path = req.path();
    match_result r;
    if (path == "*") {
        r.kind = req.method() == http::method::options ? outcome::options : outcome::not_found;
        r.allow = all_methods_;
        return r;
    }
    if (path.empty() || path.front() != '/') return r;
    match_ctx c;
    c.m = req.method();
    if (walk(*root_, path.substr(1), false, c)) {
        for (int i = 0; i < c.depth; ++i) req.add_param(c.found->param_names[i], c.values[i]);
        r.kind = outcome::found;
        r.target = &c.found->fn;
        return r;
    }
    if (!c.path_matched) return r;
    r.allow = c.allow;
    r.kind = c.m == http::method::options ? outcome::options : outcome::method_not_allowed;
    return r;
}

void router::add_filter(int order, filter_fn f) {
    auto at = std::upper_bound(filters_.begin(), filters_.end(), order,
                               [](int o, const auto& e) { return o < e.first; });
    filters_.insert(at, {order, std::move(f)});
}

void router::dispatch(request& req, response& res) const {
    for (const auto& [order, f] : filters_) {
        if (f(req, res)) return;
    }
    match_result m = match(req);
    switch (m.kind) {
        case outcome::found:
            (*m.target)(req, res);
            return;
        case outcome::not_found:
            if (not_found_) {
                not_found_(req, res);
            } else {
                res.send(404, "Not Found\n");
            }
            return;
        case outcome::method_not_allowed:
            res.set_header("Allow", allow_header_value(m.allow));
            res.send(405, "Method Not Allowed\n");
            return;
        case outcome::options:
            res.set_header("Allow", allow_header_value(m.allow));
            res.send(204);
            return;
    }
}

}  // namespace sy::http
