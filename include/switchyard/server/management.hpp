// The management API: RabbitMQ 3.10's management HTTP API (GET /api/overview, /api/queues,
// /api/connections ...; PUT/DELETE of queues, exchanges, bindings; purge, get, publish, close a
// connection) plus switchyard's own resources (/api/topics, /api/listeners, /api/loops), on the
// management.listen listeners (their own router: /api/..., /admin and the static files), and on
// the main HTTP listeners too with management.on_main_port. HTTP Basic against amqp.users, the
// same check as AMQP's PLAIN (guest from loopback only). docs/management.md.
//
// Threading: a request is answered on its own loop; what the broker owns (queues, exchanges,
// AMQP connections and channels) is read on loop 0 by a post, the loops' own figures (their
// connections, hub shards) by one post to each loop, merged on the request's loop. Message
// rates are sampled every management.stats_interval_ms by a timer on loop 0 (one pass over the
// queues, not per message).
#pragma once

#include <functional>
#include <string>

#include "switchyard/server/app.hpp"
#include "switchyard/server/runtime.hpp"
#include "switchyard/server/system_topics.hpp"

namespace sy::server {

/// Registers the management listener(s), the rate sampler and the routes. Call before
/// app.run(), after install_builtin_routes (which reports a bad static_dir as a config error;
/// /api/ and /admin, exact segments, take precedence over its static catch-all on the main port).
void install_management(app& app);

/// The JSON documents of GET /api/queues, /api/topics, /api/connections and /api/listeners
/// (plain arrays, every field, no paging), built the same way the API builds them. Call on a
/// loop thread of rt while it runs; done runs later on that same loop. The dashboard's sys.*
/// topics publish these.
using json_done = std::function<void(std::string)>;
void management_queues_json(runtime& rt, json_done done);
/// max_items: at most this many topics, the most published (0: all).
void management_topics_json(runtime& rt, json_done done, std::size_t max_items = 0);
/// max_items: at most this many connections (0: all; at 10,000 connections the whole list is
/// ~4 MB and ~250 ms of a loop, so a periodic publisher caps it).
void management_connections_json(runtime& rt, json_done done, std::size_t max_items = 0);
void management_listeners_json(runtime& rt, json_done done);

/// Registers sys.queues, sys.topics (the management.sys_list_max most published) and
/// sys.connections (at most management.sys_list_max) on the
/// server's stats topics (sys.stats carries the listeners): the JSON of the matching GET /api/...
/// each stats interval, only while the topic has a subscriber (the /admin dashboard's tables).
void add_management_topics(system_topics& sys);

}  // namespace sy::server
