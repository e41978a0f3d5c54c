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
#include <vector>

#include "switchyard/core/loop.hpp"
#include "switchyard/hub/broker.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/socket.hpp"

namespace sy::session {

struct amqp_user {
    std::string name;
    std::string password;
    bool loopback_only = false;  // guest: like RabbitMQ's loopback_users
};

struct amqp_options {
    std::vector<amqp_user> users;  // empty: guest/guest, loopback only
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
};

class amqp_server_impl;

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
    /// Broker loop thread: runs fn once every record the store has accepted so far is on disk
    /// (at once without a store). A publish that reported publish_result::stored is durable then.
    void when_durable(std::function<void()> fn);

  private:
    std::unique_ptr<amqp_server_impl> impl_;
};

}  // namespace sy::session
