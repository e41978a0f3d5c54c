// amqp_server: AMQP 0-9-1 connections on top of the broker model (hub/broker.hpp) and the codec
// (proto/amqp). RabbitMQ's clients (pika, amqplib, rabbitmq-c) work against it unchanged.
//
// Thread: an amqp_server, its broker, its store and every AMQP connection live on ONE loop (the
// broker loop). Listeners on other loops hand accepted sockets over with loop::post (see
// server/amqp_listener.cpp and docs/threading.md): AMQP routing touches many queues per publish,
// so one owner keeps it lock-free and keeps per-channel ordering trivially.
//
// Lifetime: construct on the broker loop's thread once it runs; stop() before the loop ends
// (closes connections' timers, flushes the store).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/loop.hpp"
#include "switchyard/hub/broker.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/socket.hpp"
#include "switchyard/session/amqp_access.hpp"

namespace sy::session {

struct amqp_options {
    std::vector<amqp_user> users;  // empty: default_users(vhosts) (guest/guest, loopback only)
    std::vector<std::string> vhosts{"/"};
    std::uint16_t heartbeat_s = 60;  // offered in connection.tune
    /// From the accept to connection.open (protocol header, start-ok, tune-ok, open); past it
    /// the socket is closed (RabbitMQ's handshake_timeout, 10 s). 0: no bound.
    std::uint64_t handshake_timeout_ms = 10000;
    std::uint32_t frame_max = 131072;  // offered in connection.tune
    std::uint16_t channel_max = 2047;
    std::uint64_t max_message = 128u << 20;  // body bytes; beyond: 406
    std::uint64_t memory_limit = 0;          // ready bytes; beyond: connection.blocked (0: off)
    std::string store_dir;                   // empty: durable queues are not persisted
    std::string fsync = "batch";             // always | batch | never
    std::uint64_t fsync_interval_ms = 2;     // batch: longest wait for a group commit
    bool hub_bridge = true;                  // amq.topic in vhost "/" is the hub's topic space
    /// Messages a connection may publish per second before credit flow blocks it (reading
    /// paused, connection.blocked); publish_burst more may come at once. 0: no limit.
    std::uint64_t publish_rate = 0;
    std::uint64_t publish_burst = 0;  // 0: one second's worth (publish_rate)
    /// [auth]'s policy as the broker loop sees it now (called per login and update-secret, on
    /// the broker loop): a PLAIN password that is no static user's is verified as a JWT with it.
    /// Empty, or a disabled policy: no JWT passwords.
    std::function<std::shared_ptr<const auth::policy>()> policy;
};

class amqp_server_impl;

/// One channel as the management API shows it (amqp_server::connections).
struct amqp_channel_info {
    std::uint16_t number = 0;
    std::uint32_t prefetch_count = 0;         ///< basic.qos global=false (new consumers)
    std::uint32_t global_prefetch_count = 0;  ///< basic.qos global=true
    std::uint32_t messages_unacknowledged = 0;
    std::uint64_t messages_unconfirmed = 0;  ///< confirm mode: published, not yet confirmed
    std::uint64_t messages_uncommitted = 0;  ///< tx mode: publishes waiting for tx.commit
    std::uint64_t acks_uncommitted = 0;      ///< tx mode: settles waiting for tx.commit
    std::size_t consumer_count = 0;
    bool confirm = false;
    bool transactional = false;
};

/// One AMQP connection at one instant. conn is valid on the broker loop until it returns to
/// the loop (byte counters and TCP_INFO are read through it there); nullptr once closed.
struct amqp_connection_info {
    std::uint64_t id = 0;
    std::string peer;   ///< "127.0.0.1:53354"
    std::string local;  ///< "127.0.0.1:5672"
    std::string user;
    std::string vhost;
    std::string state;           ///< starting | tuning | opening | running | blocked | closing
    std::string auth_mechanism;  ///< PLAIN | AMQPLAIN (empty before start-ok)
    std::uint16_t channel_max = 0;
    std::uint32_t frame_max = 0;
    std::uint16_t heartbeat_s = 0;
    std::int64_t connected_at_ms = 0;  ///< wall clock (ms since the epoch)
    const net::connection* conn = nullptr;
    std::vector<amqp_channel_info> channels;
};

/// One consumer (basic.consume) of a queue.
struct amqp_consumer_info {
    std::uint64_t connection_id = 0;
    std::uint16_t channel = 0;
    std::string tag;
    std::string vhost;
    std::string queue;
    std::uint32_t prefetch_count = 0;
    bool ack_required = true;
    bool exclusive = false;
    bool active = true;
};

/// One queue's figures (metrics: rabbitmq_queue_* on /metrics/per-object).
struct amqp_queue_figures {
    std::string vhost;
    std::string name;
    std::uint64_t ready = 0;
    std::uint64_t unacked = 0;
    std::uint64_t consumers = 0;
};

/// The broker's figures at one instant (metrics: rabbitmq_* and sy_amqp_*).
struct amqp_figures {
    std::uint64_t published = 0;     ///< messages received by the broker since start
    std::uint64_t delivered = 0;     ///< deliveries to consumers and basic.get, redeliveries too
    std::uint64_t acknowledged = 0;  ///< deliveries acknowledged by consumers
    std::uint64_t redelivered = 0;   ///< deliveries flagged redelivered
    std::uint64_t confirmed = 0;     ///< messages confirmed to publishers (basic.ack)
    std::uint64_t ready = 0;         ///< messages waiting in queues, every vhost
    std::uint64_t unacked = 0;       ///< delivered, not yet acknowledged
    std::uint64_t consumers = 0;     ///< consumers over every queue
    std::uint64_t queues = 0;        ///< queues over every vhost
    std::uint64_t connections = 0;   ///< AMQP connections open
    std::uint64_t channels = 0;      ///< channels open over those connections
    /// The first max_queues queues in (vhost, name) order.
    std::vector<amqp_queue_figures> per_queue;
};

class amqp_server {
  public:
    /// l: the broker loop. shard: that loop's hub shard (nullptr: no hub bridge). base: the
    /// loop's connection options (copied; input cap raised to hold a whole frame). conns: the
    /// loop's connection list (shutdown closes them).
    amqp_server(core::loop& l, amqp_options o, hub::hub_shard* shard,
                const net::connection_options& base, net::connection_list* conns);
    ~amqp_server();
    amqp_server(const amqp_server&) = delete;
    amqp_server& operator=(const amqp_server&) = delete;

