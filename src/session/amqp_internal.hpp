// Internal types of the AMQP session: the server context, connections, channels, consumers.
// Everything here runs on the broker loop's thread (see amqp_server.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/hub/broker.hpp"
#include "switchyard/proto/amqp/content.hpp"
#include "switchyard/proto/amqp/frame.hpp"
#include "switchyard/session/amqp_server.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::store {
class message_log;
}

namespace sy::session {

/// The amq.topic bridge's one rule: a publish to amq.topic in vhost "/" also goes to the hub.
inline bool bridged(std::string_view exchange, std::string_view vhost) {
    return exchange == "amq.topic" && vhost == "/";
}
/// AMQP topic binding key -> the hub pattern the bridge subscribes to ("a.#" -> "a.>").
std::string hub_pattern(std::string_view key);
/// The grant of a JWT in vhost (amqp_permissions.cpp): access when a RabbitMQ scope names the
/// vhost, or, in "/", when the token has hub claims; nullopt otherwise.
std::optional<amqp_grant> token_grant(auth::principal_ptr token,
                                      std::shared_ptr<const auth::policy> policy,
                                      std::string_view vhost);

class amqp_connection;
class amqp_channel;

/// One AMQP reply: code, RabbitMQ text ("NOT_FOUND - no queue 'q' in vhost '/'") and the method
/// that caused it. Hard codes close the connection, soft ones the channel.
struct amqp_fault {
    std::uint16_t code = 0;
    std::string text;
    bool hard = false;
};
/// The one table: broker_error -> reply code and name.
amqp_fault fault_of(const hub::broker_status& st);
amqp_fault make_fault(std::uint16_t code, std::string_view detail);
/// The x-death writer the broker calls for dead-lettered copies (amqp_dead_letter.cpp).
hub::dead_letter_rewriter& amqp_dead_letter_rewriter();
/// Typed message properties <-> the AMQP content header payload (amqp_properties.cpp).
const hub::property_codec& amqp_codec();

struct amqp_consumer : hub::broker_consumer {
    amqp_channel* ch = nullptr;
    std::string tag;
    hub::broker_queue_ptr queue;
    bool no_ack_ = false;
    std::uint32_t prefetch = 0;  // 0: unlimited
    std::uint32_t unacked = 0;
    bool active = true;

    bool has_credit() const override;
    void deliver(const hub::broker_queue_ptr& q, hub::queue_entry&& e) override;
    void cancelled_by_server() override;
    bool no_ack() const override { return no_ack_; }
};

struct unacked_rec {
    std::uint64_t tag = 0;
    hub::broker_queue_ptr queue;
    hub::queue_entry entry;
    std::shared_ptr<amqp_consumer> consumer;  // null for basic.get
    bool settled = false;
    bool in_tx = false;  // acked/rejected in the open transaction: settled at tx.commit
};

/// A publish whose routing is done at once, or at tx.commit on a transactional channel.
struct pending_publish {
    hub::broker_message_ptr msg;
    bool mandatory = false;
    bool to_hub = false;  // bridged(): also published to the hub
    std::string content_type;
};

/// An ack/nack/reject on a transactional channel, applied at tx.commit (RabbitMQ order).
struct tx_settle {
    std::vector<std::uint64_t> tags;  // ascending
    bool ack = false;
    bool requeue = false;
};

enum class confirm_state : std::uint8_t { pending, ack, nack };

/// Borrows a member vector for one call: cleared, and handed back with its capacity on scope
/// exit, so per-message paths (every basic.ack) do not allocate. A re-entrant call finds the
/// member empty and simply uses a fresh vector.
template <typename T>
class scratch {
  public:
    explicit scratch(std::vector<T>& home) : v(std::move(home)), home_(home) { v.clear(); }
    ~scratch() {
        v.clear();
        home_ = std::move(v);
    }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    std::vector<T> v;

  private:
    std::vector<T>& home_;
};

class amqp_server_impl;

class amqp_channel {
  public:
    amqp_channel(amqp_connection& c, std::uint16_t id);
    ~amqp_channel();
    std::uint16_t id() const { return id_; }
    bool closing() const { return closing_; }

