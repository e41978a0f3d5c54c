// The WebSocket opening handshake (RFC 6455 4), both sides, sans-IO.
//
// Server: the HTTP layer parses the request head and passes the relevant header values here
// (several lines of one header joined with ", "; an absent header is an empty view).
// accept_handshake() returns the 101 response to write, or an error whose HTTP status comes from
// the one table status_for(). Nothing here reads or writes a socket.
//
// Client: client_handshake builds the GET request with a fresh random key, and checks the
// server's response head (parse_response_head is a minimal parser for that head so tools need no
// HTTP/1 codec).
//
// All functions are thread-safe (no shared state); the structs hold views into caller memory
// that must outlive the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/ws/deflate.hpp"

namespace sy::ws {

enum class handshake_error : std::uint8_t {
    bad_method,           // not GET (4.2.1 item 1)                         -> 400 (405 elsewhere)
    bad_http_version,     // below HTTP/1.1                                 -> 400
    missing_host,         // no Host (4.2.1 item 2)                         -> 400
    bad_upgrade,          // Upgrade lacks "websocket" (item 3)             -> 400
    bad_connection,       // Connection lacks "Upgrade" (item 4)            -> 400
    bad_key,              // Sec-WebSocket-Key not base64 of 16 bytes (5)   -> 400
    missing_version,      // no Sec-WebSocket-Version (item 6)              -> 400
    unsupported_version,  // version other than 13 (4.4)                    -> 426 + header
    forbidden_origin,     // Origin not in the allow-list (4.2.2 item 1)    -> 403
    // Client side only (validating the server's response, 4.1):
    bad_status,           // not 101
    bad_accept,           // Sec-WebSocket-Accept mismatch
    bad_protocol,         // subprotocol we did not offer
    bad_extensions,       // extension we did not offer / invalid parameters
    incomplete_response,  // response head malformed
};

struct handshake_error_info {
    int http_status;  // server side: the status to answer with; 0 for client-side errors
    std::string_view name;
};
/// The one table: handshake error -> HTTP status and name.
handshake_error_info info_for(handshake_error e);
inline int status_for(handshake_error e) {
    return info_for(e).http_status;
}
std::string_view to_string(handshake_error e);

struct handshake_request {
    std::string_view method;        // "GET"
    std::string_view http_version;  // "HTTP/1.1"
    std::string_view host;
    std::string_view upgrade;
    std::string_view connection;
    std::string_view key;         // Sec-WebSocket-Key
    std::string_view version;     // Sec-WebSocket-Version
    std::string_view protocol;    // Sec-WebSocket-Protocol (offered, comma-separated)
    std::string_view extensions;  // Sec-WebSocket-Extensions
    std::string_view origin;
    /// RFC 8441 (WebSocket over HTTP/2 extended CONNECT, presented as GET + Upgrade): there is no
    /// Sec-WebSocket-Key, so it is not checked and the response has no accept value; the other
    /// checks (version, origin, subprotocol, extensions) apply as in RFC 6455.
    bool extended_connect = false;
};

struct handshake_config {
    std::vector<std::string> subprotocols;     // supported, in OUR preference order
    std::vector<std::string> allowed_origins;  // exact match (case-insensitive); empty = all
    deflate_config deflate;
};

struct handshake_response {
    std::string accept;    // Sec-WebSocket-Accept
    std::string protocol;  // chosen subprotocol, empty = none
    std::optional<deflate_params> deflate;

    /// Appends "HTTP/1.1 101 Switching Protocols" and its headers, ending with the blank line.
    void write(byte_buffer& out) const;
};

/// Server side of RFC 6455 4.2.1/4.2.2.
result<handshake_response, handshake_error> accept_handshake(const handshake_request& req,
                                                             const handshake_config& cfg);

/// Appends the full HTTP error response for a refused handshake (status line, for 426 the
/// `Sec-WebSocket-Version: 13` header, Content-Length: 0, Connection: close).
void write_rejection(byte_buffer& out, handshake_error e);

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 4.2.2 item 5.4.
std::string compute_accept(std::string_view key);

/// True for base64 that decodes to exactly 16 bytes (RFC 6455 4.1 item 7).
bool is_valid_key(std::string_view key);

/// A parsed HTTP response head. Views point into the bytes given to parse_response_head.
struct response_head {
    int status = 0;
    std::string_view upgrade, connection, accept, protocol, extensions;
    std::size_t head_size = 0;  // bytes up to and including the blank line
};

/// Parses a response head ending in CRLF CRLF. Returns nullopt if it is not complete yet, or an
/// error if it is malformed. Repeated headers of interest are not joined (last one wins).
result<std::optional<response_head>, handshake_error> parse_response_head(byte_view in);

struct client_options {
    std::string host;  // Host header value, with port when not default
    std::string path = "/";
    std::string origin;                     // empty = no Origin header
    std::vector<std::string> subprotocols;  // offered, in preference order
    deflate_config deflate;                 // enabled = offer permessage-deflate
};

struct client_result {
    std::string protocol;
    std::optional<deflate_params> deflate;
};

class client_handshake {
  public:
    /// Draws a random 16-byte key (OpenSSL RAND_bytes).
    explicit client_handshake(client_options opts);
    /// Test hook: a fixed key (must be valid base64 of 16 bytes).
    client_handshake(client_options opts, std::string key);

    /// Appends the GET request (RFC 6455 4.1).
    void write_request(byte_buffer& out) const;
    /// Checks the server's answer (RFC 6455 4.1, the client's "MUST fail" list).
    result<client_result, handshake_error> validate(const response_head& r) const;

    const std::string& key() const { return key_; }
    const std::string& expected_accept() const { return accept_; }

  private:
    client_options opts_;
    std::string key_;
    std::string accept_;
};

}  // namespace sy::ws
