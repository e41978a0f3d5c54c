// switchyard.v1.Hub (proto/switchyard/v1/hub.proto): the hub over gRPC, next to SSE, WebSocket,
// long polling and AMQP on the same topics.
//
//   Publish(topic, payload, content_type) -> (id, subscribers)
//       INVALID_ARGUMENT for a bad topic; RESOURCE_EXHAUSTED while a block-publisher subscriber
//       of the topic is over its output cap (the HTTP gateway's 503).
//   Subscribe(pattern, since | newest) -> stream of Event { Message | Gap }
//       live, or resumed after `since` (literal topics): history first or a Gap event, then live,
//       no duplicate, no hole. Slow subscribers (gRPC output above the session's high watermark)
//       follow the topic's policy: drop-oldest drops the message (counted), disconnect ends the
//       call with RESOURCE_EXHAUSTED, block-publisher marks the subscription over cap until the
//       output drains.
//   Stats(topic) -> TopicStats
// Also installs grpc.health.v1.Health (switchyard.v1.Hub and "" SERVING).
//
// Thread: every call runs on the loop that accepted it, against that loop's hub shard
// (runtime::current_loop()->shard); the hub crosses shards itself.
#pragma once

#include "switchyard/server/app.hpp"

namespace sy::server {

/// Registers switchyard.v1.Hub and grpc.health.v1.Health on a's router. Call before run().
void install_grpc_hub(app& a);

}  // namespace sy::server
