// broker: the AMQP 0-9-1 model (vhosts, exchanges, bindings, queues, consumers), no sockets and
// no wire types. The session layer (session/amqp_*) decodes methods, converts field tables into
// the plain structs below and maps broker_error to reply codes in its one table.
//
// Thread: a broker and everything it owns live on ONE thread (the broker loop, see
// docs/threading.md). Every call, and every callback it makes (broker_consumer::deliver,
// broker_observer), happens on that thread.
//
// Message flow: publish() routes a message to queues; each queue appends it and dispatches at
// once to consumers with credit (round robin). A consumer takes a queue_entry; the channel keeps
// it unacked until ack() / reject(). Expiry (x-message-ttl, per-message expiration, x-expires)
// runs from tick(now_ms), which the owner calls on a timer.
//
// Lifetime: queues are shared_ptr so a channel's unacked record survives a queue.delete
// (settling against a deleted queue does nothing). Messages are immutable and shared.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/hub/properties.hpp"

namespace sy::hub {

/// Outcomes the AMQP session maps to reply codes (session/amqp_errors: one table).
enum class broker_error : std::uint8_t {
    none,
    not_found,            // 404
    resource_locked,      // 405 (exclusive queue of another connection)
    precondition_failed,  // 406 (redeclare with other arguments, if-unused, if-empty...)
    access_refused,       // 403 (reserved names amq.*)
    not_allowed,          // 530 (unknown vhost)
    command_invalid,      // 503 (unknown exchange type)
};

struct broker_status {
    broker_error code = broker_error::none;
    std::string text;  // detail after "NOT_FOUND - ", RabbitMQ wording
    bool ok() const { return code == broker_error::none; }
    static broker_status fail(broker_error c, std::string t) { return {c, std::move(t)}; }
};

/// Immutable once published; shared by every queue it was routed to. Its properties are held
/// typed, encoded, or both (properties.hpp): the form a reader asks for is derived from the other
/// on first use and cached. The caches are filled on the broker thread only (every user of a
/// broker message runs there, see the file comment), so the const accessors need no lock.
class broker_message {
  public:
    std::string exchange;
    std::string routing_key;
    sy::shared_bytes body;
    std::optional<std::uint64_t> ttl_ms;  // per-message expiration property
    bool persistent = false;              // delivery-mode 2
    std::uint8_t priority = 0;            // priority property (absent: 0), set by the session
    std::vector<header_pair> headers;     // only filled for headers-exchange routing

    /// Typed properties from a producer that does not speak the wire encoding (before publish).
    void set_properties(message_properties p) {
        props_ = std::make_shared<const message_properties>(std::move(p));
        encoded_ = {};
        codec_ = nullptr;
    }
    /// Properties as encoded by `codec` (an AMQP content header payload): kept as they are and
    /// handed to readers of the same codec untouched; decoded only if a typed reader asks.
    void set_encoded(sy::shared_bytes bytes, const property_codec& codec) {
        encoded_ = std::move(bytes);
        codec_ = &codec;
        props_.reset();
    }
    /// The typed properties (decoded from the encoded form once; empty when that does not decode).
    const message_properties& properties() const {
        static const message_properties none;
        if (!props_ && codec_) {
            auto p = std::make_shared<message_properties>();
            if (!codec_->decode(encoded_.bytes(), *p)) *p = {};
            props_ = std::move(p);
        }
        return props_ ? *props_ : none;
    }
    /// The properties encoded by `codec`: the bytes given to set_encoded when they came from it,
    /// else encoded from the typed form once and cached.
    const sy::shared_bytes& encoded(const property_codec& codec) const {
        if (codec_ != &codec) {
            encoded_ = codec.encode(properties(), body.size());
            codec_ = &codec;
        }
        return encoded_;
    }
    /// The encoded form if one is held (empty otherwise): no encoding happens (tests, stats).
    const sy::shared_bytes& encoded_if_any() const { return encoded_; }

