// The routes the switchyard binary serves besides the user's: POST /echo (conformance tests),
// GET /metrics (Prometheus text), GET /debug/listeners and /debug/connections (JSON), optional
// POST /debug/stall, and the static files (default: the bundled www/).
#pragma once

#include <string>

#include "switchyard/server/app.hpp"

namespace sy::server {

/// Adds the built-in routes to a. static_dir empty: no static files.
void install_builtin_routes(sy::app& a, const std::string& static_dir, bool allow_stall);

/// Prometheus text exposition of everything the runtime counts (see docs/metrics.md).
std::string render_metrics(runtime& rt, metrics::scope sc = metrics::scope::aggregated);
/// JSON for /debug/listeners (any thread).
std::string render_listeners_json(runtime& rt);

}  // namespace sy::server
