// Frame decoder, RFC 6455 5.2 (base framing), 5.4 (fragmentation), 5.5 (control frames),
// 8.1 (UTF-8), RFC 7692 6.2 (decompression).
#include "switchyard/proto/ws/decoder.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace sy::ws {
namespace {

// Extended-length bytes after the 2-byte base header, from the 7-bit length field.
constexpr std::size_t ext_len_bytes(std::uint8_t b1) {
    const std::uint8_t l = b1 & 0x7F;
    return l == 126 ? 2 : (l == 127 ? 8 : 0);
}
constexpr std::uint64_t unknown_offset = ~std::uint64_t{0};

constexpr std::size_t full_header_size(std::uint8_t b1) {
    return 2 + ext_len_bytes(b1) + ((b1 & 0x80) ? 4 : 0);
}

}  // namespace

std::string_view to_string(decode_state s) {
    switch (s) {
        case decode_state::frame_header:
            return "frame_header";
        case decode_state::payload:
            return "payload";
        case decode_state::closed:
            return "closed";
        case decode_state::failed:
            return "failed";
    }
    return "?";
}

decoder::decoder(const decoder_config& cfg) : cfg_(cfg) {
    if (cfg_.deflate) {
        const bool server = cfg_.side == role::server;
        // We inflate what the peer compressed: the peer's window and takeover rules apply.
        const int bits =
            server ? cfg_.deflate->client_max_window_bits : cfg_.deflate->server_max_window_bits;
        const bool nct = server ? cfg_.deflate->client_no_context_takeover
                                : cfg_.deflate->server_no_context_takeover;
        inflater_ = std::make_unique<inflater>(bits, nct);
    }
}
decoder::~decoder() = default;
decoder::decoder(decoder&&) noexcept = default;
decoder& decoder::operator=(decoder&&) noexcept = default;

void decoder::set_state(decode_state s) {
    // Legal moves: header <-> payload, header -> header (empty frame), {header,payload} ->
    // {closed, failed}. closed and failed are terminal.
    assert(state_ != decode_state::failed && state_ != decode_state::closed);
    state_ = s;
}

decoder::step decoder::fail(error e, std::uint64_t at) {
    diag_.err = e;
    diag_.state = state_;
    diag_.offset = at;
    diag_.first_byte = hdr_[0];
    diag_.second_byte = hdr_[1];
    state_ = decode_state::failed;
    return step::fail;
}

decode_result decoder::feed(mutable_byte_view in, event& ev) {
    if (state_ == decode_state::failed) return {outcome::error, 0};
    if (state_ == decode_state::closed) {
        offset_ += in.size();
        return {outcome::need_more, in.size()};
    }
    std::size_t pos = 0;
    for (;;) {
        step s = step::more;
        if (state_ == decode_state::frame_header) {
            if (pos == in.size()) break;
            bool done = false;
            s = read_header(in, pos, done);
            if (s == step::more && !done) break;  // header incomplete: bytes kept in hdr_
            if (s == step::more && payload_len_ == 0) {
                s = end_frame(ev);
            } else if (s == step::more) {
                set_state(decode_state::payload);
                continue;
            }
        } else {  // payload
            if (pos == in.size()) break;
            const std::uint64_t left = payload_len_ - payload_done_;
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(left, in.size() - pos));
            mutable_byte_view chunk = in.subspan(pos, n);
            if (masked_) apply_mask(chunk.data(), n, mask_, payload_done_ & 3);
            const bool whole = payload_done_ == 0 && n == payload_len_;
            s = on_payload(chunk, whole);
            if (s == step::fail) diag_.offset = offset_ + pos;
            pos += n;
            payload_done_ += n;
            if (s == step::more && payload_done_ == payload_len_) s = end_frame(ev);
        }
        if (s == step::fail) {
            if (diag_.offset == unknown_offset) diag_.offset = offset_ + pos;
            return {outcome::error, 0};
        }
        if (s == step::event) {
            offset_ += pos;
            return {outcome::complete, pos};
        }
    }
    offset_ += pos;
    return {outcome::need_more, pos};
}

