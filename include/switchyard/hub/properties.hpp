// Typed message properties (the AMQP basic properties, protocol-neutral) and the codec interface
// through which a protocol's encoded form of them is produced and read.
//
// A broker message carries its properties in one of two forms, or both: typed (set by a
// non-AMQP producer such as the jobs API or the amq.topic bridge) and encoded (the AMQP content
// header payload as it arrived from a publisher or from the store). Each form is derived from the
// other on first use and cached on the message, so:
//  - an AMQP publish delivered to AMQP consumers passes its header bytes through untouched;
//  - a typed producer never speaks AMQP encoding: the session encodes once per message when the
//    first AMQP consumer needs the bytes;
//  - a typed reader (jobs) decodes an AMQP publisher's header once per message.
// Only the session (session/amqp_*) implements property_codec; the hub holds encoded bytes as
// opaque shared bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/base/buffer.hpp"

namespace sy::hub {

/// One header of a message or of a headers-exchange binding, value rendered as text (the
/// session renders AMQP field values; equality of renderings is what x-match compares).
using header_pair = std::pair<std::string, std::string>;

/// Which properties are present: one bit each, in the order (and with the values) of AMQP basic's
/// property flags, so a codec converts presence without a table.
enum class prop : std::uint16_t {
    content_type = 0x8000,
    content_encoding = 0x4000,
    headers = 0x2000,
    delivery_mode = 0x1000,
    priority = 0x0800,
    correlation_id = 0x0400,
    reply_to = 0x0200,
    expiration = 0x0100,
    message_id = 0x0080,
    timestamp = 0x0040,
    type = 0x0020,
    user_id = 0x0010,
    app_id = 0x0008,
    cluster_id = 0x0004,
};

struct message_properties {
    std::uint16_t present = 0;  // prop bits
    std::string content_type, content_encoding;
    /// Values as text: a typed producer's headers are encoded as strings; an AMQP publisher's are
    /// rendered (the original typed table travels in the encoded form).
    std::vector<header_pair> headers;
    std::uint8_t delivery_mode = 0, priority = 0;
    std::string correlation_id, reply_to, expiration, message_id;
    std::uint64_t timestamp = 0;  // seconds since the epoch
    std::string type, user_id, app_id, cluster_id;

    bool has(prop p) const { return (present & static_cast<std::uint16_t>(p)) != 0; }
    message_properties& mark(prop p) {
        present |= static_cast<std::uint16_t>(p);
        return *this;
    }
    message_properties& set_content_type(std::string v) {
        content_type = std::move(v);
        return mark(prop::content_type);
    }
    message_properties& set_delivery_mode(std::uint8_t v) {
        delivery_mode = v;
        return mark(prop::delivery_mode);
    }
    message_properties& set_correlation_id(std::string v) {
        correlation_id = std::move(v);
        return mark(prop::correlation_id);
    }
    message_properties& set_reply_to(std::string v) {
        reply_to = std::move(v);
        return mark(prop::reply_to);
    }
    message_properties& set_message_id(std::string v) {
        message_id = std::move(v);
        return mark(prop::message_id);
    }
    message_properties& set_timestamp(std::uint64_t v) {
        timestamp = v;
        return mark(prop::timestamp);
    }
    message_properties& set_headers(std::vector<header_pair> v) {
        headers = std::move(v);
        return mark(prop::headers);
    }
    friend bool operator==(const message_properties&, const message_properties&) = default;
};

/// A protocol's encoding of message properties (the AMQP content header payload: class, weight,
/// body size, flags, properties). Implemented by the session; stateless; called on the broker
/// thread.
class property_codec {
  public:
    virtual ~property_codec() = default;
    /// p encoded for a message whose body is body_size bytes.
    virtual sy::shared_bytes encode(const message_properties& p, std::uint64_t body_size) const = 0;
    /// The typed form of bytes this codec produced or accepted from the wire; false (out left
    /// empty) when they do not decode.
    virtual bool decode(sy::byte_view encoded, message_properties& out) const = 0;
};

}  // namespace sy::hub
