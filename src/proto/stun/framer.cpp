// STUN and ChannelData framing on a byte stream (RFC 8489 6.2.2, RFC 8656 12.5).
#include "switchyard/proto/stun/framer.hpp"

#include <algorithm>

#include "switchyard/proto/stun/message.hpp"

namespace sy::stun {

std::size_t stream_framer::frame_size(const std::uint8_t* head, std::size_t& payload) {
    const std::size_t len = (std::size_t(head[2]) << 8) | head[3];
    if ((head[0] & 0xC0) == 0) {
        // A STUN message: 20-byte header + length, which must be a multiple of 4.
        if ((len & 3) != 0) {
            err_ = frame_error::bad_length;
            return 0;
        }
        payload = header_size + len;
        return payload;
    }
    const std::uint16_t channel = std::uint16_t((head[0] << 8) | head[1]);
    if (!is_channel_number(channel, true)) {
        err_ = frame_error::not_stun;
        return 0;
    }
    payload = 4 + len;
    return (payload + 3) & ~std::size_t{3};  // padded on a stream
}

feed_result stream_framer::feed(byte_view in, frame& out) {
    if (err_ != frame_error::none) return {outcome::error, 0};
    if (pending_clear_) {
        scratch_.clear();
        pending_clear_ = false;
    }
    std::size_t used = 0;
    if (scratch_.empty() && in.size() >= 4) {
        // Fast path: a frame whole in the caller's bytes is handed out in place.
        std::size_t payload = 0;
        const std::size_t n = frame_size(in.data(), payload);
        if (n == 0) return {outcome::error, 0};
        if (in.size() >= n) {
            out.kind = (in[0] & 0xC0) == 0 ? frame_kind::stun : frame_kind::channel_data;
            out.bytes = in.first(payload);
            ++frames_;
            return {outcome::complete, n};
        }
    }
    // Slow path: gather the header, then the rest, in scratch_.
    while (used < in.size()) {
        if (scratch_.size() < 4) {
            const std::size_t take = std::min(4 - scratch_.size(), in.size() - used);
            scratch_.insert(scratch_.end(), in.begin() + used, in.begin() + used + take);
            used += take;
            if (scratch_.size() < 4) break;
            need_ = frame_size(scratch_.data(), payload_);
            if (need_ == 0) return {outcome::error, used};
        }
        const std::size_t take = std::min(need_ - scratch_.size(), in.size() - used);
        scratch_.insert(scratch_.end(), in.begin() + used, in.begin() + used + take);
        used += take;
        if (scratch_.size() == need_) {
            out.kind = (scratch_[0] & 0xC0) == 0 ? frame_kind::stun : frame_kind::channel_data;
            // The view stays valid until the next feed(), which clears scratch_ first.
            pending_clear_ = true;
            out.bytes = byte_view{scratch_.data(), payload_};
            ++frames_;
            return {outcome::complete, used};
        }
    }
    return {outcome::need_more, used};
}

}  // namespace sy::stun