error decoder::check_first_two(std::uint8_t b0, std::uint8_t b1) const {
    const bool fin = b0 & 0x80;
    const std::uint8_t op = b0 & 0x0F;
    const bool rsv1 = b0 & 0x40;
    if (b0 & 0x30) return error::reserved_bits;
    if (!is_known_opcode(op)) return error::reserved_opcode;
    const bool control = op & 0x8;
    if (rsv1) {
        if (!cfg_.deflate) return error::reserved_bits;
        if (control) return error::compressed_control;
        if (op == 0) return error::compressed_continuation;
    }
    if (control) {
        if (!fin) return error::control_fragmented;
        if ((b1 & 0x7F) > 125) return error::control_too_long;
    } else if (op == 0 && !in_message_) {
        return error::unexpected_continuation;
    } else if (op != 0 && in_message_) {
        return error::expected_continuation;
    }
    const bool masked = b1 & 0x80;
    if (cfg_.side == role::server && !masked) return error::unmasked_frame;
    if (cfg_.side == role::client && masked) return error::masked_frame;
    return error::none;
}

decoder::step decoder::read_header(mutable_byte_view in, std::size_t& pos, bool& done) {
    const std::size_t avail = in.size() - pos;
    const std::uint8_t* h = nullptr;
    if (hdr_have_ == 0 && avail >= 2 && avail >= full_header_size(in[pos + 1])) {
        h = in.data() + pos;  // fast path: the whole header is in this read
        hdr_[0] = h[0];
        hdr_[1] = h[1];
        if (error e = check_first_two(h[0], h[1]); e != error::none)
            return fail(e, offset_ + pos + 1);
        pos += full_header_size(h[1]);
    } else {
        // Slow path: gather the header in hdr_, checking the first two bytes as soon as seen.
        while (pos < in.size()) {
            hdr_[hdr_have_++] = in[pos++];
            if (hdr_have_ == 2) {
                if (error e = check_first_two(hdr_[0], hdr_[1]); e != error::none)
                    return fail(e, offset_ + pos - 1);
            }
            if (hdr_have_ >= 2 && hdr_have_ == full_header_size(hdr_[1])) break;
        }
        if (hdr_have_ < 2 || hdr_have_ < full_header_size(hdr_[1])) return step::more;
        h = hdr_.data();
        hdr_have_ = 0;
    }
    if (error e = parse_header(h); e != error::none) return fail(e, offset_ + pos);
    done = true;
    return step::more;
}

error decoder::parse_header(const std::uint8_t* h) {
    fin_ = h[0] & 0x80;
    rsv1_ = h[0] & 0x40;
    op_ = static_cast<opcode>(h[0] & 0x0F);
    masked_ = h[1] & 0x80;
    std::uint64_t len = h[1] & 0x7F;
    std::size_t p = 2;
    if (len == 126) {
        len = (std::uint64_t{h[2]} << 8) | h[3];
        p = 4;
        if (len < 126 && !cfg_.allow_non_minimal_length) return error::non_minimal_length;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        p = 10;
        if (len >> 63) return error::length_msb_set;
        if (len <= 0xFFFF && !cfg_.allow_non_minimal_length) return error::non_minimal_length;
    }
    if (masked_) std::memcpy(mask_.data(), h + p, 4);
    payload_len_ = len;
    payload_done_ = 0;
    if (is_control(op_)) {
        ctrl_len_ = 0;
        return error::none;
    }
    if (op_ != opcode::continuation) {
        // First frame of a new message (RFC 6455 5.4).
        in_message_ = true;
        msg_op_ = op_;
        msg_compressed_ = rsv1_;
        msg_size_ = 0;
        utf8_.reset();
        if (msg_stale_) {
            msg_buf_.clear();
            if (msg_buf_.capacity() > (1u << 20)) msg_buf_.shrink_if_empty();
            msg_stale_ = false;
        }
    }
    // Count before buffering: a frame that would push the message over the limit is refused
    // from its header. Compressed messages are limited on the inflated size instead.
    if (!msg_compressed_ && len > cfg_.max_message_size - msg_size_) return error::message_too_big;
    msg_size_ += len;
    return error::none;
}

