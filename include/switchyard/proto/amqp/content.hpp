// Per-channel command assembly (amqp0-9-1.pdf 4.2.6): a content method (basic.publish,
// basic.deliver, ...) is followed by one content header frame and body frames whose sizes add up
// to the header's body-size. content_assembler turns that frame sequence into one command.
//
// Frames must be those of ONE channel, in order; heartbeats are connection-level and must not be
// passed. The connection demultiplexes by frame::channel and owns one assembler per channel.
//
// Lifetime:
//  - a method without content is decoded in place: its views point into the frame payload (the
//    caller's input buffer) and are valid until that frame is consumed;
//  - a content method and its header are copied into the assembler (the caller may consume each
//    frame as soon as on_frame() returns); their views are valid until the next on_frame();
//  - the body is one shared_bytes (refcounted, immutable once complete): keep it for fan-out.
//
// Errors are connection exceptions (info_for(e).hard) except message_too_large (channel).
// After any error the assembler is back in state idle.
#pragma once

#include <cstdint>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/amqp/error.hpp"
#include "switchyard/proto/amqp/frame.hpp"
#include "switchyard/proto/amqp/spec.hpp"

namespace sy::amqp {

enum class assembly_state : std::uint8_t { idle, expect_header, expect_body };
std::string_view to_string(assembly_state s);

enum class assembly : std::uint8_t { need_more, complete };

struct assembler_options {
    /// Largest accepted body-size (RabbitMQ's max_message_size default, 128 MiB).
    std::uint64_t max_body_size = 128u << 20;
};

class content_assembler {
  public:
    explicit content_assembler(assembler_options o = {}) : opts_(o) {}

    /// Feeds one method, header or body frame of this channel. complete: method() (and for
    /// content methods header() and body()) hold the command until the next on_frame().
    /// Errors: wrong_channel, unexpected_method/header/body, content_class_mismatch,
    /// body_too_long, message_too_large, and decode_method/decode_content_header errors.
    result<assembly, error> on_frame(const frame& f);

    const method_variant& method() const { return method_; }
    /// nullptr when the completed method carries no content.
    const content_header* header() const { return has_header_ ? &header_ : nullptr; }
    /// The content header payload header() was decoded from, as received (empty without one).
    byte_view header_bytes() const { return has_header_ ? byte_view(header_bytes_) : byte_view{}; }
    const shared_bytes& body() const { return body_; }
    assembly_state state() const { return state_; }

  private:
    result<assembly, error> on_method(const frame& f);
    result<assembly, error> on_header(const frame& f);
    result<assembly, error> on_body(const frame& f);
    result<assembly, error> fail(error e);
    void set_state(assembly_state s);

    assembler_options opts_;
    assembly_state state_ = assembly_state::idle;
    method_variant method_;
    content_header header_;
    bool has_header_ = false;
    std::vector<std::uint8_t> method_bytes_;  // copy of the content method's payload
    std::vector<std::uint8_t> header_bytes_;  // copy of the content header payload
    shared_bytes body_;
    std::uint64_t body_filled_ = 0;
};

}  // namespace sy::amqp
