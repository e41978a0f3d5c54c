// HTTP/3 on the runtime (tls.http3): a datagram_route claiming QUIC's first bytes on every
// tls.listen address, one session::h3_server per loop (a loop slot), Alt-Svc on h1/h2, and the
// sy_quic_* metric families. docs/http3.md.
#pragma once

#include "switchyard/base/json.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

/// Before run(), when cfg.tls.http3: loads the certificates into GnuTLS (a config_error names
/// the setting that failed) and installs the route, the per-loop servers and the metrics.
void install_http3(runtime& rt, const server_config& cfg);

/// Writes "quic": {connections_total, handshakes_total, retries_total, ..., rtt_microseconds}
/// (the sy_quic_* families, summed over the loops, without the prefix) into an open object, for
/// the management API's GET /api/overview; nothing when tls.http3 is off. Any thread.
void write_quic_overview(runtime& rt, json::writer& w);

}  // namespace sy::server