  private:
    // Held out of line and shared by copies (dead-lettered copies, tests): typed properties are
    // immutable once made, and a message that never meets a typed reader pays one null pointer.
    mutable std::shared_ptr<const message_properties> props_;
    mutable sy::shared_bytes encoded_;
    mutable const property_codec* codec_ = nullptr;
};
using broker_message_ptr = std::shared_ptr<const broker_message>;

/// A message in one queue.
struct queue_entry {
    broker_message_ptr msg;
    std::int64_t expires_at_ms = 0;  // 0: never
    bool redelivered = false;
    std::uint64_t store_id = 0;  // durable log record id, 0: not stored
    std::uint64_t seq = 0;       // order in its queue (set by enqueue): requeue puts it back there
};

enum class overflow_policy : std::uint8_t { drop_head, reject_publish };

/// The queue arguments the broker understands (x-...); others are accepted and ignored, like
/// RabbitMQ. Equality decides whether a redeclare is "equivalent" (406 otherwise).
struct queue_args {
    std::optional<std::uint64_t> message_ttl_ms;  // x-message-ttl
    std::optional<std::uint64_t> expires_ms;      // x-expires
    std::optional<std::uint64_t> max_length;      // x-max-length
    std::optional<std::uint64_t> max_length_bytes;
    overflow_policy overflow = overflow_policy::drop_head;  // x-overflow
    std::optional<std::string> dead_letter_exchange;        // x-dead-letter-exchange
    std::optional<std::string> dead_letter_routing_key;     // x-dead-letter-routing-key
    std::optional<std::uint8_t> max_priority;               // x-max-priority (0..255)
    friend bool operator==(const queue_args&, const queue_args&) = default;
};

class broker_queue;

/// Implemented by the session's consumer (one per basic.consume).
class broker_consumer {
  public:
    virtual ~broker_consumer() = default;
    /// True when the consumer may take one more message now (prefetch not reached).
    virtual bool has_credit() const = 0;
    /// Takes a message: an auto-ack consumer settles it at once (the queue already dropped it),
    /// otherwise the channel keeps it unacked until ack/reject.
    virtual void deliver(const std::shared_ptr<broker_queue>& q, queue_entry&& e) = 0;
    /// The queue went away (deleted, expired): basic.cancel to clients that accept it.
    virtual void cancelled_by_server() = 0;
    /// Auto-ack consumers do not hold messages.
    virtual bool no_ack() const = 0;
};

enum class dead_reason : std::uint8_t { rejected, expired, maxlen };

/// What happened to one message of a watched queue (see queue_watcher).
enum class queue_event : std::uint8_t {
    enqueued,   // entered the ready list (published, dead-lettered or recovered into it)
    delivered,  // handed to a consumer or taken by basic.get (an auto-ack delivery: then acked)
    acked,      // settled by ack (or by an auto-ack delivery)
    rejected,   // reject/nack without requeue (dead-lettered when configured)
    requeued,   // back at the head, redelivered (nack/reject requeue, recover, consumer gone)
    dropped,    // left unread: expired, pushed out by x-max-length, purged, queue deleted
};

/// Observes the life of every message in one queue (the jobs API tracks job status with it, so
/// the status is right whichever protocol's consumer holds the job). Called synchronously on the
/// broker thread from inside the queue operation; must not call back into the queue. The entry's
/// msg pointer identifies the message across events.
class queue_watcher {
  public:
    virtual ~queue_watcher() = default;
    virtual void on_queue_event(queue_event ev, const queue_entry& e) = 0;
    /// The broker made this the watcher of q (broker::watch_queue, or q was declared under a
    /// watched name). May record q; must not call back into the broker.
    virtual void on_watched(const std::shared_ptr<broker_queue>& /*q*/) {}
};

class broker;
struct broker_vhost;

/// Rewrites the properties of a dead-lettered copy (RabbitMQ adds x-death and x-first-death-*
/// headers and drops the expiration property). The typed headers are text, so the AMQP session
/// implements it on the encoded form (session/amqp_dead_letter.cpp). Called on the broker thread,
/// only when the copy is routed somewhere; must not call back into the broker.
class dead_letter_rewriter {
  public:
    virtual ~dead_letter_rewriter() = default;
    /// `original` is the message as it died in `from` (its exchange and routing key then).
    /// Returns the copy's new properties encoded by codec(), or empty bytes to keep the original
    /// ones.
    virtual sy::shared_bytes rewrite(const broker_message& original, const broker_queue& from,
                                     dead_reason why) = 0;
    /// The codec of the bytes rewrite() returns.
    virtual const property_codec& codec() const = 0;
};

/// A queue's message counters since it was declared, RabbitMQ's message_stats names. One
/// increment per event on the broker thread (the only writer and, for the management API's
/// sampling, the only reader): no atomics needed.
struct queue_counters {
    std::uint64_t publish = 0;         ///< messages that entered the queue (routed, dead-lettered)
    std::uint64_t deliver = 0;         ///< to consumers that must ack
    std::uint64_t deliver_no_ack = 0;  ///< to auto-ack consumers
    std::uint64_t get = 0;             ///< basic.get that must be acked
    std::uint64_t get_no_ack = 0;      ///< basic.get with no-ack
    std::uint64_t ack = 0;             ///< settled by ack
    std::uint64_t redeliver = 0;       ///< deliveries and gets of a message delivered before
    std::uint64_t deliver_get() const { return deliver + deliver_no_ack + get + get_no_ack; }
};

class broker_queue : public std::enable_shared_from_this<broker_queue> {
  public:
    broker_queue(broker& b, broker_vhost& vh, std::string name)
        : broker_(&b), vh_(&vh), name_(std::move(name)) {}

