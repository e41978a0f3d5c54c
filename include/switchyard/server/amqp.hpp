// AMQP 0-9-1 listener wiring: `amqp.listen` addresses accept with the server's execution model;
// every accepted socket is handed to the broker loop (loop 0), which owns the broker, the store
// and all AMQP connections (docs/threading.md). Under prefork each process has its own broker.
#pragma once

#include <vector>

#include "switchyard/server/app.hpp"
#include "switchyard/session/amqp_server.hpp"

namespace sy::server {

/// amqp.users, amqp.user_tags, amqp.permissions and amqp.topic_permissions as the broker's users
/// (none: session::default_users); guest is loopback-only. Throws config_error on a bad entry.
/// The management API's HTTP Basic check uses the same list with session::authenticate_user.
std::vector<session::amqp_user> amqp_users_of(const amqp_config& c);

/// Registers the AMQP listener and the broker loop hooks on app (no-op without amqp.listen).
/// Call before app.run().
void install_amqp(app& app);

}  // namespace sy::server
