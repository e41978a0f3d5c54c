// The routes the switchyard binary serves besides the user's: POST /echo (conformance tests),
// GET /metrics (Prometheus text), GET /debug/listeners and /debug/connections (JSON), optional
// POST /debug/stall, GET /admin (the dashboard page) and the static files (default: the bundled
// www/).
#pragma once

#include <string>

#include "switchyard/server/app.hpp"

namespace sy::server {

/// Adds the built-in routes to a. static_dir empty: no static files.
void install_builtin_routes(app& a, const std::string& static_dir, bool allow_stall);

/// Where @switchyard/client is served: k_client_prefix + "index.js" (and index.d.ts).
inline constexpr const char* k_client_prefix = "/lib/switchyard-client/";

/// The files of client_dir (the client_dir setting: the bundled clients/js/src by default), for
/// a route k_client_prefix + "*path"; a missing directory is a config_error naming client_dir.
http::handler client_files(const std::string& client_dir);

/// GET /admin: static_dir's admin.html (the live dashboard, docs/dashboard.md). Any listener's
/// router may mount it; the page's URLs are relative, so it works from any origin that also
/// serves static_dir's js/, style.css and admin.css and the hub's /sub (and /pub, /debug/stall,
/// /api/): the main port, and the management listener (management_http.cpp).
http::handler admin_page(const std::string& static_dir);

/// POST /debug/stall?ms=N (debug_stall only): stops accepting on every listener for N ms (at
/// most 60 s), so the accept queue fills and overflows where /metrics and /admin show it.
http::handler stall_handler(app& a);

/// Prometheus text exposition of everything the runtime counts (see docs/metrics.md).
std::string render_metrics(runtime& rt, metrics::scope sc = metrics::scope::aggregated);
/// JSON for /debug/listeners (any thread).
std::string render_listeners_json(runtime& rt);

}  // namespace sy::server