    /// A frame of this channel (not channel.close-ok handling: see amqp_connection).
    void on_frame(const amqp::frame& f);
    /// Channel close / connection gone: requeue unacked, cancel consumers.
    void teardown();
    void deliver(amqp_consumer& c, const hub::broker_queue_ptr& q, hub::queue_entry&& e);
    bool has_credit() const;
    /// The store made records up to token durable.
    void on_synced(std::uint64_t token);
    /// Writes confirms that became ready (called before the connection flushes).
    void flush_confirms();
    void redispatch();
    std::uint32_t unacked() const { return unacked_count_; }
    /// Direct reply-to: a message published to the default exchange with this channel's
    /// reply-to name goes straight to its reply consumer (no queue, no ack). false: this channel
    /// cannot take it (closing), the publish is dropped like an unroutable one.
    bool deliver_reply(const hub::broker_message& m);
    /// Management: this channel's figures, and its consumers appended to out.
    void describe(amqp_channel_info& out) const;
    void describe_consumers(std::uint64_t connection_id,
                            std::vector<amqp_consumer_info>& out) const;

  private:
    void on_method(const amqp::method_variant& m);
    /// h is header_bytes decoded (the assembler's views into them).
    void on_publish(const amqp::basic_publish& p, const amqp::content_header& h,
                    byte_view header_bytes, const shared_bytes& body);
    void fail(const amqp_fault& f, std::uint16_t cls, std::uint16_t mth);
    /// Access control (amqp_permissions.cpp): false when refused, the channel then closed with
    /// RabbitMQ's 403. permit_topic checks the routing key when exchange is a topic exchange.
    bool permit(amqp_perm p, std::string_view kind, std::string_view name, std::uint16_t cls,
                std::uint16_t mth);
    bool permit_topic(amqp_perm p, std::string_view exchange, std::string_view key,
                      std::uint16_t cls, std::uint16_t mth);
    /// queue.bind / exchange.bind and their unbinds: write on the destination (kind "queue" or
    /// "exchange"), read on the source exchange, then the source's topic permission (read).
    bool permit_binding(std::string_view kind, std::string_view destination,
                        std::string_view source, std::string_view key, std::uint16_t cls,
                        std::uint16_t mth);
    /// queue.declare of a new queue with x-dead-letter-exchange: read on the queue, write on
    /// the exchange (RabbitMQ's check_dlx_permitted).
    bool permit_dead_letter(const std::string& queue, const hub::queue_args& args,
                            std::uint16_t cls, std::uint16_t mth);
    template <typename M>
    void reply(const M& m);

    void on(const amqp::channel_close& m);
    void on(const amqp::channel_flow& m);
    void on(const amqp::exchange_declare& m);
    void on(const amqp::exchange_delete& m);
    void on(const amqp::exchange_bind& m);
    void on(const amqp::exchange_unbind& m);
    void on(const amqp::queue_declare& m);
    void on(const amqp::queue_bind& m);
    void on(const amqp::queue_unbind& m);
    void on(const amqp::queue_purge& m);
    void on(const amqp::queue_delete& m);
    void on(const amqp::basic_qos& m);
    void on(const amqp::basic_consume& m);
    void on(const amqp::basic_cancel& m);
    void on(const amqp::basic_get& m);
    void on(const amqp::basic_ack& m);
    void on(const amqp::basic_reject& m);
    void on(const amqp::basic_nack& m);
    void on(const amqp::basic_recover& m);
    void on(const amqp::basic_recover_async& m);
    void on(const amqp::confirm_select& m);
    void on(const amqp::tx_select& m);
    void on(const amqp::tx_commit& m);
    void on(const amqp::tx_rollback& m);
    bool route_publish(const pending_publish& pp);  // true: stored, durable after a sync
    void settle(std::uint64_t tag, bool multiple, bool ack, bool requeue, std::uint16_t mth);
    void settle_one(unacked_rec& r, bool ack, bool requeue);
    void settle_all(const std::vector<unacked_rec*>& recs, bool ack, bool requeue);
    /// Channel close: everything unacked back to its queue. recover: the same except what an
    /// open transaction acked (RabbitMQ took those out of the unacked list already).
    void requeue_all(bool keep_in_tx = false);
    void cancel_consumer(const std::string& tag);
    void consume_reply_to(const amqp::basic_consume& m);
    void drop_reply_consumer();
    std::string queue_name(std::string_view given) const;
    void confirm(std::uint64_t seq, confirm_state s);