    const std::string& name() const { return name_; }
    bool durable = false;
    bool auto_delete = false;
    std::uint64_t exclusive_owner = 0;  // connection id, 0: not exclusive
    queue_args args;

    std::size_t ready_count() const { return prio_ ? prio_->count : ready_.size(); }
    std::size_t unacked_count() const { return unacked_; }
    std::size_t consumer_count() const { return consumers_.size(); }
    std::uint64_t ready_bytes() const { return ready_bytes_; }
    bool deleted() const { return deleted_; }
    const queue_counters& counters() const { return counters_; }
    /// The consumers in dispatch order with their tags (introspection).
    template <typename Fn>
    void for_each_consumer(Fn&& fn) const {
        for (const auto& c : consumers_) fn(c.tag, *c.c);
    }

    /// Routing delivered a message here. false: refused (x-overflow reject-publish at the cap).
    bool enqueue(queue_entry e, std::int64_t now_ms);
    /// Hands ready messages to consumers with credit, round robin.
    void dispatch(std::int64_t now_ms);
    /// basic.get: the head (expired ones dropped first), or nothing.
    std::optional<queue_entry> get(bool no_ack, std::int64_t now_ms);
    /// The channel settles a message it held: ack, or reject/nack without requeue.
    void ack(const queue_entry& e);
    void reject(queue_entry e, std::int64_t now_ms);  // dead-letters when configured
    /// Back to the queue (requeue, channel close, recover): redelivered, at its original place
    /// (publish order, as RabbitMQ), which is the head unless newer ones were requeued first.
    /// In a priority queue: the same within its own priority level.
    void requeue(queue_entry e);
    std::size_t purge();

    void add_consumer(std::string tag, broker_consumer* c);
    /// false if no such consumer. Auto-delete fires here (from the broker).
    bool remove_consumer(broker_consumer* c);
    bool has_consumer(std::string_view tag) const;
    bool exclusive_consumer = false;  // basic.consume exclusive=true held
    /// Optional observer of every message's life in this queue (nullptr: none). Not owned.
    queue_watcher* watcher = nullptr;

    void expire(std::int64_t now_ms);  // drop expired head messages (dead-lettered)
    std::int64_t last_used_ms = 0;     // for x-expires

