// sy-bench h3: HTTP/3 load over QUIC, a client built on ngtcp2 0.12 (GnuTLS crypto) and
// nghttp3 0.8 (the same library versions as the server's adapter in src/proto/http3).
//
// --connections QUIC connections, each keeping up to --window GET streams of --url open (the
// server's MAX_STREAMS may hold it lower: a stream is opened only when ngtcp2 grants one), for
// --duration seconds or --messages requests. Latency is request submit -> stream closed with the
// whole response read; only :status 200 counts as ok.
//
// THREADS
//   --threads plain threads, each owning its share of connections (one connected UDP socket
//   each) and polling them; they share only run_h3's atomics (request budget, stop flag).
//   The certificate is not verified (a benchmark against test certificates).
//   Not on core::loop_group like the TCP modes: a QUIC connection is driven by ngtcp2's one
//   expiry timestamp and a UDP socket, which a poll() per thread serves with no timer objects.
#pragma once

#include <cstdint>
#include <string>

#include "histogram.hpp"
#include "options.hpp"

namespace sy::bench {

struct h3_result {
    std::uint64_t ok = 0, errors = 0;  // responses: 200 / anything else or a reset stream
    std::uint64_t connected = 0;       // handshakes completed
    std::uint64_t peak_streams = 0;    // most request streams open at once on one connection
    double connect_s = 0;              // start -> the last handshake completed (0 if one never did)
    double run_s = 0;                  // start -> end: the req/s window (handshakes included)
    histogram latency;
    std::string error;  // first fatal error (handshake failure, connection closed early)
};

/// Runs the h3 mode to completion (bounded by --duration + --connect-timeout + a drain).
h3_result run_h3(const options& o);

}  // namespace sy::bench
