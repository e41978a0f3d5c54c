// Field tables -> broker structs: queue arguments (x-message-ttl, ...), binding arguments and
// message headers rendered as text for headers-exchange matching. The AMQP session and the
// management API (its JSON arguments encoded as a table first) share these checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/hub/broker.hpp"
#include "switchyard/proto/amqp/field_table.hpp"

namespace sy::session {

/// An integer field value of any width (not bool) as int64; nullopt for other types.
std::optional<std::int64_t> as_integer(const amqp::field_value& v);

/// The value as text: strings as is, numbers in decimal, bools true/false, void empty.
std::string render_value(const amqp::field_value& v);
std::vector<hub::header_pair> render_table(const amqp::table_view& t);

/// false: argument `bad` has an unacceptable type or value (406, like RabbitMQ); `why` is
/// RabbitMQ's reason text for it.
bool parse_queue_args(const amqp::table_view& t, hub::queue_args& out, std::string& bad,
                      std::string& why);

hub::broker_binding make_binding(std::string dest, bool to_exchange, std::string_view key,
                                 const amqp::table_view& args);

}  // namespace sy::session
