// TLS for accepted connections (OpenSSL 3): a tls_server that owns the certificates, the ticket
// keys and the counters, and a tls_stream per connection that meets net::byte_stream exactly
// like tcp_stream does (a connection is a basic_connection<tls_stream>; no "is TLS" flag).
//
// Policy (not configurable on purpose): TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE + AEAD suites
// only (Mozilla "intermediate"), TLS 1.3 with OpenSSL's default suites; no renegotiation, no
// compression; ALPN in server preference order (default "h2", "http/1.1"; no overlap: no ALPN,
// the connection speaks HTTP/1.1).
//
// Handshake: runs on the owning loop inside tls_stream::read(): read() drives SSL_do_handshake
// and reports would_block until the handshake is done, so the connection's handler sees its
// first on_data only with application bytes. The handshake timeout is the handler's business
// (set_read_deadline; see session/tls_dispatch.hpp).
//
// Session resumption: stateless tickets (RFC 5077 / TLS 1.3 PSK) encrypted with keys derived
// from a random master secret and the current time slot (HMAC-SHA256(master, slot)): a key
// encrypts during one rotation interval and still decrypts during the next (then the ticket is
// renewed). Derivation needs no shared mutable state, so every loop thread computes the same
// keys without a lock; prefork children inherit the master secret when the server is created
// before fork().
//
// SNI: each extra certificate gets its own SSL_CTX with the same policy; the servername callback
// switches to it on exact name match or "*.suffix" wildcard match; anything else gets the
// default certificate.
//
// Reload (SIGHUP): tls_server::reload() builds a new context set from the same files on the
// calling thread and publishes it atomically; new handshakes use it, established connections
// keep the SSL_CTX they started with (each stream holds a reference to its context set). A reload
// that fails (bad file) logs and keeps the old set. Ticket keys survive reloads.
//
// Counters: handshakes (by version and ALPN), resumptions, failures (by tls_failure) and open
// connections are per loop (tls_loop_counters, single writer), handed to make_stream(); reloads
// are process-wide (tls_reload_counters, main thread).
//
// Threads: tls_server::make_stream(), current() and reloads() are safe from any thread (the
// context set is reached through an atomic shared_ptr); reload() from one thread at a time
// (the main thread). A tls_stream is used by its connection's loop thread only.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/net/socket.hpp"
#include "switchyard/net/stream.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace sy::net {

/// One extra certificate served for a server name ("api.example.com" or "*.example.com").
struct tls_certificate {
    std::string server_name;
    std::string cert_file;  ///< PEM chain
    std::string key_file;   ///< PEM private key
};

struct tls_settings {
    std::string cert_file;  ///< default certificate chain (PEM)
    std::string key_file;   ///< its private key (PEM)
    std::vector<tls_certificate> sni;
    /// ALPN protocol ids in server preference order.
    std::vector<std::string> alpn{"h2", "http/1.1"};
    /// Ticket keys: one key encrypts for this long, then decrypts (and renews) for as long again.
    std::chrono::seconds ticket_rotation{3600};
};

/// Parses "name:cert:key" (the tls.sni config strings). false on a malformed value.
bool parse_sni_spec(std::string_view spec, tls_certificate& out);

/// Why a handshake failed: the `reason` label of sy_tls_handshake_failures_total. The mapping
/// from OpenSSL's error reasons is one table in tls_stream.cpp (classify_failure).
enum class tls_failure : std::uint8_t {
    timeout,       ///< not finished within the handshake deadline (counted by the handler)
    protocol,      ///< not TLS / bad record / malformed or unexpected handshake message
    no_shared,     ///< no shared protocol version, cipher suite, group or signature algorithm
    client_alert,  ///< the client sent a fatal alert (e.g. it does not trust our certificate)
    other,         ///< socket error, EOF mid-handshake, anything else
    count_,
};
const char* to_string(tls_failure f);

/// Per-loop TLS counters: one object per event loop (server::loop_state::tls), written only by
/// that loop's thread through its connections' tls_streams (core::counter: no locked
/// instruction per handshake), read by /metrics from any thread and summed over the loops.
struct tls_loop_counters {
    /// Completed handshakes by [version][alpn]: version 0 = TLSv1.2, 1 = TLSv1.3;
    /// alpn 0 = "h2", 1 = "http/1.1", 2 = none (another id cannot be selected).
    core::counter handshakes[2][3];
    core::counter resumed;  ///< completed with a ticket (stateless resumption)
    core::counter failures[static_cast<std::size_t>(tls_failure::count_)];
    /// Established TLS connections: open now = established - ended (read ended first).
    core::counter established, ended;
};

/// Certificate reloads (SIGHUP): process-wide, written by the main thread only.
struct tls_reload_counters {
    std::atomic<std::uint64_t> ok{0};
    std::atomic<std::uint64_t> failed{0};
};

