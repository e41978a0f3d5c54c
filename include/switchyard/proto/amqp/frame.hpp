// AMQP 0-9-1 framing (amqp0-9-1.pdf 4.2.2 protocol header, 4.2.3 general frame format), sans-IO.
//
//   protocol header:  "AMQP" 0 0 9 1                       (client -> server, once)
//   frame:            type(1) channel(2) size(4) payload(size) frame-end(0xCE)
//
// frame_decoder::feed() looks at the start of the caller's unconsumed input and reports ONE unit
// (the protocol header or one frame) per call:
//   complete   consumed = bytes of that unit; the event says which; feed again with the rest;
//   need_more  consumed = 0; `needed` = total bytes the unit needs (a hint to size the read);
//              keep the bytes and call feed() again with them plus more (byte_buffer model: the
//              decoder keeps no copy, a partial frame is simply re-examined, 7 header bytes);
//   protocol_mismatch  (server role, first bytes) the peer did not send our protocol header:
//              write encode_protocol_header() and close the connection (4.2.2);
//   error      a connection exception: send connection.close with info_for(err) and close.
//              The decoder then stays in state failed.
//
// Lifetime: frame::payload points into the byte_view passed to feed(); it is valid until the
// caller consumes (or overwrites) those bytes. Methods and properties decoded from it carry views
// with the same lifetime.
//
// Thread: one decoder per connection, used by the connection's loop only.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/proto/amqp/error.hpp"
#include "switchyard/proto/amqp/spec.hpp"

namespace sy::amqp {

enum class frame_type : std::uint8_t {
    method = constant::frame_method,
    header = constant::frame_header,
    body = constant::frame_body,
    heartbeat = constant::frame_heartbeat,
};

inline constexpr std::size_t frame_header_size = 7;  // type, channel, size
inline constexpr std::size_t frame_overhead = 8;     // header + frame-end
inline constexpr std::uint8_t frame_end_octet = constant::frame_end;
inline constexpr std::array<std::uint8_t, 8> protocol_header = {
    'A', 'M', 'Q', 'P', 0, protocol::major, protocol::minor, protocol::revision};

struct frame {
    frame_type type = frame_type::heartbeat;
    std::uint16_t channel = 0;
    byte_view payload;  // see the lifetime rule above
};

enum class outcome : std::uint8_t { complete, need_more, protocol_mismatch, error };
enum class event_kind : std::uint8_t { none, protocol_header, frame };

struct feed_result {
    outcome status = outcome::need_more;
    std::size_t consumed = 0;
    event_kind kind = event_kind::none;  // set when status == complete
    frame f;                             // when kind == frame
    error err = error::none;             // when status == error / protocol_mismatch
    std::size_t needed = 0;              // when need_more: bytes the current unit needs in all
};

enum class decoder_state : std::uint8_t {
    protocol_header,  // server role: waiting for "AMQP\0\0\x09\x01"
    frames,           // frames
    failed,           // an error or mismatch was reported; feed() repeats it
};
std::string_view to_string(decoder_state s);

struct decoder_options {
    bool expect_protocol_header = true;  // server role; a client starts at frames
    /// Largest frame (header + payload + frame-end), 0 = unlimited. Until connection.tune-ok the
    /// spec's frame-min-size (4096) applies, as RabbitMQ enforces.
    std::uint32_t frame_max = constant::frame_min_size;
};

/// Where and why decoding failed: for logs, never sent to the peer.
struct diagnostic {
    error err = error::none;
    decoder_state state = decoder_state::frames;
    std::uint64_t offset = 0;                // stream offset of the offending byte
    std::array<std::uint8_t, 16> snippet{};  // input from the start of the offending unit
    std::uint8_t snippet_len = 0;
};

class frame_decoder {
  public:
    explicit frame_decoder(decoder_options o = {});

    feed_result feed(byte_view in);

    /// After connection.tune-ok: the negotiated frame_max (0 = unlimited).
    void set_frame_max(std::uint32_t frame_max) { opts_.frame_max = frame_max; }
    std::uint32_t frame_max() const { return opts_.frame_max; }
    decoder_state state() const { return state_; }
    const diagnostic& last_error() const { return diag_; }
    /// Stream bytes consumed so far.
    std::uint64_t position() const { return pos_; }

  private:
    feed_result on_protocol_header(byte_view in);
    feed_result on_frames(byte_view in);
    feed_result fail(outcome o, error e, byte_view in, std::size_t at);
    void set_state(decoder_state s);

    decoder_options opts_;
    decoder_state state_;
    std::uint64_t pos_ = 0;
    diagnostic diag_;
};

// ---- encoders (append to out; never fail) ----

void encode_protocol_header(byte_buffer& out);
void encode_heartbeat(byte_buffer& out);

/// Writes type, channel and a size placeholder; returns the placeholder's offset in out
/// (relative to out.data()). end_frame() patches the size and appends frame-end. Nothing may be
/// consumed from `out` in between.
std::size_t begin_frame(byte_buffer& out, frame_type t, std::uint16_t channel);
void end_frame(byte_buffer& out, std::size_t size_at);

template <typename Method>
void encode_method_frame(byte_buffer& out, std::uint16_t channel, const Method& m) {
    std::size_t at = begin_frame(out, frame_type::method, channel);
    encode_method(out, m);
    end_frame(out, at);
}

void encode_header_frame(byte_buffer& out, std::uint16_t channel, const content_header& h);

/// Body frames: the body split so that no frame exceeds frame_max (0 = one frame). An empty body
/// writes no frame (4.2.6.2: the header's body-size 0 means no body frames follow).
void encode_body_frames(byte_buffer& out, std::uint16_t channel, byte_view body,
                        std::uint32_t frame_max);

/// The same split, for a writer that sends the body bytes from where they are (a shared slice):
/// for each body frame, `frame(head, offset, length)` gets the frame's 7-byte head (type,
/// channel, size) and the slice of the body it carries; the frame ends with frame_end_octet.
template <typename Frame>
void for_each_body_frame(std::uint16_t channel, std::size_t body_size, std::uint32_t frame_max,
                         Frame&& frame) {
    const std::size_t chunk_max =
        frame_max == 0 ? body_size : std::size_t{frame_max} - frame_overhead;
    for (std::size_t off = 0; off < body_size;) {
        const std::size_t n = std::min(body_size - off, chunk_max);
        const auto len = static_cast<std::uint32_t>(n);  // big-endian, as every AMQP integer
        const std::uint8_t head[7] = {constant::frame_body,
                                      static_cast<std::uint8_t>(channel >> 8),
                                      static_cast<std::uint8_t>(channel),
                                      static_cast<std::uint8_t>(len >> 24),
                                      static_cast<std::uint8_t>(len >> 16),
                                      static_cast<std::uint8_t>(len >> 8),
                                      static_cast<std::uint8_t>(len)};
        frame(byte_view(head, 7), off, n);
        off += n;
    }
}

/// A whole message: content method frame, header frame (body_size from body), body frames.
template <typename Method>
void encode_content(byte_buffer& out, std::uint16_t channel, const Method& m,
                    const basic_properties& props, byte_view body, std::uint32_t frame_max) {
    static_assert(Method::content, "only content methods carry a message");
    encode_method_frame(out, channel, m);
    encode_header_frame(out, channel, content_header{Method::amqp_class, 0, body.size(), props});
    encode_body_frames(out, channel, body, frame_max);
}

}  // namespace sy::amqp
