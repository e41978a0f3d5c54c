// WebSocket frame decoder and message assembler (RFC 6455 5, 6.2; RFC 7692 6.2), sans-IO.
//
// Usage (server side, one decoder per connection, owned by the connection's loop):
//   sy::ws::decoder dec({.side = sy::ws::role::server, .max_message_size = 1 << 20});
//   sy::ws::event ev;
//   for (;;) {
//       auto r = dec.feed({in.data(), in.size()}, ev);  // mutable span over unread input
//       in.consume(r.consumed);
//       if (r.out == outcome::need_more) break;
//       if (r.out == outcome::error) { send close(close_code_for(dec.last_error())); break; }
//       handle(ev);                              // message / ping / pong / close
//   }
//
// Contract:
// - feed() takes a MUTABLE span because masked payloads are unmasked in place (no copy). It
//   consumes bytes up to and including the frame that completes an event, then returns
//   outcome::complete with that event; otherwise it consumes everything and returns need_more.
//   Partial headers (<= 14 bytes) and partial payloads are kept inside the decoder, so the caller
//   may always drop the consumed bytes.
// - Lifetime of event views: ev.payload / ev.reason point either into the caller's input (when
//   ev.zero_copy: the whole message came in one frame in one feed) or into the decoder's own
//   buffers. Either way they are valid until the next feed() call, and for zero_copy events only
//   while the caller leaves those input bytes untouched (consume() is fine; writing new input
//   into the buffer is not).
// - Errors are fatal: the decoder moves to decode_state::failed and every later feed() returns
//   the same error. close_code_for(last_error()) is the close code to send (error.hpp).
// - After a close frame has been returned, the decoder is in decode_state::closed and discards
//   anything further (RFC 6455 5.5.1: nothing is processed after a Close).
// - Length encoding: RFC 6455 5.2 says the minimal number of bytes MUST be used. We treat a
//   non-minimal length as a protocol error (1002) by default, as a fuzz-friendly strict reading;
//   decoder_config::allow_non_minimal_length = true accepts them.
// - Message size limit: uncompressed frames are checked from the header, before any payload byte
//   is buffered; compressed messages are checked on the inflated size as it is produced.
// Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/utf8.hpp"
#include "switchyard/proto/ws/deflate.hpp"
#include "switchyard/proto/ws/error.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace sy::ws {

enum class role : std::uint8_t { server, client };

struct decoder_config {
    /// server: incoming frames must be masked (from a client); client: must not be.
    role side = role::server;
    /// Largest message (after inflating) accepted; above -> error::message_too_big (1009).
    std::size_t max_message_size = 16 * 1024 * 1024;
    bool allow_non_minimal_length = false;
    /// The negotiated permessage-deflate parameters, if any (enables RSV1 on data frames).
    std::optional<deflate_params> deflate;
};

enum class outcome : std::uint8_t { complete, need_more, error };

enum class event_kind : std::uint8_t { message, ping, pong, close };

struct event {
    event_kind kind = event_kind::message;
    opcode op = opcode::text;      // text or binary for messages; the control opcode otherwise
    byte_view payload;             // message / ping / pong payload; close: the reason bytes
    std::uint16_t close_code = 0;  // close only; close_code::no_status when the frame was empty
    std::string_view reason;       // close only (validated UTF-8)
    bool compressed = false;       // message arrived with permessage-deflate
    bool zero_copy = false;        // payload points into the caller's input

    std::string_view text() const { return as_string_view(payload); }
};

struct decode_result {
    outcome out;
    std::size_t consumed;
};

enum class decode_state : std::uint8_t { frame_header, payload, closed, failed };

std::string_view to_string(decode_state s);

/// Where the decoder stopped on an error.
struct diagnostic {
    error err = error::none;
    decode_state state = decode_state::frame_header;
    std::uint64_t offset = 0;  // stream offset of the byte that revealed the error
    std::uint8_t first_byte = 0, second_byte = 0;  // of the frame being decoded
};

class decoder {
  public:
    explicit decoder(const decoder_config& cfg = {});
    ~decoder();
    decoder(decoder&&) noexcept;
    decoder& operator=(decoder&&) noexcept;

    decode_result feed(mutable_byte_view in, event& ev);

    decode_state state() const { return state_; }
    error last_error() const { return diag_.err; }
    const diagnostic& diag() const { return diag_; }
    /// True while a fragmented message is being assembled.
    bool in_message() const { return in_message_; }
    std::uint64_t bytes_consumed() const { return offset_; }
    const decoder_config& config() const { return cfg_; }

  private:
    enum class step : std::uint8_t { more, event, fail };

    void set_state(decode_state s);
    step read_header(mutable_byte_view in, std::size_t& pos, bool& done);
    error check_first_two(std::uint8_t b0, std::uint8_t b1) const;
    error parse_header(const std::uint8_t* h);
    step on_payload(mutable_byte_view chunk, bool whole);
    step end_frame(event& ev);
    step finish_message(event& ev);
    step finish_control(event& ev);
    step fail(error e, std::uint64_t at);

    decoder_config cfg_;
    decode_state state_ = decode_state::frame_header;
    diagnostic diag_;
    std::uint64_t offset_ = 0;  // bytes consumed before the current feed()

    // Current frame.
    std::array<std::uint8_t, max_header_size> hdr_{};
    std::uint8_t hdr_have_ = 0;
    opcode op_ = opcode::continuation;
    bool fin_ = false;
    bool rsv1_ = false;
    bool masked_ = false;
    mask_key mask_{};
    std::uint64_t payload_len_ = 0;
    std::uint64_t payload_done_ = 0;

    // Current message (data frames).
    bool in_message_ = false;
    bool msg_compressed_ = false;
    bool msg_stale_ = false;  // msg_buf_ holds the last returned message; clear before reuse
    opcode msg_op_ = opcode::text;
    std::uint64_t msg_size_ = 0;  // wire payload bytes of the current message
    byte_buffer msg_buf_;
    byte_view direct_;  // zero-copy payload of the frame being finished
    utf8_validator utf8_;
    std::unique_ptr<inflater> inflater_;

    // Current control frame.
    std::array<std::uint8_t, 125> ctrl_buf_{};
    std::size_t ctrl_len_ = 0;
};

}  // namespace sy::ws
