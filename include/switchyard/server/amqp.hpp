// AMQP 0-9-1 listener wiring: `amqp.listen` addresses accept with the server's execution model;
// every accepted socket is handed to the broker loop (loop 0), which owns the broker, the store
// and all AMQP connections (docs/threading.md). Under prefork each process has its own broker.
#pragma once

#include "switchyard/server/app.hpp"

namespace sy::server {

/// Registers the AMQP listener and the broker loop hooks on app (no-op without amqp.listen).
/// Call before app.run().
void install_amqp(sy::app& app);

}  // namespace sy::server
