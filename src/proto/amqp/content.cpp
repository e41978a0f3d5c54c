// Command assembly: method [+ content header + body frames] -> one command (content.hpp).
#include "switchyard/proto/amqp/content.hpp"

#include <algorithm>
#include <cassert>

namespace sy::amqp {

std::string_view to_string(assembly_state s) {
    switch (s) {
        case assembly_state::idle:
            return "idle";
        case assembly_state::expect_header:
            return "expect_header";
        case assembly_state::expect_body:
            return "expect_body";
    }
    return "unknown";
}

void content_assembler::set_state(assembly_state s) {
    // idle -> expect_header -> expect_body -> idle; any state -> idle (complete or error).
    assert(s == assembly_state::idle ||
           (s == assembly_state::expect_header && state_ == assembly_state::idle) ||
           (s == assembly_state::expect_body && state_ == assembly_state::expect_header));
    state_ = s;
}

result<assembly, error> content_assembler::fail(error e) {
    set_state(assembly_state::idle);
    has_header_ = false;
    body_ = shared_bytes();
    return unexpected(e);
}

result<assembly, error> content_assembler::on_frame(const frame& f) {
    switch (f.type) {
        case frame_type::method:
            return on_method(f);
        case frame_type::header:
            return on_header(f);
        case frame_type::body:
            return on_body(f);
        case frame_type::heartbeat:
            break;
    }
    return fail(error::bad_heartbeat);  // heartbeats belong to the connection, not a channel
}

result<assembly, error> content_assembler::on_method(const frame& f) {
    if (state_ != assembly_state::idle) return fail(error::unexpected_method);
    has_header_ = false;
    body_ = shared_bytes();
    auto m = decode_method(f.payload);
    if (!m) return fail(m.error());
    const method_info& info = info_of(*m);
    // 4.2.4 / 2.3.5: the connection class works on channel 0 only, everything else off it.
    if ((info.class_id == class_id::connection) != (f.channel == 0))
        return fail(error::wrong_channel);
    if (!info.content) {
        method_ = *m;
        return assembly::complete;
    }
    // Re-decode from our own copy so the views outlive the caller's frame.
    method_bytes_.assign(f.payload.begin(), f.payload.end());
    method_ = *decode_method(method_bytes_);
    set_state(assembly_state::expect_header);
    return assembly::need_more;
}

result<assembly, error> content_assembler::on_header(const frame& f) {
    if (state_ != assembly_state::expect_header) return fail(error::unexpected_header);
    header_bytes_.assign(f.payload.begin(), f.payload.end());
    auto h = decode_content_header(header_bytes_);
    if (!h) return fail(h.error());
    if (h->class_id != info_of(method_).class_id) return fail(error::content_class_mismatch);
    if (h->body_size > opts_.max_body_size) return fail(error::message_too_large);
    header_ = *h;
    has_header_ = true;
    body_filled_ = 0;
    if (header_.body_size == 0) {
        set_state(assembly_state::idle);
        return assembly::complete;
    }
    body_ = shared_bytes::allocate(static_cast<std::size_t>(header_.body_size));
    set_state(assembly_state::expect_body);
    return assembly::need_more;
}

result<assembly, error> content_assembler::on_body(const frame& f) {
    if (state_ != assembly_state::expect_body) return fail(error::unexpected_body);
    const std::uint64_t left = header_.body_size - body_filled_;
    if (f.payload.size() > left) return fail(error::body_too_long);
    std::copy(f.payload.begin(), f.payload.end(), body_.mutable_data() + body_filled_);
    body_filled_ += f.payload.size();
    if (body_filled_ < header_.body_size) return assembly::need_more;
    set_state(assembly_state::idle);
    return assembly::complete;
}

}  // namespace sy::amqp