  private:
    friend class broker;
    void notify(queue_event ev, const queue_entry& e) const {
        if (watcher) watcher->on_queue_event(ev, e);
    }
    void drop_head_one(std::int64_t now_ms, dead_reason why);
    void drop_one(std::deque<queue_entry>& from, std::int64_t now_ms, dead_reason why);
    std::int64_t expiry_for(const queue_entry& e, std::int64_t now_ms) const;
    /// The list a new or requeued entry goes to: ready_, or its level in a priority queue.
    std::deque<queue_entry>& list_for(const queue_entry& e);
    /// The list holding the next message to deliver (empty when the queue is empty).
    std::deque<queue_entry>& head_list();
    bool head_may_expire();

    struct consumer_rec {
        std::string tag;
        broker_consumer* c;
    };
    broker* broker_;
    broker_vhost* vh_;
    std::string name_;
    // Priority queues (x-max-priority set at declare): one FIFO per level, highest first. Only
    // allocated for them, so a plain queue pays one null test per operation and ready_ stays its
    // only list. ready_ is unused (empty) while prio_ is set.
    struct prio_levels {
        std::vector<std::deque<queue_entry>> levels;  // index = priority, 0..max
        std::size_t count = 0;                        // entries over all levels
        std::size_t top = 0;  // no level above top holds anything (lowered lazily)
    };
    std::unique_ptr<prio_levels> prio_;
    std::deque<queue_entry> ready_;
    std::uint64_t ready_bytes_ = 0;
    std::size_t unacked_ = 0;
    std::vector<consumer_rec> consumers_;
    std::size_t rr_ = 0;
    std::uint64_t next_seq_ = 1;  // ready_ is ordered by queue_entry::seq
    bool deleted_ = false;
    bool had_consumer_ = false;
    queue_counters counters_;
};
using broker_queue_ptr = std::shared_ptr<broker_queue>;

enum class exchange_type : std::uint8_t { direct, fanout, topic, headers };
std::string_view to_string(exchange_type t);
std::optional<exchange_type> parse_exchange_type(std::string_view s);

struct broker_binding {
    std::string queue;  // destination queue (or exchange when to_exchange)
    bool to_exchange = false;
    std::string key;
    std::vector<header_pair> args;  // headers exchange: match rules; x-match in match_all
    bool match_all = true;
    std::string args_key;  // canonical rendering of args, for unbind equality
};

struct broker_exchange {
    std::string name;
    exchange_type type = exchange_type::direct;
    bool durable = false;
    bool auto_delete = false;
    bool internal = false;
    bool builtin = false;
    std::vector<broker_binding> bindings;
};

struct broker_vhost {
    std::string name;
    std::map<std::string, broker_exchange, std::less<>> exchanges;
    std::unordered_map<std::string, broker_queue_ptr> queues;
    /// Queue names whose queue, whoever declares it and whenever, gets this watcher (watch_queue).
    std::unordered_map<std::string, queue_watcher*> watchers;
};

/// Durability hooks (implemented by store/): called on the broker thread.
class broker_observer {
  public:
    virtual ~broker_observer() = default;
    virtual void on_queue_declared(const broker_vhost&, const broker_queue&) {}
    virtual void on_queue_deleted(const broker_vhost&, const broker_queue&) {}
    /// A persistent message enters a durable queue: return its store id (0 = not stored).
    virtual std::uint64_t on_persist(const broker_vhost&, const broker_queue&,
                                     const broker_message&) {
        return 0;
    }
    /// A stored message left its queue (ack, drop, purge, delete).
    virtual void on_settled(std::uint64_t /*store_id*/) {}
};

struct queue_declare_request {
    std::string name;  // empty: server-named (amq.gen-...)
    bool passive = false, durable = false, exclusive = false, auto_delete = false;
    queue_args args;
    std::uint64_t connection = 0;
};
struct queue_declare_result {
    std::string name;
    std::uint32_t messages = 0, consumers = 0;
};

struct publish_result {
    std::size_t routed = 0;  // queues that took it
    bool rejected = false;   // some queue refused (reject-publish): nack the confirm
    bool stored = false;     // persisted in at least one durable queue: confirm after sync
};

/// Broker-wide counters since start (the broker thread writes them, plainly; metrics copy them
/// there at a scrape). delivered counts consumer deliveries and basic.get alike, redelivered
/// those of them flagged redelivered; confirmed counts publisher confirms (basic.ack sent per
/// message, a multiple ack counting each message it covers), written by the AMQP session.
struct broker_stats {
    std::uint64_t published = 0, delivered = 0, acked = 0, dead_lettered = 0, expired = 0,
                  dropped = 0, redelivered = 0, confirmed = 0;
};

class broker {
  public:
    explicit broker(std::vector<std::string> vhosts = {"/"});

