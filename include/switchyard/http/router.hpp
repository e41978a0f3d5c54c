// http::router: maps (method, path) to a handler with a segment trie.
//
// Patterns: "/users/:id/posts/:post" (a parameter matches one non-empty segment),
// "/static/*rest" (a trailing wildcard matches the rest of the path, slashes included, possibly
// empty: "/static" and "/static/" both match with rest ""). A trailing slash is significant
// ("/a" and "/a/" are different routes). Paths are matched after percent-decoding and
// normalisation (request::path()), so parameter values are decoded.
//
// Precedence at every segment: exact segment, then parameter, then wildcard; if the preferred
// branch has no route for the rest of the path (or none for this method), matching backtracks to
// the next branch. Example: "/users/me" beats "/users/:id" for GET /users/me.
//
// Outcomes (dispatch()):
//   - a route for the method: the handler runs; HEAD without a HEAD route runs the GET handler
//     (the session drops the body); `any` routes match every method, including extension ones;
//   - the path matches only other methods: 405 with `Allow` (RFC 9110 15.5.6);
//   - OPTIONS without an OPTIONS route on a matching path: 204 with `Allow`; "OPTIONS *" lists
//     every method any route uses;
//   - no path match: 404 (or the handler given to set_not_found()).
//
// Cost: matching walks the trie without allocating; captured parameters are views into
// request::path() (request::add_param, into a vector whose capacity the request keeps).
// Routes are added at start-up (add() throws std::invalid_argument on a bad or duplicate
// pattern); after that the router is immutable and may be shared by every loop thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"

namespace sy::http {

/// What every route runs. The same type whatever the HTTP version.
using handler = std::function<void(request&, response&)>;

/// Bit i set = method(i) allowed.
using method_mask = std::uint16_t;
/// "GET, HEAD, POST" for an Allow header (HEAD is implied by GET, OPTIONS always listed).
std::string allow_header_value(method_mask mask);

class router {
  public:
    router();
    ~router();
    router(router&&) noexcept;
    router& operator=(router&&) noexcept;

    router& add(http::method m, std::string_view pattern, handler h);
    router& any(std::string_view pattern, handler h);
    router& get(std::string_view p, handler h) { return add(http::method::get, p, std::move(h)); }
    router& head(std::string_view p, handler h) { return add(http::method::head, p, std::move(h)); }
    router& post(std::string_view p, handler h) { return add(http::method::post, p, std::move(h)); }
    router& put(std::string_view p, handler h) { return add(http::method::put, p, std::move(h)); }
    router& del(std::string_view p, handler h) { return add(http::method::del, p, std::move(h)); }
    router& patch(std::string_view p, handler h) {
        return add(http::method::patch, p, std::move(h));
    }
    router& options(std::string_view p, handler h) {
        return add(http::method::options, p, std::move(h));
    }
    /// Replaces the default 404 reply.
    void set_not_found(handler h) { not_found_ = std::move(h); }
    /// Filters: ordered steps dispatch() runs before matching this router's routes. Each answers
    /// the request (returns true: dispatch stops) or passes (false), possibly after attaching
    /// something to the request (the server's auth filter sets request::principal). Lower
    /// `order` runs first, equal orders in the order added: the server uses
    /// filter_order::limits (connection and publish rates), ::identity (auth), ::route_table
    /// (server/routes.hpp: the route table answers what it routes).
    using filter_fn = std::function<bool(request&, response&)>;
    struct filter_order {
        static constexpr int limits = 100;
        static constexpr int identity = 200;
        static constexpr int route_table = 1000;
    };
    void add_filter(int order, filter_fn f);

    enum class outcome : std::uint8_t { found, not_found, method_not_allowed, options };
    struct match_result {
        outcome kind = outcome::not_found;
        const handler* target = nullptr;  ///< set when kind == found
        method_mask allow = 0;            ///< methods routed for this path (405 / OPTIONS)
    };
    /// Finds the route for req.method() and req.path(); on success stores the parameters in
    /// `req` (replacing previous ones).
    match_result match(request& req) const;

    /// match() and then run the handler or send the 404/405/OPTIONS reply.
    void dispatch(request& req, response& res) const;

    static constexpr int max_params = 16;

  private:
    struct endpoint;
    struct endpoint_set;
    struct node;
    struct match_ctx;
    router& add_route(int method_index, std::string_view pattern, handler h);
    bool walk(const node& n, std::string_view rest, bool done, match_ctx& c) const;
    bool try_endpoints(const endpoint_set* s, match_ctx& c) const;

    std::unique_ptr<node> root_;
    method_mask all_methods_ = 0;
    handler not_found_;
    std::vector<std::pair<int, filter_fn>> filters_;  // sorted by order, stable
};

}  // namespace sy::http
