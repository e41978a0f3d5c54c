// Framing of STUN over a byte stream (RFC 8489 6.2.2, RFC 8656 12.5): STUN messages and
// ChannelData messages back to back; a ChannelData message is padded to 4 bytes on a stream.
// Channel numbers are taken in RFC 5766's wider range (0x4000-0x7FFE: coturn's clients use it),
// so any first byte 0x00-0x3F or 0x40-0x7F frames; only 0x80 and up (or 0x7FFF) is an error.
//
//   sy::stun::stream_framer f;
//   sy::stun::frame fr;
//   while (!in.empty()) {
//       auto r = f.feed(in, fr);
//       in = in.subspan(r.consumed);
//       if (r.out == outcome::complete) handle(fr.kind, fr.bytes);
//       else if (r.out == outcome::error) { close(); break; }  // not STUN: no resync possible
//   }
//
// Contract: feed() returns complete with at most one frame, or need_more after consuming all
// input. A frame whole in `in` is handed out as a view into `in`; a frame that straddles feeds
// is gathered in the framer's scratch buffer (at most 65556 bytes) and the view points there.
// Either view is valid until the next feed(). `frame.bytes` of a ChannelData frame excludes
// the padding. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "switchyard/base/bytes.hpp"

namespace sy::stun {

enum class outcome : std::uint8_t { complete, need_more, error };
enum class frame_kind : std::uint8_t { stun, channel_data };
enum class frame_error : std::uint8_t { none, not_stun, bad_length };

struct frame {
    frame_kind kind = frame_kind::stun;
    byte_view bytes;
};

struct feed_result {
    outcome out;
    std::size_t consumed;
};

class stream_framer {
  public:
    feed_result feed(byte_view in, frame& out);
    frame_error last_error() const { return err_; }
    std::uint64_t frames() const { return frames_; }

  private:
    /// Total wire size of the frame whose first 4 bytes are `head` (0 with err_ set on error);
    /// `payload` is set to the size without padding.
    std::size_t frame_size(const std::uint8_t* head, std::size_t& payload);
    std::vector<std::uint8_t> scratch_;
    std::size_t need_ = 0;        // wire size of the frame in scratch_, once its header is in
    std::size_t payload_ = 0;     // its size without padding
    bool pending_clear_ = false;  // scratch_ holds the frame handed out last
    frame_error err_ = frame_error::none;
    std::uint64_t frames_ = 0;
};

}  // namespace sy::stun
