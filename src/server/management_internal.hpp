// Private parts of the management API (server/management.hpp), shared by management_http.cpp
// (listener, auth, routes), management_amqp.cpp (the broker's objects, on loop 0) and
// management_runtime.cpp (topics, listeners, loops, connections of every protocol).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/json.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/hub/broker.hpp"
#include "switchyard/server/management.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server::mgmt {

/// One member of a listed object: its JSON text, and what sorting and filtering compare.
struct field {
    std::string key;
    std::string json;  ///< the value as JSON text
    std::string text;  ///< strings: the value unescaped (sort, name filter)
    double number = 0;
    bool is_number = false;
};

/// One listed object (a queue, a connection...): members in output order. Built once per
/// request; the list is then filtered, sorted, paged and its columns chosen (RabbitMQ's query
/// parameters) before it is written.
class item {
  public:
    item() { fields_.reserve(24); }  // a connection has ~22 members: no regrowth
    item& str(std::string_view k, std::string_view v);
    item& num(std::string_view k, std::uint64_t v);
    item& num(std::string_view k, std::int64_t v);
    item& num(std::string_view k, unsigned v) { return num(k, std::uint64_t{v}); }
    item& real(std::string_view k, double v);
    item& boolean(std::string_view k, bool v);
    item& null(std::string_view k);
    /// v is already one JSON value (an object or array built with json::writer).
    item& raw(std::string_view k, std::string v);
    const field* find(std::string_view k) const;
    const std::vector<field>& fields() const { return fields_; }
    /// The whole object; columns (empty: every member) picks top-level members, or members
    /// of a nested object with a dotted name ("message_stats.publish"), as RabbitMQ does.
    std::string render(const std::vector<std::string>& columns = {}) const;

  private:
    std::vector<field> fields_;
};
using item_list = std::vector<item>;

/// RabbitMQ's list parameters: page, page_size, name, use_regex, sort, sort_reverse, columns.
struct list_query {
    std::optional<std::uint64_t> page;
    std::uint64_t page_size = 100;
    std::string name;
    bool use_regex = false;
    std::string sort;
    bool sort_reverse = false;
    std::vector<std::string> columns;
};
/// Parses the parameters; an error text (400) for a bad value.
std::optional<std::string> parse_list_query(const http::request& req, list_query& out);
/// A list as RabbitMQ writes it: a plain array, or with `page` the paged object
/// (filtered_count, item_count, items, page, page_count, page_size, total_count). An error text
/// for a page out of range or a bad regular expression.
std::optional<std::string> render_list(item_list items, const list_query& q, std::string& out);

/// {"rate": r} objects: "<name>": n and "<name>_details": {"rate": r}.
void counter_with_rate(item& it, std::string_view name, std::uint64_t value, double rate);
void counter_with_rate(json::writer& w, std::string_view name, std::uint64_t value, double rate);

/// The node name every object carries ("switchyard@<hostname>").
const std::string& node_name();

/// Message counters sampled every stats_interval_ms on loop 0: the last sample of each queue
/// and its rates per second, and the same for the broker's totals. Lives in a slot of loop 0
/// (created there when the management API is installed); loop 0 only.
struct rates {
    double publish = 0, deliver_get = 0, ack = 0, redeliver = 0;
    double messages = 0, messages_ready = 0, messages_unacknowledged = 0;
};
struct queue_sample {
    hub::queue_counters counters;
    std::uint64_t ready = 0, unacked = 0;
    rates rate;
    std::int64_t at_ms = 0;
};
struct rate_sampler {
    std::map<const hub::broker_queue*, queue_sample> queues;
    queue_sample totals;
    /// Topic deliveries and publishes (from the last list_topics pass), by topic name.
    struct topic_sample {
        std::uint64_t publishes = 0, deliveries = 0;
        double publish_rate = 0, delivery_rate = 0;
    };
    std::map<std::string, topic_sample, std::less<>> topics;
    std::int64_t topics_at_ms = 0;
    core::timer_id timer{};  ///< the next sampling
    /// Loop 0: takes a sample of every queue of b (and forgets deleted ones).
    void sample(const hub::broker& b, std::int64_t now_ms);
    /// Rates of q (zero before the second sample).
    const rates& of(const hub::broker_queue& q) const;
};
/// Loop 0: one list_topics pass into the sampler's topic rates.
void sample_hub(loop_state& zero);
/// Loop 0: samples now and every interval_ms after (the sampler is loop 0's slot, set first).
void start_sampler(loop_state& ls, std::uint64_t interval_ms);
/// Loop 0, at stop: cancels the timer and clears the slot.
void stop_sampler(loop_state& ls);
rate_sampler* sampler_of(runtime& rt);  ///< loop 0's sampler; nullptr if not installed

