// [auth] in the server: the policy built from the config, the auth filter that attaches a
// principal to every request, and the one gate hub entry points call (docs/auth.md).
//
//   request ──► router filters: limits ─► identity (token -> request::principal) ─► route table
//                                                                                  │
//   /pub, /sub (long poll, SSE, WebSocket on h1/h2), /topics, /jobs, [[routes]], gRPC Hub
//        └──► authorize(req, res, action, topic) ─► auth::policy::allowed(principal, ...)
//                 401 + WWW-Authenticate: Bearer error="invalid_token"  (no or bad token)
//                 403                                                   (valid, not permitted)
//
// Thread: the policy is built on the main thread before the loops start; each loop keeps its
// pointer in loop_state::auth, so a refresh (jwks_url) hands a new one to each loop by posting.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/auth/policy.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/server/config.hpp"

namespace sy::server {

class app;
struct loop_state;

/// Builds [auth]'s policy: reads the secret, PEM and JWKS files. Start-up only (main thread):
/// throws config_error naming the setting. Without [auth] (auth_enabled false) a policy that
/// allows everything.
std::shared_ptr<const auth::policy> make_auth_policy(const auth_config& c);
/// The same with the keys of a JWKS document fetched from auth.jwks_url (server/jwks.cpp; any
/// thread, re-reads the key files) and the policy's unknown-kid callback.
std::shared_ptr<const auth::policy> make_auth_policy(const auth_config& c,
                                                     std::string_view fetched_jwks,
                                                     std::function<void()> on_unknown_kid);

/// The token a request carries: `Authorization: Bearer`, then the query parameter
/// auth.token_query_param, then the cookie auth.token_cookie. Empty: none.
std::string request_token(const http::request& req, const auth_config& c);

/// The calling loop's policy (a disabled one off the loops or before the runtime runs).
const auth::policy& current_policy();

/// Adds the identity filter to a.router() (install_gateway calls it): with [auth] on, a token
/// the request carries is verified once and attached (request::principal), or its refusal
/// recorded (request::token_refused); the filter never answers, the gate does.
void install_auth(app& a);

/// The gate every HTTP hub entry point calls before it touches the hub: true when allowed;
/// otherwise answers 401 (no token or a refused one) or 403 (a valid token without the
/// permission) and returns false. topic: a concrete topic, or a pattern to subscribe to.
bool authorize(const http::request& req, http::response& res, auth::action a,
               std::string_view topic);

/// The same decision without answering (gRPC, WebSocket messages): 0 allowed, 401 or 403.
int authorize_status(const http::request& req, auth::action a, std::string_view topic);
int authorize_status(const auth::principal* p, bool token_refused, auth::action a,
                     std::string_view topic);

/// The 401 of the gate (also the management API's Bearer path): status, WWW-Authenticate.
void send_unauthorized(http::response& res, std::string_view why);

}  // namespace sy::server
