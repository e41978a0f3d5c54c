// h3_server / h3 connections: HTTP/3 over QUIC on one loop, the glue between a UDP socket of the
// runtime's datagram endpoint, the QUIC adapter (proto/http3) and the router.
//
// Each loop has one h3_server. A datagram reaches it by its first byte (QUIC's ranges of the
// endpoint's demultiplexer). Its DCID finds the connection in the loop's table; a server-chosen
// ID (http3::k_cid_len bytes) names its owner loop in its first byte, so a packet that landed on
// another loop (the client's address or port changed, and SO_REUSEPORT hashed it elsewhere) is
// handed back: on_datagram returns the owner's index and the caller forwards it there. Unknown
// IDs: an Initial opens a connection (or gets a Retry, see retry_mode), a short header gets a
// stateless reset, the rest is dropped.
//
// A connection is a net::datagram_flow (it counts against limits.max_connections and hears the
// server's shutdown: GOAWAY, then CONNECTION_CLOSE when its streams are done). Each request
// stream gets a response sink (stream_sink): handlers see the same http::response as on h1/h2.
// Timers: one loop timer per connection at ngtcp2's expiry (loss detection, ACK delay, pacing,
// idle timeout). Output: packets leave as GSO trains through the endpoint's socket before the
// loop sleeps.
// Thread: everything here runs on the loop that owns the h3_server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "switchyard/core/counter.hpp"
#include "switchyard/hub/sublist.hpp"
#include "switchyard/net/datagram.hpp"
#include "switchyard/net/udp_socket.hpp"
#include "switchyard/proto/http3/quic.hpp"
#include "switchyard/session/http_context.hpp"

namespace sy::session {

/// tls.http3_retry: when a new connection must first prove its address with a Retry.
enum class retry_mode : std::uint8_t { never, always, automatic };
bool parse_retry_mode(std::string_view s, retry_mode& out);

/// Per loop, written by that loop, read by /metrics from any thread.
struct h3_counters {
    core::counter connections;  ///< connections accepted
    core::counter handshakes;   ///< TLS handshakes completed
    core::counter retries;      ///< Retry packets sent
    core::counter refused;      ///< Initials dropped: connection or handshake limit, shutdown
    core::counter packets_in, packets_out;
    core::counter lost;        ///< packets with stream data declared lost (closed connections)
    core::counter migrations;  ///< validated moves of a client to a new address
    core::counter forwarded;   ///< packets handed to their owner loop
    core::counter stateless_resets, version_negotiations, dropped;
    core::counter rtt_us;       ///< smoothed RTT of the last connection that closed (gauge)
    core::counter open;         ///< connections open now (gauge)
    core::counter handshaking;  ///< handshakes in progress (gauge)
};

struct h3_options {
    http3::settings quic;
    retry_mode retry = retry_mode::automatic;
    /// automatic: Retry once this many handshakes are in progress on the loop.
    std::uint64_t retry_threshold = 64;
    /// automatic: also Retry once more Initials than this arrived on the loop in the current
    /// second. Forged Initials (spoofed addresses, undecryptable) never become handshakes in
    /// progress, so only their rate shows a flood.
    std::uint64_t retry_rate = 256;
    /// Handshakes in progress per loop beyond which Initials are dropped (RFC 9000 21.3).
    std::uint64_t max_handshakes = 1024;
    /// A stream's unacknowledged response bytes above which writes report backpressure / below
    /// which on_drain fires (limits.output_high_water / output_low_water).
    std::size_t high_watermark = 1024 * 1024;
    std::size_t low_watermark = 256 * 1024;
    /// The first byte of this loop's connection IDs is cid_base + the loop's index: under prefork
    /// cid_base is the child's first member of the port's reuseport group (the kernel steers by
    /// that byte, see datagram_route::steer_cid_len); 0 in the threads models.
    std::uint8_t cid_base = 0;
};

class h3_conn;

class h3_server {
  public:
    /// counters: the loop's (they outlive the server for a late scrape).
    h3_server(http_context& ctx, const http3::server_tls& tls, const h3_options& o,
              h3_counters& counters, std::uint8_t loop_index, unsigned loop_count,
              net::datagram_flow_list& flows, net::connection_limit* limit, net::io_counters* io);
    ~h3_server();
    h3_server(const h3_server&) = delete;
    h3_server& operator=(const h3_server&) = delete;

    /// One datagram from sock (QUIC's first-byte range). Returns -1 when handled here, else the
    /// index of the loop that owns its connection (the caller forwards it there).
    int on_datagram(net::udp_socket& sock, const net::datagram& d);

    h3_counters& counters() { return counters_; }
    const h3_options& options() const { return opts_; }

  private:
    friend class h3_conn;
    void accept(net::udp_socket& sock, const net::datagram& d, const http3::packet_ids& ids,
                const http3::sock_path& path);
    void send(net::udp_socket& sock, const std::uint8_t* p, std::size_t n, const net::address& to,
              const net::address* from);
    void forget(h3_conn& c);
    bool under_load(std::int64_t now);

    http_context& ctx_;
    const http3::server_tls& tls_;
    h3_options opts_;
    std::uint8_t loop_;
    std::uint8_t cid_byte_;  // opts_.cid_base + loop_
    unsigned loop_count_;
    net::datagram_flow_list& flows_;
    net::connection_limit* limit_;
    net::io_counters* io_;
    h3_counters& counters_;
    // Every ID a connection answers to; looked up by view (no string per packet).
    std::unordered_map<std::string, h3_conn*, hub::string_hash, std::equal_to<>> cids_;
    std::unordered_map<h3_conn*, std::unique_ptr<h3_conn>> conns_;
    std::unique_ptr<std::uint8_t[]> buf_;  // one train of output (64 KiB)
    std::int64_t initials_since_ = 0;      // start of the current one-second window (ns)
    std::uint64_t initials_ = 0;           // Initials for unknown IDs seen in it
};

}  // namespace sy::session