decoder::step decoder::on_payload(mutable_byte_view chunk, bool whole) {
    if (is_control(op_)) {
        if (whole) {
            direct_ = chunk;
        } else {
            std::memcpy(ctrl_buf_.data() + ctrl_len_, chunk.data(), chunk.size());
            ctrl_len_ += chunk.size();
        }
        return step::more;
    }
    if (msg_compressed_) {
        const std::size_t before = msg_buf_.size();
        auto r = inflater_->feed(chunk, msg_buf_, cfg_.max_message_size);
        if (!r) return fail(r.error(), unknown_offset);
        if (msg_op_ == opcode::text && !utf8_.feed(msg_buf_.readable().subspan(before)))
            return fail(error::invalid_utf8, unknown_offset);
        return step::more;
    }
    if (msg_op_ == opcode::text && !utf8_.feed(chunk))
        return fail(error::invalid_utf8, unknown_offset);
    if (whole && fin_ && op_ != opcode::continuation) {
        direct_ = chunk;  // the whole message is here: hand out a view, no copy
    } else {
        msg_buf_.append(chunk);
    }
    return step::more;
}

decoder::step decoder::end_frame(event& ev) {
    set_state(decode_state::frame_header);
    if (is_control(op_)) return finish_control(ev);
    if (!fin_) return step::more;
    return finish_message(ev);
}

decoder::step decoder::finish_message(event& ev) {
    in_message_ = false;
    ev = event{};
    ev.kind = event_kind::message;
    ev.op = msg_op_;
    ev.compressed = msg_compressed_;
    if (msg_compressed_) {
        const std::size_t before = msg_buf_.size();
        auto r = inflater_->finish(msg_buf_, cfg_.max_message_size);
        if (!r) return fail(r.error(), unknown_offset);
        if (msg_op_ == opcode::text && !utf8_.feed(msg_buf_.readable().subspan(before)))
            return fail(error::invalid_utf8, unknown_offset);
    }
    if (msg_op_ == opcode::text && !utf8_.complete())
        return fail(error::invalid_utf8, unknown_offset);
    if (!direct_.empty()) {
        ev.payload = direct_;
        ev.zero_copy = true;
        direct_ = {};
    } else {
        ev.payload = msg_buf_.readable();
        msg_stale_ = true;
    }
    return step::event;
}

decoder::step decoder::finish_control(event& ev) {
    byte_view p = direct_.empty() ? byte_view{ctrl_buf_.data(), ctrl_len_} : direct_;
    ev = event{};
    ev.op = op_;
    ev.zero_copy = !direct_.empty();
    direct_ = {};
    if (op_ == opcode::ping || op_ == opcode::pong) {
        ev.kind = op_ == opcode::ping ? event_kind::ping : event_kind::pong;
        ev.payload = p;
        return step::event;
    }
    // Close, RFC 6455 5.5.1: empty, or a 2-byte code then a UTF-8 reason.
    ev.kind = event_kind::close;
    if (p.empty()) {
        ev.close_code = close_code::no_status;
    } else {
        if (p.size() == 1) return fail(error::close_payload_too_short, unknown_offset);
        const std::uint16_t code = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
        if (!is_valid_close_code(code)) return fail(error::invalid_close_code, unknown_offset);
        byte_view reason = p.subspan(2);
        if (!is_valid_utf8(reason)) return fail(error::invalid_close_reason, unknown_offset);
        ev.close_code = code;
        ev.payload = reason;
        ev.reason = as_string_view(reason);
    }
    set_state(decode_state::closed);
    return step::event;
}

}  // namespace sy::ws
