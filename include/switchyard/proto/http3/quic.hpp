// http3: QUIC (ngtcp2 0.12) + HTTP/3 (nghttp3 0.8) + TLS 1.3 (GnuTLS) behind one small adapter.
//
// Every ngtcp2, nghttp3 and GnuTLS call of the server lives in src/proto/http3/, so moving to
// ngtcp2 1.x (renamed API, versioned structs) touches this folder only. The adapter is sans-IO
// like the other codecs: datagrams go in (conn::read), datagrams to send are pulled out
// (conn::write), time is passed in (nanoseconds of a monotonic clock) and the next deadline read
// back (conn::expiry); it never opens a socket or arms a timer. Addresses are plain sockaddrs so
// this layer depends on base only.
//
// Events (requests, bodies, stream ends) reach the caller through `events`, synchronously from
// inside read()/write()/on_expiry(); the views they carry live for the call.
// Thread: one conn on one thread; server_tls and the stateless helpers are immutable after
// creation and may be shared by every loop.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"

namespace sy::http3 {

/// Server-chosen connection IDs: k_cid_len bytes, the first naming the loop that owns the
/// connection (so any loop can route a short-header packet without a shared table).
inline constexpr std::size_t k_cid_len = 18;
inline constexpr std::size_t k_max_cid_len = 20;

struct cid {
    std::array<std::uint8_t, k_max_cid_len> data{};
    std::size_t len = 0;
    byte_view bytes() const { return {data.data(), len}; }
    friend bool operator==(const cid& a, const cid& b) {
        return a.len == b.len && std::equal(a.data.begin(), a.data.begin() + a.len, b.data.begin());
    }
};

/// The routing facts of a datagram's first packet (RFC 9000 17, RFC 8999).
struct packet_ids {
    std::uint32_t version = 0;  ///< 0 for a short header
    cid dcid;
    cid scid;
    bool long_header = false;
};
enum class decode_outcome : std::uint8_t {
    ok,
    version_negotiation,  ///< a long header of a version we do not speak: answer with VN
    bad,                  ///< not a QUIC packet we can route: drop
};
decode_outcome decode_ids(byte_view pkt, packet_ids& out);

/// Fills c with a fresh random server connection ID whose first byte is `loop`.
void make_cid(cid& c, std::uint8_t loop);

/// A path: where the datagram came to and from (or goes from and to).
struct sock_path {
    const sockaddr* local = nullptr;
    socklen_t local_len = 0;
    const sockaddr* remote = nullptr;
    socklen_t remote_len = 0;
};

/// The certificates QUIC serves (GnuTLS credentials: the tls.cert/tls.key pair and the SNI set,
/// chosen by GnuTLS from the client's server_name), and the process's secrets for Retry tokens
/// and stateless reset tokens (random at start; under prefork made before the fork so every
/// child accepts every child's tokens).
class server_tls {
  public:
    struct certificate {
        std::string cert_file, key_file;
    };
    static result<std::unique_ptr<server_tls>, std::string> load(
        const certificate& main, const std::vector<certificate>& sni);
    ~server_tls();
    server_tls(const server_tls&) = delete;
    server_tls& operator=(const server_tls&) = delete;

    struct impl;
    impl& get() const { return *impl_; }

  private:
    server_tls() = default;
    std::unique_ptr<impl> impl_;
};

struct settings {
    std::uint64_t max_streams_bidi = 100;          ///< concurrent request streams per connection
    std::uint64_t max_stream_window = 256 * 1024;  ///< per stream receive window
    std::uint64_t max_data = 1024 * 1024;          ///< per connection receive window
    std::uint64_t idle_timeout_ms = 30000;
    std::uint64_t handshake_timeout_ms = 10000;
    std::uint64_t active_cid_limit = 4;  ///< connection IDs the peer may hold for us
    std::uint64_t max_header_bytes = 16 * 1024;
};

/// A field of a request or response head. Views: see the event that carries them.
struct field {
    std::string_view name;
    std::string_view value;
};

struct request_head {
    std::int64_t stream = 0;
    std::string_view method, scheme, authority, path, protocol;
    std::span<const field> headers;  ///< regular fields (lower-case names), in order
};

struct conn_stats {
    std::uint64_t smoothed_rtt_us = 0;
    std::uint64_t min_rtt_us = 0;
    std::uint64_t cwnd = 0;
    std::uint64_t bytes_in_flight = 0;
    std::uint64_t lost_packets = 0;  ///< packets with STREAM frames declared lost (closed streams)
    std::uint64_t path_changes = 0;  ///< validated migrations to a new peer address
};

/// What a conn reports. Called synchronously from conn's members (never after the conn died).
class events {
  public:
    virtual ~events() = default;
    /// A request head (fin: no body follows). The views live for the call.
    virtual void on_request(const request_head& h, bool fin) = 0;
    /// Request body bytes (the window is given back once this returns) and its end.
    virtual void on_body(std::int64_t stream, byte_view bytes) = 0;
    virtual void on_body_end(std::int64_t stream) = 0;
    /// The peer acknowledged response bytes of stream: queued(stream) went down.
    virtual void on_acked(std::int64_t stream) = 0;
    /// The stream is gone (finished both ways, or reset by either side).
    virtual void on_stream_closed(std::int64_t stream) = 0;
    /// The connection now answers to another ID (register it) / no longer to this one.
    virtual void on_cid_added(const cid& c) = 0;
    virtual void on_cid_retired(const cid& c) = 0;
    /// The TLS handshake completed.
    virtual void on_handshake_done() = 0;
};

enum class conn_state : std::uint8_t {
    open,
    failed,    ///< a protocol error was noted: call close() to send CONNECTION_CLOSE
    closing,   ///< we sent CONNECTION_CLOSE: answer packets with it again, then drop
    draining,  ///< the peer closed: send nothing, drop after the drain period
    dead,      ///< drop now
};

/// A train of datagrams conn::write produced: `len` bytes, datagrams of `segment` bytes (the
/// last may be shorter) for one path and one ECN codepoint: one GSO send.
struct train {
    std::size_t len = 0;
    std::size_t segment = 0;
    std::uint8_t ecn = 0;
    sockaddr_storage remote{};
    socklen_t remote_len = 0;
};

/// Whether a new connection must prove its address first (Retry, RFC 9000 8.1.2).
struct accept_params {
    cid scid;                    ///< our first connection ID (make_cid with the owner loop)
    const cid* odcid = nullptr;  ///< the Initial's original DCID when a Retry token was valid
    bool address_validated = false;
};

class conn {
  public:
    /// A connection for a client Initial (ngtcp2_accept passed: see classify_initial). nullptr
    /// and why in err if the library refused.
    static std::unique_ptr<conn> accept(const settings& s, const server_tls& tls, byte_view pkt,
                                        const sock_path& path, const accept_params& a, events& ev,
                                        std::uint64_t now_ns, std::string& err);
    ~conn();
    conn(const conn&) = delete;
    conn& operator=(const conn&) = delete;