    amqp_connection& conn_;
    std::uint16_t id_;
    bool closing_ = false;
    bool flow_ = true;
    amqp::content_assembler asm_;
    std::string last_queue_;
    std::uint64_t next_tag_ = 1;
    std::deque<unacked_rec> unacked_;  // by tag, unacked_.front().tag lowest; settled popped
    // Reused by settle / settle_all / redispatch (see scratch).
    std::vector<unacked_rec*> settle_scratch_;
    std::vector<hub::broker_queue*> touched_scratch_;
    std::vector<hub::broker_queue_ptr> dispatch_scratch_;
    std::uint32_t unacked_count_ = 0;
    std::uint32_t prefetch_ = 0;         // basic.qos global=false: for new consumers
    std::uint32_t global_prefetch_ = 0;  // basic.qos global=true: the whole channel
    std::map<std::string, std::shared_ptr<amqp_consumer>, std::less<>> consumers_;
    // Direct reply-to (basic.consume on amq.rabbitmq.reply-to, no-ack): at most one per channel,
    // registered in amqp_server_impl::reply_consumers under reply_name_ while set.
    std::string reply_tag_;   // empty: no reply consumer
    std::string reply_name_;  // amq.rabbitmq.reply-to.<opaque>
    // Publisher confirms: states of seqs confirm_base_.. in order; flushed as runs of acks.
    bool confirm_ = false;
    std::uint64_t next_seq_ = 1;
    std::uint64_t confirm_base_ = 1;
    std::deque<confirm_state> confirms_;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> awaiting_sync_;  // (token, seq)
    // Transactions (tx.select): publishes and settles wait for tx.commit; rollback drops them.
    // tx.commit-ok waits for the store when a committed message was persisted (tokens).
    bool tx_ = false;
    bool tx_failed_ = false;  // a committed publish was refused (reject-publish)
    std::vector<pending_publish> tx_publishes_;
    std::vector<tx_settle> tx_settles_;
    std::deque<std::uint64_t> commit_waits_;  // store tokens of tx.commit-ok not yet sent
    friend class amqp_connection;
    friend struct amqp_consumer;
};

/// The last access checks of one connection (RabbitMQ caches them per channel too): a publish
/// stream to one exchange, or with a few routing keys, runs no regex per message. Fixed size;
/// a hit allocates nothing.
class access_cache {
  public:
    /// The cached answer of (what, a, b), or nullopt. what: which check (a resource permission
    /// or a topic permission), a and b its operands.
    std::optional<bool> find(std::uint8_t what, std::string_view a, std::string_view b) const;
    void put(std::uint8_t what, std::string_view a, std::string_view b, bool ok);
    void clear() { used_ = next_ = 0; }

