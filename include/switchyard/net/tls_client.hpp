// tls_client: the client side of net/tls.hpp, for switchyard's own outbound connections (the
// backplane's rediss:// links). It makes tls_streams in connect state over connected sockets;
// a connection is then a basic_connection<tls_stream> like an accepted TLS one, so there is
// one TLS path (record coalescing, retries, close_notify) for both directions.
//
// Policy: TLS 1.2 and 1.3, OpenSSL's default client suites; the server's certificate is
// verified against ca_file (PEM bundle) or, when empty, the system's default trust store; the
// name checked is server_name (a DNS name: also sent as SNI; an IP literal: matched against
// the certificate's IP SANs, no SNI, as RFC 6066 3 requires). insecure = true skips
// verification (redis-cli --insecure): the link is encrypted but not authenticated.
// cert_file/key_file: a client certificate for servers that ask for one (tls-auth-clients).
//
// The handshake is driven by the stream's first write (the client speaks first) and then by
// reads and writes as bytes arrive (tls_stream::write_wants_read). A failed verification is
// logged with OpenSSL's reason and closes the connection (io_error::other).
//
// Threads: create() at start-up (reads files); make_stream() from any thread (the SSL_CTX is
// immutable after create()); a stream on its connection's loop only.
#pragma once

#include <memory>
#include <string>

#include "switchyard/base/fd.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/net/tls.hpp"

namespace sy::net {

struct tls_client_settings {
    std::string server_name;  ///< the host of the URL: verified, and the SNI unless an IP
    std::string ca_file;      ///< PEM trust anchors; empty: the system's default paths
    std::string cert_file;    ///< client certificate chain (PEM); empty: none
    std::string key_file;     ///< its private key (PEM)
    bool insecure = false;    ///< no certificate verification
};

class tls_client {
  public:
    /// Loads the trust anchors (and client certificate). Start-up only.
    static result<std::unique_ptr<tls_client>, std::string> create(tls_client_settings s);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    /// Wraps a connected socket; fd() == -1 on failure (the connection refuses it).
    tls_stream make_stream(unique_fd fd) const;
    const tls_client_settings& settings() const { return settings_; }

  private:
    tls_client(tls_client_settings s, ssl_ctx_st* ctx) : settings_(std::move(s)), ctx_(ctx) {}
    tls_client_settings settings_;
    ssl_ctx_st* ctx_;
    bool ip_ = false;  // server_name is an IP literal
};

}  // namespace sy::net