    /// Broker loop thread: serve an accepted socket.
    void accept(net::unique_fd fd, std::string peer, bool loopback, net::connection_slot slot);
    /// Broker loop thread: stop timers and flush the store (connections are closed by the
    /// runtime's connection list).
    void stop();
    hub::broker& broker();
    /// Broker loop thread: the figures now (walks the queues and connections: per scrape, not
    /// per message), with per_queue filled for at most max_queues queues.
    amqp_figures figures(std::size_t max_queues = 0) const;
    /// Broker loop thread: every connection, in id order (walks them: per request, not per
    /// message).
    std::vector<amqp_connection_info> connections() const;
    /// Broker loop thread: every consumer of every channel.
    std::vector<amqp_consumer_info> consumers() const;
    /// Broker loop thread: closes connection id the way RabbitMQ's management does
    /// (connection.close 320 "CONNECTION_FORCED - <reason>", the socket after close-ok or its
    /// deadline). false: no such connection.
    bool close_connection(std::uint64_t id, std::string_view reason);
    /// Broker loop thread: publishes m as an AMQP client's basic.publish is routed (a publish
    /// to amq.topic in vhost "/" also crosses the hub bridge): the management API's publish.
    hub::broker_status publish(hub::broker_vhost& vh, std::shared_ptr<hub::broker_message> m,
                               hub::publish_result& res);
    /// Broker loop thread: runs fn once every record the store has accepted so far is on disk
    /// (at once without a store). A publish that reported publish_result::stored is durable then.
    void when_durable(std::function<void()> fn);

  private:
    std::unique_ptr<amqp_server_impl> impl_;
};

}  // namespace sy::session
