// Routes: any URL pattern to hub topics (docs/routes.md). A route offers WebSocket, SSE and long
// poll subscribers of a topic template on one path ("room.:id" takes the path's :id), chosen per
// request as GET /sub/{topic} chooses (Upgrade: websocket, Accept: text/event-stream, otherwise
// the long poll), and publishing (messages a WebSocket client sends, POST to the path).
//
// One table per process holds every route: the gateway's default ones (/sub, /pub as topic
// routes; /echo, /topics, /jobs as handler routes), the [[routes]] of the config file and routes
// added in code (app.routes().add). The table is consulted before app.router() (the app's own
// handlers, the static files): a route wins over a static file on the same path; a WebSocket
// upgrade no route takes is answered 426 with a one-line reason, never by app.router().
//
// Reload (SIGHUP): the config file's [[routes]] are read again and a new table is built on the
// main thread and posted to every loop; requests in flight and open streams keep running. A
// stream whose route is gone (its path no longer in the file) is ended on its loop: WebSocket
// close 1001, SSE end of stream. A bad file keeps the current table (logged).
//
// Hot path: one extra trie walk per request (no allocation); each loop reads its own pointer to
// the table (a loop slot), so a reload needs no lock.
//
// Thread: add()/handlers() before app.run(); the rest is the loops' and the main thread's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "switchyard/http/router.hpp"
#include "switchyard/hub/policy.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/session/ws_session.hpp"

namespace sy::server {

class app;

class runtime;

using ws_peer = session::ws_peer;
using ws_hooks = session::ws_hooks;

/// A topic route as code gives it: the [[routes]] fields and what only code can say.
struct route_spec {
    route_config config;
    std::string post_topic;      ///< POST publishes here; "": the route's first topic template
    bool query_options = false;  ///< ?envelope ?presence ?event ?retry ?timeout (GET /sub)
    ws_hooks hooks;              ///< on the route's WebSocket subscribers (literal topics)
};

/// A handler route of the table: method, http::router pattern, handler.
struct handler_route {
    http::method method;
    std::string pattern;
    http::handler fn;
};

/// Handler routes in http::router's spelling (jobs.cpp, the gateway).
class handler_routes {
  public:
    handler_routes& get(std::string p, http::handler h) { return add(http::method::get, p, h); }
    handler_routes& post(std::string p, http::handler h) { return add(http::method::post, p, h); }
    handler_routes& put(std::string p, http::handler h) { return add(http::method::put, p, h); }
    handler_routes& del(std::string p, http::handler h) { return add(http::method::del, p, h); }
    handler_routes& add(http::method m, std::string p, http::handler h) {
        list_.push_back({m, std::move(p), std::move(h)});
        return *this;
    }
    const std::vector<handler_route>& list() const { return list_; }

  private:
    std::vector<handler_route> list_;
};

/// "room.:id" -> "room.*": the hub pattern of every topic a template can name (policy rules).
std::string template_pattern(std::string_view topic_template);
/// The topic a template names for a request's path parameters; empty when a parameter the
/// template uses is missing or empty.
std::string expand_topic(std::string_view topic_template, const http::request& req);

class route_table;

/// The routes of one app (see the file comment).
class routes {
  public:
    explicit routes(app& a);
    ~routes();
    routes(const routes&) = delete;
    routes& operator=(const routes&) = delete;

    /// Before run(): a topic route (the library's [[routes]]).
    void add(route_spec r);
    void add(route_config c, ws_hooks h = {});
    /// Before run(): handler routes of the default table.
    handler_routes& handlers() { return handlers_; }

    /// Called by app::run before the runtime starts: checks the table (config_error naming the
    /// route's line), puts it in front of app.router(), registers the loop hook, the hub's
    /// per-route policies and the SIGHUP reload.
    void attach(runtime& rt);
    /// The route-table filter (http::router::add_filter, filter_order::route_table): true when
    /// the table answered.
    bool dispatch(http::request& req, http::response& res) const;

  private:
    std::shared_ptr<const route_table> build(const std::vector<route_config>& file) const;
    void reload(runtime& rt);

    app& app_;
    std::vector<route_spec> code_;  // defaults and code routes: kept through reloads
    handler_routes handlers_;
};

/// The hub policy rules of routes with history or slow_policy (runtime::make_hub adds them).
std::vector<hub::topic_rule> route_topic_rules(const std::vector<route_config>& rs);

}  // namespace sy::server