    /// One datagram of this connection. The state says what to do next.
    conn_state read(const sock_path& path, byte_view pkt, std::uint8_t ecn, std::uint64_t now_ns);
    /// Packets to send, up to the send quantum (pacing: call again when expiry() passes):
    /// fills buf (cap >= 64 KiB) with one train; t.len == 0 when nothing is due.
    conn_state write(std::uint8_t* buf, std::size_t cap, train& t, std::uint64_t now_ns);
    /// The next deadline (ns, same clock), UINT64_MAX for none.
    std::uint64_t expiry() const;
    conn_state on_expiry(std::uint64_t now_ns);
    conn_state state() const { return state_; }
    /// Starts closing with NO_ERROR (or the error noted so far): the CONNECTION_CLOSE packet goes
    /// into buf (t.len 0 if none could be made); state() becomes closing.
    void close(std::uint8_t* buf, std::size_t cap, train& t, std::uint64_t now_ns);
    /// The last CONNECTION_CLOSE again (a packet arrived while closing).
    bool resend_close(std::uint8_t* buf, std::size_t cap, train& t) const;
    /// HTTP/3 GOAWAY (graceful shutdown): no new requests, those in flight finish.
    void goaway();
    bool handshake_done() const { return handshake_done_; }
    /// The duration of the closing/draining period (3 PTO), ns.
    std::uint64_t close_period_ns() const;

    // ---- responses (stream = the request's stream) ----
    /// The response head; has_body false ends the stream with it. false if the stream is gone.
    bool submit_response(std::int64_t stream, int status, std::span<const field> fields,
                         bool has_body);
    /// Body bytes, kept (refcounted) until the peer acknowledged them.
    bool submit_data(std::int64_t stream, shared_bytes bytes);
    /// The end of the body, with trailers if any (an HTTP/3 trailing HEADERS frame).
    bool submit_end(std::int64_t stream, std::span<const field> trailers = {});
    /// Abandons the stream both ways (RESET_STREAM + STOP_SENDING, H3_INTERNAL_ERROR or the
    /// given code, e.g. H3_REQUEST_REJECTED 0x10b, H3_NO_ERROR 0x100).
    void reset_stream(std::int64_t stream, std::uint64_t h3_code = 0x102);
    /// Stops reading a request body nobody wants (STOP_SENDING H3_NO_ERROR).
    void stop_reading(std::int64_t stream);
    /// Body bytes submitted and not yet acknowledged.
    std::size_t queued(std::int64_t stream) const;
    std::size_t open_streams() const;

    conn_stats stats() const;
    /// The peer's current address.
    sock_path current_path() const;
    /// The connection IDs it answers to now (for the loop's table).
    std::vector<cid> scids() const;

    struct impl;

  private:
    conn() = default;
    std::unique_ptr<impl> impl_;
    conn_state state_ = conn_state::open;
    bool handshake_done_ = false;
};

/// The stateless answers (RFC 9000 5.2.2, 6, 8.1.2, 10.3), each into buf; 0 = nothing to send.
std::size_t write_version_negotiation(std::uint8_t* buf, std::size_t cap, const packet_ids& ids);
/// Retry for an Initial (its datagram) from remote: a token bound to remote and the original
/// DCID, valid for token_lifetime_ms.
std::size_t write_retry(const server_tls& tls, std::uint8_t* buf, std::size_t cap,
                        byte_view initial, const sock_path& path, std::uint8_t loop,
                        std::uint64_t now_ns);
/// A stateless reset for a short-header packet of an unknown connection (at most pkt_len - 1
/// bytes, so two endpoints cannot loop).
std::size_t write_stateless_reset(const server_tls& tls, std::uint8_t* buf, std::size_t cap,
                                  const cid& dcid, std::size_t pkt_len);

/// What to do with a datagram whose DCID names no connection.
enum class initial_verdict : std::uint8_t {
    accept,       ///< a client Initial: make a conn (accept_params filled)
    retry,        ///< answer with write_retry
    refuse,       ///< a bad or expired token: drop (the client retries the handshake)
    not_initial,  ///< anything else: stateless reset (short header) or drop
};
/// Classifies a datagram for an unknown DCID. want_retry: the server's Retry policy asks for an
/// address check (tls.http3_retry: always, or auto under load). Fills a.odcid's storage in odcid.
initial_verdict classify_initial(const server_tls& tls, byte_view pkt, const sock_path& path,
                                 bool want_retry, std::uint64_t now_ns, accept_params& a,
                                 cid& odcid);

}  // namespace sy::http3
