// permessage-deflate (RFC 7692): negotiation of the four parameters and the zlib raw-deflate
// compressor/decompressor for messages.
//
// Sharing compressed frames: a server that publishes one message to many subscribers may compress
// it ONCE and share the framed bytes only if every subscriber's compressor starts each message
// from an empty window, i.e. server_no_context_takeover was negotiated on each of those
// connections (see can_share_compressed_frames). With context takeover, each connection's
// compressed bytes depend on what that connection sent before, so each must compress on its own.
//
// Thread: a deflater/inflater belongs to one connection (one loop); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/ws/error.hpp"

namespace sy::ws {

/// Local policy for permessage-deflate.
struct deflate_config {
    bool enabled = false;
    /// Ask for / require these (server: added to the response; client: added to the offer).
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    /// Upper bounds (8..15) this side wants; 15 = no limit. zlib cannot compress with an 8-bit
    /// window (it silently uses 9), so a server declines offers that force
    /// server_max_window_bits=8.
    int server_max_window_bits = 15;
    int client_max_window_bits = 15;
    int level = 6;      // zlib compression level for outgoing messages
    int mem_level = 8;  // zlib memLevel (memory per connection ~ (1 << (mem_level + 9)))
    /// Messages shorter than this are sent uncompressed (RSV1 clear); deflate rarely pays below it.
    std::size_t min_compress_size = 64;
};

/// What was agreed for one connection (RFC 7692 7.1).
struct deflate_params {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 15;
    int client_max_window_bits = 15;

    /// The Sec-WebSocket-Extensions value of the response ("permessage-deflate; ...").
    std::string to_header() const;
    bool operator==(const deflate_params&) const = default;
};

/// Server side (RFC 7692 5, 7.1): picks the first acceptable permessage-deflate offer in the
/// request's Sec-WebSocket-Extensions value (several header lines joined with ", "). Offers with
/// unknown, repeated or out-of-range parameters are declined. Returns nullopt when nothing is
/// acceptable (the connection then runs without compression).
std::optional<deflate_params> negotiate_deflate(std::string_view extensions,
                                                const deflate_config& cfg);

/// Client side: the offer to send (always offers client_max_window_bits), and the check of the
/// server's response (RFC 7692 7.1). Returns false when the response is invalid (the client must
/// then fail the connection); on success `out` is empty when the server declined compression.
std::string deflate_offer(const deflate_config& cfg);
bool accept_deflate_response(std::string_view extensions, const deflate_config& cfg,
                             std::optional<deflate_params>& out);

/// True when compressed frames from this side can be framed once and shared across
/// connections: no context takeover on the sending side.
constexpr bool can_share_compressed_frames(const deflate_params& p, bool is_server) {
    return is_server ? p.server_no_context_takeover : p.client_no_context_takeover;
}

/// Compressor for outgoing messages.
class deflater {
  public:
    /// window_bits 9..15 (8 is raised to 9, see deflate_config).
    deflater(int window_bits, bool no_context_takeover, int level = 6, int mem_level = 8);
    ~deflater();
    deflater(const deflater&) = delete;
    deflater& operator=(const deflater&) = delete;

    /// Appends the compressed form of a whole message to out, without the trailing
    /// 00 00 FF FF (RFC 7692 7.2.1).
    result<void, error> compress(byte_view message, byte_buffer& out);

  private:
    struct impl;
    std::unique_ptr<impl> p_;
    bool no_context_takeover_;
};

/// Decompressor for incoming messages. Feed each (unmasked) payload piece of a compressed
/// message in order, then finish(). The inflated size is checked against the limit while
/// inflating, so a small "zip bomb" frame never allocates more than limit bytes.
class inflater {
  public:
    inflater(int window_bits, bool no_context_takeover);
    ~inflater();
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;

    /// Inflates in, appending to out; fails with message_too_big when out would exceed limit
    /// bytes in total (out.size() counts), or inflate_failed on corrupt data.
    result<void, error> feed(byte_view in, byte_buffer& out, std::size_t limit);
    /// Feeds the 00 00 FF FF tail (RFC 7692 7.2.2) and ends the message (resetting the window
    /// when the peer does not take over context).
    result<void, error> finish(byte_buffer& out, std::size_t limit);

  private:
    struct impl;
    std::unique_ptr<impl> p_;
    bool no_context_takeover_;
};

}  // namespace sy::ws
