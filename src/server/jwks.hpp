// auth.jwks_url (docs/auth.md): the JWKS document fetched over http:// or https://, at start-up
// and then on a timer and on an unknown kid, each new key set handed to every loop by a post.
//
//   start-up (main thread): fetch, retried for auth.jwks_startup_wait_s; still failing: the
//     server does not start (config_error naming the URL and the last error).
//   running: loop 0 owns the schedule (auth.jwks_refresh_s; an unknown kid asks for a fetch at
//     most every auth.jwks_min_refresh_s); the fetch and the key parsing run on the thread pool,
//     never on a loop; a new policy is posted to every loop (loop_state::auth), so the verify
//     path takes no lock. A failed fetch keeps the previous keys (a warning, and
//     sy_auth_jwks_fetch_total{result="error"}).
#pragma once

#include <cstdint>
#include <string>

#include "switchyard/base/result.hpp"
#include "switchyard/server/config.hpp"

namespace sy::server {

class runtime;

struct fetch_options {
    std::uint64_t timeout_ms = 5000;    // the whole fetch: resolve, connect, TLS, response
    std::uint64_t max_bytes = 1 << 20;  // response body
    std::string ca_file;                // https trust anchors; empty: OpenSSL's default paths
};

/// A blocking GET of an http:// or https:// URL (any thread but a loop's): the body of a 200, or
/// an error naming what failed. https verifies the certificate chain and the host name (or IP).
result<std::string, std::string> fetch_url(const std::string& url, const fetch_options& o);

/// With auth.jwks_url set: the first fetch (main thread, before run(); throws config_error when
/// it keeps failing), rt.set_auth_policy with its keys, the refresh schedule on loop 0 and the
/// sy_auth_jwks_fetch_total family. Nothing without jwks_url.
void install_jwks_refresh(runtime& rt);

}  // namespace sy::server