    broker_vhost* vhost(std::string_view name);
    void set_observer(broker_observer* o) { observer_ = o; }
    broker_observer* observer() const { return observer_; }
    /// Not owned; nullptr: dead-lettered copies keep their header as it was.
    void set_dead_letter_rewriter(dead_letter_rewriter* r) { rewriter_ = r; }

    broker_status exchange_declare(broker_vhost& vh, const broker_exchange& want, bool passive);
    broker_status exchange_delete(broker_vhost& vh, std::string_view name, bool if_unused);
    broker_status queue_declare(broker_vhost& vh, const queue_declare_request& r,
                                queue_declare_result& out);
    broker_status queue_delete(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                               bool if_unused, bool if_empty, std::uint32_t& count);
    broker_status queue_purge(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                              std::uint32_t& count);
    broker_status bind(broker_vhost& vh, std::string_view exchange, broker_binding b,
                       std::uint64_t conn);
    broker_status unbind(broker_vhost& vh, std::string_view exchange, const broker_binding& b,
                         std::uint64_t conn);
    /// w (nullptr: none) watches the queue named `name` in vh: the one that exists now and every
    /// queue declared (by a client, by the server, by recovery) under that name later, from its
    /// first message on. So a server feature built on a queue name follows whichever queue holds
    /// the name (the jobs API; an AMQP client may declare the queue first, delete it, declare it
    /// again). Unwatching clears the current queue's watcher; deleted queues keep theirs.
    void watch_queue(broker_vhost& vh, const std::string& name, queue_watcher* w);
    /// A queue usable by connection conn: not_found or resource_locked otherwise.
    broker_status find_queue(broker_vhost& vh, std::string_view name, std::uint64_t conn,
                             broker_queue_ptr& out);
    broker_exchange* find_exchange(broker_vhost& vh, std::string_view name);

    /// Routes and enqueues. not_found if the exchange does not exist.
    broker_status publish(broker_vhost& vh, broker_message_ptr m, publish_result& out,
                          std::int64_t now_ms);
    /// Routes into one queue only (hub bridge, dead-letter).
    void deliver_to(broker_queue& q, broker_message_ptr m, std::int64_t now_ms);
    void dead_letter(broker_vhost& vh, const broker_queue& from, queue_entry e, dead_reason why,
                     std::int64_t now_ms);

    /// Connection closed: its exclusive queues go.
    void connection_closed(std::uint64_t conn);
    /// A consumer left a queue: auto-delete it if that was the last one.
    void consumer_removed(broker_queue& q);
    void delete_queue(broker_vhost& vh, broker_queue& q);
    /// Expiry of messages and of unused queues. Returns nothing; call every few ms.
    void tick(std::int64_t now_ms);

    std::uint64_t total_ready_bytes() const;
    broker_stats& stats() { return stats_; }
    const std::map<std::string, broker_vhost, std::less<>>& vhosts() const { return vhosts_; }
    std::string generate_queue_name();

  private:
    void add_builtin_exchanges(broker_vhost& vh);
    void route(broker_vhost& vh, const broker_exchange& ex, const broker_message& m,
               std::vector<broker_queue*>& out, int depth);

    std::map<std::string, broker_vhost, std::less<>> vhosts_;
    broker_observer* observer_ = nullptr;
    dead_letter_rewriter* rewriter_ = nullptr;
    broker_stats stats_;
    std::uint64_t name_seq_ = 0;
};

/// AMQP topic matching: words split by '.', '*' one word, '#' zero or more words.
bool topic_matches(std::string_view pattern, std::string_view key);

}  // namespace sy::hub
