// amqp_dead_letter: the x-death headers RabbitMQ 3.x puts on a dead-lettered message
// (rabbit_dead_letter:make_msg / update_x_death_header), written into the copy's content header.
// The broker (hub/, no wire types) calls this through hub::dead_letter_rewriter. Broker loop
// thread only; stateless.
//
//   x-death: array of tables, newest event first, one per (queue, reason):
//     count (long), reason ("rejected" | "expired" | "maxlen"), queue, time (timestamp, s),
//     exchange, routing-keys (array), original-expiration (when the message had one).
//     A repeated (queue, reason) increments its count and moves to the front, keeping its fields.
//   x-first-death-reason / -queue / -exchange: set with the first x-death entry only.
//   The expiration property is removed (the copy cannot expire again by it).
#include <chrono>
#include <deque>
#include <vector>

#include "amqp_internal.hpp"
#include "switchyard/session/amqp_args.hpp"

namespace sy::session {

using namespace sy::amqp;

namespace {

std::string_view reason_name(hub::dead_reason why) {
    switch (why) {
        case hub::dead_reason::rejected:
            return "rejected";
        case hub::dead_reason::expired:
            return "expired";
        case hub::dead_reason::maxlen:
            return "maxlen";
    }
    return "rejected";
}

bool has_text(const table_view& t, std::string_view key, std::string_view want) {
    auto v = find(t, key);
    auto* s = v ? std::get_if<std::string_view>(&*v) : nullptr;
    return s && *s == want;
}

class x_death_writer final : public hub::dead_letter_rewriter {
  public:
    shared_bytes rewrite(const hub::broker_message& m, const hub::broker_queue& from,
                         hub::dead_reason why) override {
        auto h = decode_content_header(m.encoded(amqp_codec()).bytes());
        if (!h) return {};
        basic_properties props = h->properties;
        std::string_view reason = reason_name(why);
        std::deque<byte_buffer> store;  // encoded nested values; a deque never moves them

        // The new event (RabbitMQ's field order).
        byte_buffer& keys = store.emplace_back();
        const field_value key = std::string_view(m.routing_key);
        encode_array(keys, std::span<const field_value>(&key, 1));
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        std::vector<field_entry> info{{"count", std::int64_t{1}},
                                      {"reason", reason},
                                      {"queue", std::string_view(from.name())},
                                      {"time", timestamp_value{static_cast<std::uint64_t>(now)}},
                                      {"exchange", std::string_view(m.exchange)},
                                      {"routing-keys", values_of(keys.readable())}};
        if (props.has_expiration()) info.push_back({"original-expiration", props.expiration});

        std::vector<field_entry> headers;
        std::optional<array_view> old;
        if (props.has_headers()) {
            for (const field_entry& e : props.headers.entries()) {
                if (e.key == "x-death") {
                    if (auto* a = std::get_if<array_view>(&e.value)) old = *a;
                    continue;
                }
                headers.push_back(e);
            }
        }
        std::vector<field_value> deaths;
        if (!old) {
            std::erase_if(headers, [](const field_entry& e) {
                return e.key == "x-first-death-reason" || e.key == "x-first-death-queue" ||
                       e.key == "x-first-death-exchange";
            });
            headers.push_back({"x-first-death-reason", reason});
            headers.push_back({"x-first-death-queue", std::string_view(from.name())});
            headers.push_back({"x-first-death-exchange", std::string_view(m.exchange)});
            deaths.push_back(encode_entries(store, info));
        } else {
            deaths.emplace_back();  // the front: this event, filled below
            std::optional<table_view> match;
            for (const field_value& v : old->values()) {
                auto* t = std::get_if<table_view>(&v);
                if (t && !match && has_text(*t, "queue", from.name()) &&
                    has_text(*t, "reason", reason)) {
                    match = *t;
                    continue;
                }
                deaths.push_back(v);
            }
            deaths.front() = match ? incremented(store, *match) : encode_entries(store, info);
        }
        byte_buffer& arr = store.emplace_back();
        encode_array(arr, deaths);
        headers.push_back({"x-death", values_of(arr.readable())});
        byte_buffer& table = store.emplace_back();
        encode_table(table, headers);
        props.set_headers(entries_of(table.readable()));
        props.flags &= static_cast<std::uint16_t>(~basic_properties::expiration_flag);
        props.expiration = {};
        byte_buffer out;
        encode_content_header(out, content_header{h->class_id, h->weight, h->body_size, props});
        return shared_bytes::copy_of(out.view());
    }

  private:
    static table_view encode_entries(std::deque<byte_buffer>& store,
                                     const std::vector<field_entry>& entries) {
        byte_buffer& b = store.emplace_back();
        encode_table(b, entries);
        return entries_of(b.readable());
    }

    // The same (queue, reason) died again: count + 1, the other fields as first recorded.
    static table_view incremented(std::deque<byte_buffer>& store, const table_view& t) {
        std::vector<field_entry> entries;
        for (const field_entry& e : t.entries()) {
            if (e.key == "count") {
                entries.push_back({"count", as_integer(e.value).value_or(0) + 1});
            } else {
                entries.push_back(e);
            }
        }
        return encode_entries(store, entries);
    }
    const hub::property_codec& codec() const override { return amqp_codec(); }
};

}  // namespace

hub::dead_letter_rewriter& amqp_dead_letter_rewriter() {
    static x_death_writer w;
    return w;
}

}  // namespace sy::session