/// An answer: status and JSON body ("" with 204), produced on loop 0 and sent on the request's
/// loop. Location: for 201 of a created binding.
struct reply {
    int status = 200;
    std::string body;
    std::string location;
    std::string allow;  ///< 405: the Allow header
};
using reply_fn = std::function<void(reply)>;
/// RabbitMQ's error shape.
reply error_reply(int status, std::string_view error, std::string_view reason);
inline reply not_found() {
    return error_reply(404, "Object Not Found", "Not Found");
}

/// A request after routing: decoded path segments after "/api/", the method, the query and
/// the body; answered through done (any thread's post is done by the caller).
struct call {
    http::method method = http::method::get;
    std::vector<std::string> seg;  ///< "/api/queues/%2F/q" -> {"queues", "/", "q"}
    list_query query;
    std::string body;
    std::string reason;  ///< X-Reason (DELETE /api/connections/{name})
    std::string user;    ///< the authenticated user
    bool if_unused = false, if_empty = false;
};

/// Loop 0: the AMQP endpoints (overview, vhosts, queues, exchanges, bindings, channels,
/// consumers, definitions and every write). false: not an AMQP resource (the caller goes on).
bool serve_amqp(runtime& rt, loop_state& ls, const call& c, reply& out);
/// Loop 0: PUT/DELETE/POST of queues, exchanges and bindings, purge, get, publish
/// (management_write.cpp). false: no such resource.
bool serve_amqp_write(runtime& rt, loop_state& ls, const call& c, reply& out);
/// Loop 0: GET /api/queues as JSON (no paging).
std::string queues_json(runtime& rt, loop_state& ls);

// Shapes shared by the read and write sides (management_amqp.cpp).
std::pair<std::string, std::uint16_t> split_host_port(std::string_view host_port);
std::string connection_name(std::string_view peer, std::string_view local);  ///< "a -> b"
std::string binding_props_key(const hub::broker_binding& b);
item binding_item(std::string_view vhost, std::string_view source, const hub::broker_binding& b);
hub::broker_binding default_binding(const std::string& queue);

/// Loop 0: the AMQP lists as items (connections: AMQP ones, by their net::connection).
item_list amqp_queue_items(loop_state& ls, const rate_sampler* rs, std::string_view vhost);
std::map<const net::connection*, item> amqp_connection_items(loop_state& ls);

/// Any loop: /api/connections (every protocol), /api/topics, /api/listeners, /api/loops,
/// /api/nodes answered through done on the calling loop.
/// max: at most this many connections (0: all).
void gather_connections(runtime& rt, std::function<void(item_list)> done, std::size_t max = 0);
void gather_topics(runtime& rt, std::function<void(item_list)> done);
/// /api/topics/{name}: with a backplane, the topic's figures of every node (subscribers summed,
/// nodes, local_subscribers, and Redis' last_id and epoch); otherwise gather_topics.
void gather_topic(runtime& rt, std::string name, std::function<void(item_list)> done);
item_list listener_items(runtime& rt);
void gather_loops(runtime& rt, std::function<void(item_list)> done);
item node_item(runtime& rt);
/// The connection called `name` ("peer -> local"): closed as its protocol closes on shutdown
/// (AMQP: connection.close 320 with reason). done(false): none.
void close_connection(runtime& rt, std::string name, std::string reason,
                      std::function<void(bool)> done);

}  // namespace sy::server::mgmt
