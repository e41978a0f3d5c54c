// The AMQP property codec: hub::message_properties <-> the content header payload (class 60,
// weight 0, body size, property flags, properties). The only place typed properties meet AMQP
// encoding (hub/properties.hpp says who calls it and when). Stateless; broker loop thread.
#include <vector>

#include "amqp_internal.hpp"
#include "switchyard/session/amqp_args.hpp"

namespace sy::session {

using namespace sy::amqp;

namespace {

class amqp_property_codec final : public hub::property_codec {
  public:
    shared_bytes encode(const hub::message_properties& p, std::uint64_t body_size) const override {
        basic_properties b;
        b.flags = p.present;  // hub::prop bits are AMQP's property flags
        b.content_type = p.content_type;
        b.content_encoding = p.content_encoding;
        b.delivery_mode = p.delivery_mode;
        b.priority = p.priority;
        b.correlation_id = p.correlation_id;
        b.reply_to = p.reply_to;
        b.expiration = p.expiration;
        b.message_id = p.message_id;
        b.timestamp = p.timestamp;
        b.type = p.type;
        b.user_id = p.user_id;
        b.app_id = p.app_id;
        b.cluster_id = p.cluster_id;
        byte_buffer table;
        if (p.has(hub::prop::headers)) {
            // Typed producers' header values are text: longstr entries.
            std::vector<field_entry> entries;
            entries.reserve(p.headers.size());
            for (const auto& [k, v] : p.headers) entries.push_back({k, std::string_view(v)});
            encode_table(table, entries);
            b.headers = entries_of(table.readable());
        }
        byte_buffer out;
        encode_content_header(out, content_header{60, 0, body_size, b});
        return shared_bytes::copy_of(out.view());
    }

    bool decode(byte_view encoded, hub::message_properties& out) const override {
        auto h = decode_content_header(encoded);
        if (!h) return false;
        const basic_properties& b = h->properties;
        out.present = b.flags & basic_properties::all_flags;
        out.content_type = b.content_type;
        out.content_encoding = b.content_encoding;
        if (b.has_headers()) out.headers = render_table(b.headers);
        out.delivery_mode = b.delivery_mode;
        out.priority = b.priority;
        out.correlation_id = b.correlation_id;
        out.reply_to = b.reply_to;
        out.expiration = b.expiration;
        out.message_id = b.message_id;
        out.timestamp = b.timestamp;
        out.type = b.type;
        out.user_id = b.user_id;
        out.app_id = b.app_id;
        out.cluster_id = b.cluster_id;
        return true;
    }
};

}  // namespace

const hub::property_codec& amqp_codec() {
    static const amqp_property_codec codec;
    return codec;
}

}  // namespace sy::session