class tls_context_set;
class ticket_keys;

/// What the handshake negotiated, for the connection's handler. Lives on the heap for the
/// stream's lifetime (its address survives moves of the stream), so a handler may keep a pointer
/// while its connection is open. Loop thread only.
class tls_info {
  public:
    bool handshake_done() const { return done_; }
    /// The ALPN protocol selected ("h2", "http/1.1"), "" when none.
    std::string_view alpn() const;
    /// The SNI host name the client asked for, "" when none.
    std::string_view server_name() const;
    bool resumed() const;
    /// "TLSv1.3", "TLSv1.2".
    std::string_view version() const;
    /// The handler gave up waiting for the handshake (its read deadline): counts one
    /// tls_failure::timeout unless the handshake already finished or failed. Loop thread.
    void count_handshake_timeout() const;

  private:
    friend class tls_stream;
    friend class tls_server;
    friend class tls_client;
    ssl_st* ssl_ = nullptr;
    std::shared_ptr<const tls_context_set> contexts_;  // keeps the SSL_CTXs alive
    tls_loop_counters* counters_ = nullptr;            // the owning loop's; nullptr: not counted
    bool done_ = false;
    mutable bool failed_ = false;    // a failure was counted (once per connection)
    bool ended_ = false;             // close() counted the end of an established connection
    bool read_wants_write_ = false;  // the last read() stopped because the socket was full
    bool write_wants_read_ = false;  // the last write stopped for the peer's handshake flight
};

/// A TLS connection over a TCP socket, accepted (tls_server) or connected (tls_client, see
/// net/tls_client.hpp). Meets net::byte_stream, plus the optional members a connection looks
/// for: buffered() (decrypted bytes OpenSSL holds that no poller event will announce),
/// read_wants_write() (the last read would_block on socket writability) and write_wants_read()
/// (the last write would_block until the peer's bytes arrive: a client's first write drives its
/// handshake, which waits for the server's flight; the connection retries on EPOLLIN).
class tls_stream {
  public:
    tls_stream() = default;
    tls_stream(tls_stream&&) noexcept = default;
    tls_stream& operator=(tls_stream&&) noexcept = default;
    ~tls_stream();

    int fd() const { return fd_.get(); }
    /// Drives the handshake first; then decrypts up to buf.size() bytes.
    result<std::size_t, io_error> read(mutable_byte_view buf);
    /// Encrypts from iov (small slices are coalesced into full records). OpenSSL's retry rule
    /// (same bytes after would_block) holds because the connection re-offers unconsumed output.
    result<std::size_t, io_error> writev(const iovec* iov, int n);
    /// No zero copy over TLS: reads the file range in record-sized chunks and encrypts them.
    result<std::size_t, io_error> sendfile(int file_fd, off_t off, std::size_t len);
    /// Sends close_notify (best effort), then FIN.
    void shutdown_write();
    void close(bool abort);

    std::size_t buffered() const;
    bool read_wants_write() const { return st_ && st_->read_wants_write_; }
    bool write_wants_read() const { return st_ && st_->write_wants_read_; }
    const tls_info& info() const { return *st_; }

  private:
    friend class tls_server;
    friend class tls_client;
    struct ssl_deleter {
        void operator()(tls_info* p) const;
    };
    result<std::size_t, io_error> fail(int rc, bool reading);
    result<void, io_error> handshake(bool reading);

    unique_fd fd_;
    std::unique_ptr<tls_info, ssl_deleter> st_;
};
static_assert(byte_stream<tls_stream>);

/// Certificates, policy, ticket keys and counters for one or more TLS listeners.
class tls_server {
  public:
    /// Loads and checks every certificate and key. Start-up only (returns the reason on error).
    static result<std::unique_ptr<tls_server>, std::string> create(tls_settings s);
    ~tls_server();
    tls_server(const tls_server&) = delete;
    tls_server& operator=(const tls_server&) = delete;

    /// Wraps an accepted socket on the loop thread that will own the connection. The handshake
    /// starts on the first read(). counters: that loop's (must outlive the stream; nullptr: none).
    tls_stream make_stream(unique_fd fd, tls_loop_counters* counters = nullptr);
    /// Re-reads every certificate and key file; on success new handshakes use them. Main thread.
    result<void, std::string> reload();

    const tls_settings& settings() const { return settings_; }
    const tls_reload_counters& reloads() const { return reloads_; }

  private:
    tls_server(tls_settings s, std::shared_ptr<ticket_keys> keys);
    result<std::shared_ptr<const tls_context_set>, std::string> build() const;

    tls_settings settings_;
    std::shared_ptr<ticket_keys> keys_;
    std::atomic<std::shared_ptr<const tls_context_set>> current_;
    tls_reload_counters reloads_;
};

}  // namespace sy::net
