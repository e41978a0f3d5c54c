// AMQP 0-9-1 frame decoder and frame encoders (see frame.hpp for the contract).
#include "switchyard/proto/amqp/frame.hpp"

#include <algorithm>
#include <cassert>

#include "wire.hpp"

namespace sy::amqp {

std::string_view to_string(decoder_state s) {
    switch (s) {
        case decoder_state::protocol_header:
            return "protocol_header";
        case decoder_state::frames:
            return "frames";
        case decoder_state::failed:
            return "failed";
    }
    return "unknown";
}

frame_decoder::frame_decoder(decoder_options o)
    : opts_(o),
      state_(o.expect_protocol_header ? decoder_state::protocol_header : decoder_state::frames) {}

void frame_decoder::set_state(decoder_state s) {
    // Legal moves: protocol_header -> frames, anything -> failed.
    assert(s == decoder_state::failed ||
           (state_ == decoder_state::protocol_header && s == decoder_state::frames));
    state_ = s;
}

feed_result frame_decoder::fail(outcome o, error e, byte_view in, std::size_t at) {
    diag_.err = e;
    diag_.state = state_;
    diag_.offset = pos_ + at;
    diag_.snippet_len = static_cast<std::uint8_t>(std::min(in.size(), diag_.snippet.size()));
    std::copy_n(in.begin(), diag_.snippet_len, diag_.snippet.begin());
    set_state(decoder_state::failed);
    feed_result r;
    r.status = o;
    r.err = e;
    return r;
}

feed_result frame_decoder::feed(byte_view in) {
    switch (state_) {
        case decoder_state::protocol_header:
            return on_protocol_header(in);
        case decoder_state::frames:
            return on_frames(in);
        case decoder_state::failed:
            break;
    }
    feed_result r;
    r.status =
        diag_.err == error::bad_protocol_header ? outcome::protocol_mismatch : outcome::error;
    r.err = diag_.err;
    return r;
}

// 4.2.2: the client opens with "AMQP" 0 0 9 1. A mismatch is reported at the first wrong byte, so
// an HTTP request sent to the AMQP port is answered at once.
feed_result frame_decoder::on_protocol_header(byte_view in) {
    std::size_t n = std::min(in.size(), protocol_header.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (in[i] != protocol_header[i])
            return fail(outcome::protocol_mismatch, error::bad_protocol_header, in, i);
    }
    feed_result r;
    if (n < protocol_header.size()) {
        r.needed = protocol_header.size();
        return r;
    }
    set_state(decoder_state::frames);
    pos_ += protocol_header.size();
    r.status = outcome::complete;
    r.consumed = protocol_header.size();
    r.kind = event_kind::protocol_header;
    return r;
}

// 4.2.3: type(1) channel(2) size(4) payload frame-end. Header checks happen as soon as the 7
// header bytes are there, so an oversized frame is refused before its payload is buffered.
feed_result frame_decoder::on_frames(byte_view in) {
    feed_result r;
    if (in.size() < frame_header_size) {
        r.needed = frame_header_size;
        return r;
    }
    const std::uint8_t type = in[0];
    const std::uint16_t channel = detail::load_u16(&in[1]);
    const std::uint32_t size = detail::load_u32(&in[3]);
    switch (type) {
        case constant::frame_method:
        case constant::frame_header:
        case constant::frame_body:
            break;
        case constant::frame_heartbeat:
            // 4.2.7: heartbeats are connection-level (channel 0) and carry no payload.
            if (channel != 0 || size != 0)
                return fail(outcome::error, error::bad_heartbeat, in, channel != 0 ? 1 : 3);
            break;
        default:
            return fail(outcome::error, error::unknown_frame_type, in, 0);
    }
    if (opts_.frame_max != 0 && std::uint64_t{size} + frame_overhead > opts_.frame_max)
        return fail(outcome::error, error::frame_too_large, in, 3);
    const std::size_t total = frame_header_size + std::size_t{size} + 1;
    if (in.size() < total) {
        r.needed = total;
        return r;
    }
    if (in[total - 1] != frame_end_octet)
        return fail(outcome::error, error::bad_frame_end, in, total - 1);
    pos_ += total;
    r.status = outcome::complete;
    r.consumed = total;
    r.kind = event_kind::frame;
    r.f = frame{static_cast<frame_type>(type), channel, in.subspan(frame_header_size, size)};
    return r;
}

// ---- encoders ----

void encode_protocol_header(byte_buffer& out) {
    out.append(protocol_header.data(), protocol_header.size());
}

void encode_heartbeat(byte_buffer& out) {
    static constexpr std::uint8_t hb[] = {
        constant::frame_heartbeat, 0, 0, 0, 0, 0, 0, frame_end_octet};
    out.append(hb, sizeof hb);
}

std::size_t begin_frame(byte_buffer& out, frame_type t, std::uint16_t channel) {
    std::uint8_t h[3] = {static_cast<std::uint8_t>(t), 0, 0};
    detail::store_u16(h + 1, channel);
    out.append(h, 3);
    return detail::reserve_u32(out);
}

void end_frame(byte_buffer& out, std::size_t size_at) {
    detail::patch_u32(out, size_at, static_cast<std::uint32_t>(out.size() - size_at - 4));
    detail::put_u8(out, frame_end_octet);
}

void encode_header_frame(byte_buffer& out, std::uint16_t channel, const content_header& h) {
    std::size_t at = begin_frame(out, frame_type::header, channel);
    encode_content_header(out, h);
    end_frame(out, at);
}

void encode_body_frames(byte_buffer& out, std::uint16_t channel, byte_view body,
                        std::uint32_t frame_max) {
    // frame_max is at least frame-min-size (4096) after negotiation, so a frame carries bytes.
    assert(frame_max == 0 || frame_max > frame_overhead);
    for_each_body_frame(channel, body.size(), frame_max,
                        [&](byte_view head, std::size_t off, std::size_t n) {
                            auto span = out.prepare(frame_overhead + n);
                            std::copy_n(head.data(), head.size(), span.data());
                            std::copy_n(body.data() + off, n, span.data() + head.size());
                            span[head.size() + n] = frame_end_octet;
                            out.commit(frame_overhead + n);
                        });
}

}  // namespace sy::amqp