  private:
    struct entry {
        std::uint8_t what = 0;
        bool ok = false;
        std::string a, b;
    };
    std::array<entry, 8> e_;
    std::size_t used_ = 0, next_ = 0;
};

enum class conn_state : std::uint8_t {
    protocol_header,
    start_ok,
    secure_ok,
    tune_ok,
    open,
    ready,
    closing
};

class amqp_connection : public net::connection_handler,
                        public graceful_shutdown,
                        public core::before_sleep_hook {
  public:
    amqp_connection(amqp_server_impl& s, std::uint64_t id, std::string peer, bool loopback);
    ~amqp_connection() override;

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    void on_close(net::connection& c, net::close_reason r) override;
    /// Server shutdown: connection.close 320 CONNECTION_FORCED with RabbitMQ's text, then the
    /// socket closes at close-ok (or the close-ok deadline / the end of the grace period).
    void begin_shutdown(net::connection& c) override;
    std::string_view protocol() const override { return "AMQP 0-9-1"; }
    void before_sleep() override;

    /// Output of this connection; flushed once per loop turn.
    byte_buffer& out();
    /// Queues the body frames of a delivery (after its method and header frames in out()).
    /// A body of at least shared_body_min bytes is not copied: each frame's body part goes to
    /// the socket as a slice of the message's own shared bytes, so a message delivered to many
    /// consumers exists once in memory. Smaller bodies are copied into out(): for them the
    /// copy costs less than the two queue segments, the fresh out() buffer and the extra iovecs
    /// a slice costs (measured: at 1 KiB, 1 -> 1, slices ran ~30% slower than the copy).
    void write_body(std::uint16_t channel, const shared_bytes& body);
    static constexpr std::size_t shared_body_min = 16 * 1024;
    std::uint64_t id() const { return id_; }
    amqp_server_impl& server() { return srv_; }
    hub::broker_vhost& vhost() { return *vhost_; }
    std::uint32_t frame_max() const { return frame_max_; }
    bool writable() const { return conn_ && conn_->is_open() && !conn_->above_high_watermark(); }
    void connection_error(const amqp_fault& f, std::uint16_t cls, std::uint16_t mth);
    /// The memory alarm was raised (on) or cleared (off). Raising it blocks nothing by itself: see
    /// publish_received. Clearing it unblocks (connection.unblocked) a connection that was blocked.
    void set_blocked(bool on);
    /// A channel received a whole publish: while the alarm is on, or when the publish took the
    /// last credit of amqp.publish_rate, the connection is blocked now (connection.blocked if
    /// the client accepts it; reading paused, buffered frames left unread).
    void publish_received();
    bool blocked() const { return blocked_by_ != 0; }
    bool published = false;
    bool caps_blocked = false;  // client accepts connection.blocked
    bool caps_cancel = false;   // client accepts basic.cancel from the server
    std::map<std::uint16_t, std::unique_ptr<amqp_channel>>& channels() { return channels_; }
    /// Management: this connection's figures (amqp_server::connections).
    void describe(amqp_connection_info& out) const;
    /// Management: connection.close 320 CONNECTION_FORCED with reason, as at shutdown.
    void force_close(std::string_view reason);
    /// Access control (amqp_permissions.cpp) against the grant of connection.open. nullopt:
    /// allowed; else RabbitMQ's 403 ACCESS_REFUSED with its text. kind: "queue" | "exchange".
    std::optional<amqp_fault> check(amqp_perm p, std::string_view kind, std::string_view name);
    /// The topic permission of exchange (a topic exchange) on a routing key: write for publishes,
    /// read for bindings. No topic permission for the exchange: allowed (RabbitMQ).
    std::optional<amqp_fault> check_topic(amqp_perm p, std::string_view exchange,
                                          std::string_view key);

  private:
    void on_frame(const amqp::frame& f);
    void on_connection_method(const amqp::frame& f);
    void on_start_ok(const amqp::connection_start_ok& m);
    void on_tune_ok(const amqp::connection_tune_ok& m);
    void on_open_method(const amqp::connection_open& m);
    void on_update_secret(const amqp::connection_update_secret& m);
    /// The grant of vhost_ from account_ or token_ (nullopt: no access to the vhost).
    std::optional<amqp_grant> make_grant() const;
    void arm_expiry();
    void send_start();
    void heartbeat_tick();
    void close_socket();
    // Credit flow (amqp_connection.cpp): why reading is paused, a bit per reason. The first
    // reason sends connection.blocked, the last one gone connection.unblocked.
    static constexpr std::uint8_t block_memory = 1, block_rate = 2;
    void block(std::uint8_t why, std::string_view reason);
    void unblock(std::uint8_t why);
    double burst() const;
    void refill();
    bool take_credit();
    void rate_wait();

    amqp_server_impl& srv_;
    std::uint64_t id_;
    std::string peer_;
    bool loopback_;
    net::connection* conn_ = nullptr;
    amqp::frame_decoder dec_;
    conn_state state_ = conn_state::protocol_header;
    byte_buffer out_;
    std::uint32_t frame_max_ = amqp::constant::frame_min_size;
    std::uint16_t channel_max_ = 2047;
    std::uint16_t heartbeat_s_ = 0;
    std::int64_t last_recv_ms_ = 0;
    std::int64_t last_send_ms_ = 0;
    core::timer_id hb_timer_{};
    bool hb_armed_ = false;
    std::uint8_t blocked_by_ = 0;  // block_memory | block_rate
    double credit_ = 0;            // publishes allowed now (amqp.publish_rate's bucket)
    std::int64_t credit_at_ms_ = 0;
    core::timer_id rate_timer_{};
    bool rate_armed_ = false;
    std::string user_;
    const amqp_user* account_ = nullptr;  // the static user of start-ok (in srv_.opts.users)
    auth::principal_ptr token_;           // or the JWT of start-ok / update-secret
    std::optional<amqp_grant> grant_;     // set at connection.open
    core::timer_id exp_timer_{};          // the token's exp: connection.close 320
    bool exp_armed_ = false;
    access_cache access_cache_;
    std::string mechanism_;
    std::int64_t connected_at_ms_ = 0;  // wall clock
    hub::broker_vhost* vhost_ = nullptr;
    std::map<std::uint16_t, std::unique_ptr<amqp_channel>> channels_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class amqp_server_impl : public hub::subscriber {
  public:
    amqp_server_impl(core::loop& l, amqp_options o, hub::hub_shard* shard,
                     const net::connection_options& base, net::connection_list* conns);
    ~amqp_server_impl() override;

    core::loop& loop;
    amqp_options opts;
    hub::broker broker;
    hub::hub_shard* shard;
    net::connection_options conn_opts;
    net::connection_list* conns;
    std::unique_ptr<store::message_log> store;
    std::set<amqp_connection*> connections;
    /// Direct reply-to names (amq.rabbitmq.reply-to.<opaque>) -> the channel consuming them.
    std::unordered_map<std::string, amqp_channel*> reply_consumers;
    std::uint64_t next_conn_id = 1;
    bool blocked = false;

    std::int64_t now_ms() const { return loop.now_ms(); }
    const amqp_user* authenticate(std::string_view user, std::string_view pass,
                                  bool loopback) const;
    /// [auth]'s policy now, or nullptr when off.
    std::shared_ptr<const auth::policy> current_policy() const;
    /// secret as a JWT (the PLAIN password, update-secret): its principal, or nullptr.
    auth::principal_ptr verify_token(std::string_view secret) const;
    /// Store sync token (records written so far) for confirms; 0 when nothing is pending.
    std::uint64_t store_token() const;
    void on_store_synced(std::uint64_t token);
    void when_durable(std::function<void()> fn);
    void tick();
    void stop();

    // Hub bridge: amq.topic bindings in vhost "/" subscribe to the hub with the pattern.
    void bridge_bind(const std::string& key);
    void bridge_unbind_check();
    void publish_to_hub(std::string_view key, std::string_view content_type,
                        const shared_bytes& body);
    void on_message(const hub::delivery& d) override;
    /// The amq.topic bridge: one subscription per binding pattern, not per consumer.
    hub::subscriber_transport transport() const override { return hub::subscriber_transport::amqp; }

  private:
    void recover();
    core::timer_id tick_timer_{};
    bool stopped_ = false;
    std::deque<std::pair<std::uint64_t, std::function<void()>>> durable_waiters_;  // (token, fn)
    std::map<std::string, hub::subscription_handle> bridge_subs_;
    const void* own_payload_ = nullptr;       // payload being published by AMQP right now
    std::multiset<const void*> pending_own_;  // AMQP payloads in flight through the hub
    hub::message_ptr last_bridged_;           // held so its address cannot be reused
};

}  // namespace sy::session
