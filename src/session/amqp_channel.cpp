// amqp_channel: channel-level methods (exchange, queue, basic, confirm) over the broker model.
// Broker loop thread only. Replies follow RabbitMQ's codes and texts (see fault_of).
#include <charconv>

#include "amqp_internal.hpp"
#include "switchyard/session/amqp_args.hpp"

namespace sy::session {

using namespace sy::amqp;

// ---- consumers ----

bool amqp_consumer::has_credit() const {
    if (!active || ch == nullptr) return false;
    if (!no_ack_ && prefetch != 0 && unacked >= prefetch) return false;
    return ch->has_credit();
}

void amqp_consumer::deliver(const hub::broker_queue_ptr& q, hub::queue_entry&& e) {
    ch->deliver(*this, q, std::move(e));
}

void amqp_consumer::cancelled_by_server() {
    if (!ch) return;
    amqp_channel* c = ch;
    active = false;
    if (c->conn_.caps_cancel) c->reply(basic_cancel{tag, true});
    c->consumers_.erase(tag);  // may destroy *this: nothing after
}

// ---- channel ----

amqp_channel::amqp_channel(amqp_connection& c, std::uint16_t id)
    : conn_(c), id_(id), asm_(assembler_options{c.server().opts.max_message}) {}

amqp_channel::~amqp_channel() {
    teardown();
}

template <typename M>
void amqp_channel::reply(const M& m) {
    encode_method_frame(conn_.out(), id_, m);
}

bool amqp_channel::has_credit() const {
    if (!flow_ || closing_ || !conn_.writable()) return false;
    return global_prefetch_ == 0 || unacked_count_ < global_prefetch_;
}

void amqp_channel::fail(const amqp_fault& f, std::uint16_t cls, std::uint16_t mth) {
    if (f.hard) {
        conn_.connection_error(f, cls, mth);
        return;
    }
    reply(channel_close{f.code, f.text, cls, mth});
    closing_ = true;
    teardown();
}

void amqp_channel::teardown() {
    drop_reply_consumer();
    auto cs = std::move(consumers_);
    consumers_.clear();
    for (auto& [tag, c] : cs) {
        c->active = false;
        c->ch = nullptr;
        if (c->queue && !c->queue->deleted()) {
            c->queue->remove_consumer(c.get());
            conn_.server().broker.consumer_removed(*c->queue);
        }
    }
    // An open transaction dies with its channel: its publishes are dropped, and what it acked is
    // still unacked, so it is requeued below.
    tx_publishes_.clear();
    tx_settles_.clear();
    commit_waits_.clear();
    requeue_all();
}

void amqp_channel::requeue_all(bool keep_in_tx) {
    // The queue puts each back at its original place (publish order), whatever the order here.
    std::vector<hub::broker_queue_ptr> touched;
    for (auto it = unacked_.rbegin(); it != unacked_.rend(); ++it) {
        if (it->settled || (keep_in_tx && it->in_tx)) continue;
        it->settled = true;
        unacked_count_--;
        if (it->consumer) it->consumer->unacked--;
        it->queue->requeue(std::move(it->entry));
        touched.push_back(it->queue);
    }
    std::erase_if(unacked_, [](const unacked_rec& r) { return r.settled; });
    for (auto& q : touched) q->dispatch(conn_.server().now_ms());
}

void amqp_channel::on_frame(const frame& f) {
    auto r = asm_.on_frame(f);
    if (!r) {
        const error_info i = info_for(r.error());
        fail({i.reply_code, std::string(i.text), i.hard}, 0, 0);
        return;
    }
    if (*r != assembly::complete) return;
    if (const auto* p = std::get_if<basic_publish>(&asm_.method())) {
        on_publish(*p, *asm_.header(), asm_.header_bytes(), asm_.body());
        return;
    }
    on_method(asm_.method());
}

void amqp_channel::on_method(const method_variant& mv) {
    std::visit(
        [this](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (requires(amqp_channel & c) { c.on(m); }) {
                on(m);
            } else if constexpr (std::is_same_v<M, channel_open>) {
                conn_.connection_error(make_fault(504, "second 'channel.open' seen"), M::amqp_class,
                                       M::amqp_method);
            } else if constexpr (std::is_same_v<M, access_request>) {
                reply(access_request_ok{1});
            } else {
                conn_.connection_error(
                    make_fault(
                        540, std::string("method '") + std::string(M::name) + "' not implemented"),
                    M::amqp_class, M::amqp_method);
            }
        },
        mv);
}

void amqp_channel::on(const channel_close&) {
    teardown();
    reply(channel_close_ok{});
    conn_.channels().erase(id_);  // destroys *this
}

void amqp_channel::on(const channel_flow& m) {
    flow_ = m.active;
    reply(channel_flow_ok{m.active});
    if (flow_) redispatch();
}

std::string amqp_channel::queue_name(std::string_view given) const {
    return given.empty() ? last_queue_ : std::string(given);
}

void amqp_channel::on(const exchange_declare& m) {
    auto t = hub::parse_exchange_type(m.type);
    if (!t && !m.passive) {
        conn_.connection_error(
            make_fault(503, "unknown exchange type '" + std::string(m.type) + "'"), m.amqp_class,
            m.amqp_method);
        return;
    }
    if (!m.passive &&
        !permit(amqp_perm::configure, "exchange", m.exchange, m.amqp_class, m.amqp_method))
        return;
    hub::broker_exchange want;
    want.name = std::string(m.exchange);
    want.type = t.value_or(hub::exchange_type::direct);
    want.durable = m.durable;
    want.auto_delete = m.auto_delete;
    want.internal = m.internal;
    auto st = conn_.server().broker.exchange_declare(conn_.vhost(), want, m.passive);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (!m.nowait) reply(exchange_declare_ok{});
}

void amqp_channel::on(const exchange_delete& m) {
    if (!permit(amqp_perm::configure, "exchange", m.exchange, m.amqp_class, m.amqp_method)) return;
    auto st = conn_.server().broker.exchange_delete(conn_.vhost(), m.exchange, m.if_unused);
    if (st.code == hub::broker_error::not_found) st = {};  // RabbitMQ: deleting nothing is ok
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (!m.nowait) reply(exchange_delete_ok{});
}

void amqp_channel::on(const exchange_bind& m) {
    if (!permit_binding("exchange", m.destination, m.source, m.routing_key, m.amqp_class,
                        m.amqp_method))
        return;
    hub::broker_binding b =
        make_binding(std::string(m.destination), true, m.routing_key, m.arguments);
    auto st = conn_.server().broker.bind(conn_.vhost(), m.source, std::move(b), conn_.id());
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (!m.nowait) reply(exchange_bind_ok{});
}

void amqp_channel::on(const exchange_unbind& m) {
    if (!permit_binding("exchange", m.destination, m.source, m.routing_key, m.amqp_class,
                        m.amqp_method))
        return;
    hub::broker_binding b =
        make_binding(std::string(m.destination), true, m.routing_key, m.arguments);
    auto st = conn_.server().broker.unbind(conn_.vhost(), m.source, b, conn_.id());
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (!m.nowait) reply(exchange_unbind_ok{});
}

void amqp_channel::on(const queue_declare& m) {
    hub::queue_declare_request r;
    r.name = std::string(m.queue);
    // A server-named queue is named first: configure is checked on that name (RabbitMQ).
    if (r.name.empty() && !m.passive) r.name = conn_.server().broker.generate_queue_name();
    if (!m.passive && !permit(amqp_perm::configure, "queue", r.name, m.amqp_class, m.amqp_method))
        return;
    r.passive = m.passive;
    r.durable = m.durable;
    r.exclusive = m.exclusive;
    r.auto_delete = m.auto_delete;
    r.connection = conn_.id();
    if (!m.passive) {
        std::string bad, why;
        if (!parse_queue_args(m.arguments, r.args, bad, why)) {
            return fail(make_fault(406, "invalid arg '" + bad + "' for queue '" + r.name +
                                            "' in vhost '" + conn_.vhost().name + "': " + why),
                        m.amqp_class, m.amqp_method);
        }
        if (!permit_dead_letter(r.name, r.args, m.amqp_class, m.amqp_method)) return;
    }
    hub::queue_declare_result out;
    auto& b = conn_.server().broker;
    auto st = b.queue_declare(conn_.vhost(), r, out);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    hub::broker_queue_ptr q;
    if (b.find_queue(conn_.vhost(), out.name, conn_.id(), q).ok()) {
        q->last_used_ms = conn_.server().now_ms();
    }
    last_queue_ = out.name;
    if (!m.nowait) reply(queue_declare_ok{out.name, out.messages, out.consumers});
}

void amqp_channel::on(const queue_bind& m) {
    auto qn = queue_name(m.queue);
    if (!permit_binding("queue", qn, m.exchange, m.routing_key, m.amqp_class, m.amqp_method))
        return;
    auto b = make_binding(qn, false, m.routing_key, m.arguments);
    auto st = conn_.server().broker.bind(conn_.vhost(), m.exchange, std::move(b), conn_.id());
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (m.exchange == "amq.topic" && conn_.vhost().name == "/") {
        conn_.server().bridge_bind(std::string(m.routing_key));
    }
    if (!m.nowait) reply(queue_bind_ok{});
}

void amqp_channel::on(const queue_unbind& m) {
    if (!permit_binding("queue", queue_name(m.queue), m.exchange, m.routing_key, m.amqp_class,
                        m.amqp_method))
        return;
    auto b = make_binding(queue_name(m.queue), false, m.routing_key, m.arguments);
    auto st = conn_.server().broker.unbind(conn_.vhost(), m.exchange, b, conn_.id());
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (m.exchange == "amq.topic") conn_.server().bridge_unbind_check();
    reply(queue_unbind_ok{});
}

void amqp_channel::on(const queue_purge& m) {
    if (!permit(amqp_perm::read, "queue", queue_name(m.queue), m.amqp_class, m.amqp_method)) return;
    std::uint32_t n = 0;
    auto st = conn_.server().broker.queue_purge(conn_.vhost(), queue_name(m.queue), conn_.id(), n);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    if (!m.nowait) reply(queue_purge_ok{n});
}

void amqp_channel::on(const queue_delete& m) {
    if (!permit(amqp_perm::configure, "queue", queue_name(m.queue), m.amqp_class, m.amqp_method))
        return;
    std::uint32_t n = 0;
    auto st = conn_.server().broker.queue_delete(conn_.vhost(), queue_name(m.queue), conn_.id(),
                                                 m.if_unused, m.if_empty, n);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    conn_.server().bridge_unbind_check();
    if (!m.nowait) reply(queue_delete_ok{n});
}

void amqp_channel::on(const basic_qos& m) {
    if (m.prefetch_size != 0) {  // byte limits are not implemented (nor in RabbitMQ)
        return conn_.connection_error(
            make_fault(540, "prefetch_size!=0 (" + std::to_string(m.prefetch_size) + ")"),
            m.amqp_class, m.amqp_method);
    }
    if (m.global) {
        global_prefetch_ = m.prefetch_count;
    } else {
        prefetch_ = m.prefetch_count;
    }
    reply(basic_qos_ok{});
    redispatch();
}

namespace {
constexpr std::string_view k_reply_to = "amq.rabbitmq.reply-to";
constexpr std::string_view k_reply_prefix = "amq.rabbitmq.reply-to.";
}  // namespace

// RabbitMQ rabbit_channel: basic.consume on the pseudo-queue; checks and texts in its order.
void amqp_channel::consume_reply_to(const basic_consume& m) {
    auto& srv = conn_.server();
    std::string tag(m.consumer_tag);
    if (consumers_.count(tag) || (!tag.empty() && tag == reply_tag_)) {
        return conn_.connection_error(
            make_fault(530, "attempt to reuse consumer tag '" + tag + "'"), m.amqp_class,
            m.amqp_method);
    }
    if (!m.no_ack) {
        return fail(make_fault(406, "reply consumer cannot acknowledge"), m.amqp_class,
                    m.amqp_method);
    }
    if (!reply_tag_.empty()) {
        return fail(make_fault(406, "reply consumer already set"), m.amqp_class, m.amqp_method);
    }
    if (tag.empty()) tag = "amq.ctag-" + srv.broker.generate_queue_name().substr(8);
    // Opaque and unguessable, like RabbitMQ's (which encodes the channel pid and a secret key).
    reply_name_ = std::string(k_reply_prefix) + srv.broker.generate_queue_name().substr(8) + "." +
                  srv.broker.generate_queue_name().substr(8);
    reply_tag_ = tag;
    srv.reply_consumers[reply_name_] = this;
    if (!m.nowait) reply(basic_consume_ok{tag});
}

void amqp_channel::drop_reply_consumer() {
    if (reply_tag_.empty()) return;
    conn_.server().reply_consumers.erase(reply_name_);
    reply_tag_.clear();
    reply_name_.clear();
}

bool amqp_channel::deliver_reply(const hub::broker_message& msg) {
    if (closing_) return false;
    byte_buffer& o = conn_.out();
    encode_method_frame(
        o, id_, basic_deliver{reply_tag_, next_tag_++, false, msg.exchange, msg.routing_key});
    std::size_t at = begin_frame(o, frame_type::header, id_);
    o.append(msg.encoded(amqp_codec()).bytes());
    end_frame(o, at);
    conn_.write_body(id_, msg.body);
    return true;
}

void amqp_channel::on(const basic_consume& m) {
    if (m.queue == k_reply_to) return consume_reply_to(m);
    hub::broker_queue_ptr q;
    auto qn = queue_name(m.queue);
    if (!permit(amqp_perm::read, "queue", qn, m.amqp_class, m.amqp_method)) return;
    auto st = conn_.server().broker.find_queue(conn_.vhost(), qn, conn_.id(), q);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    std::string tag(m.consumer_tag);
    if (tag.empty()) tag = "amq.ctag-" + conn_.server().broker.generate_queue_name().substr(8);
    if (consumers_.count(tag) || tag == reply_tag_) {
        return conn_.connection_error(
            make_fault(530, "attempt to reuse consumer tag '" + tag + "'"), m.amqp_class,
            m.amqp_method);
    }
    if (q->exclusive_consumer || (m.exclusive && q->consumer_count() > 0)) {
        return fail(make_fault(403, "queue '" + qn + "' in vhost '" + conn_.vhost().name +
                                        "' in exclusive use"),
                    m.amqp_class, m.amqp_method);
    }
    auto c = std::make_shared<amqp_consumer>();
    c->ch = this;
    c->tag = tag;
    c->queue = q;
    c->no_ack_ = m.no_ack;
    c->prefetch = prefetch_;
    consumers_[tag] = c;
    q->add_consumer(tag, c.get());
    if (m.exclusive) q->exclusive_consumer = true;
    if (!m.nowait) reply(basic_consume_ok{tag});
    q->dispatch(conn_.server().now_ms());
}

void amqp_channel::cancel_consumer(const std::string& tag) {
    auto it = consumers_.find(tag);
    if (it == consumers_.end()) return;
    auto c = it->second;
    consumers_.erase(it);
    c->active = false;
    c->ch = nullptr;
    if (c->queue && !c->queue->deleted()) {
        c->queue->remove_consumer(c.get());
        c->queue->last_used_ms = conn_.server().now_ms();
        conn_.server().broker.consumer_removed(*c->queue);
    }
}

void amqp_channel::on(const basic_cancel& m) {
    std::string tag(m.consumer_tag);
    if (!reply_tag_.empty() && tag == reply_tag_) {
        drop_reply_consumer();
    } else {
        cancel_consumer(tag);
    }
    if (!m.nowait) reply(basic_cancel_ok{tag});
}

void amqp_channel::on(const basic_get& m) {
    if (!permit(amqp_perm::read, "queue", queue_name(m.queue), m.amqp_class, m.amqp_method)) return;
    hub::broker_queue_ptr q;
    auto st = conn_.server().broker.find_queue(conn_.vhost(), queue_name(m.queue), conn_.id(), q);
    if (!st.ok()) return fail(fault_of(st), m.amqp_class, m.amqp_method);
    auto e = q->get(m.no_ack, conn_.server().now_ms());
    if (!e) {
        reply(basic_get_empty{});
        return;
    }
    std::uint64_t tag = next_tag_++;
    const auto& msg = *e->msg;
    byte_buffer& o = conn_.out();
    encode_method_frame(o, id_,
                        basic_get_ok{tag, e->redelivered, msg.exchange, msg.routing_key,
                                     static_cast<std::uint32_t>(q->ready_count())});
    std::size_t at = begin_frame(o, frame_type::header, id_);
    o.append(msg.encoded(amqp_codec()).bytes());
    end_frame(o, at);
    conn_.write_body(id_, msg.body);
    if (!m.no_ack) {
        unacked_.push_back({tag, q, std::move(*e), nullptr, false});
        unacked_count_++;
    }
}

void amqp_channel::deliver(amqp_consumer& c, const hub::broker_queue_ptr& q, hub::queue_entry&& e) {
    std::uint64_t tag = next_tag_++;
    const auto& msg = *e.msg;
    byte_buffer& o = conn_.out();
    encode_method_frame(o, id_,
                        basic_deliver{c.tag, tag, e.redelivered, msg.exchange, msg.routing_key});
    std::size_t at = begin_frame(o, frame_type::header, id_);
    o.append(msg.encoded(amqp_codec()).bytes());
    end_frame(o, at);
    conn_.write_body(id_, msg.body);
    if (c.no_ack_) return;
    c.unacked++;
    unacked_count_++;
    auto sp = consumers_.find(c.tag);
    unacked_.push_back(
        {tag, q, std::move(e), sp != consumers_.end() ? sp->second : nullptr, false});
}

void amqp_channel::settle_one(unacked_rec& r, bool ack, bool requeue) {
    r.settled = true;
    unacked_count_--;
    if (r.consumer) r.consumer->unacked--;
    if (ack) {
        r.queue->ack(r.entry);
    } else if (requeue) {
        r.queue->requeue(std::move(r.entry));
    } else {
        r.queue->reject(std::move(r.entry), conn_.server().now_ms());
    }
}

void amqp_channel::settle(std::uint64_t tag, bool multiple, bool ack, bool requeue,
                          std::uint16_t mth) {
    // RabbitMQ's collect_acks: the tag itself must be outstanding (multiple also takes every lower
    // one); multiple with tag 0 takes all. Acked in an open transaction counts as gone.
    auto open = [](const unacked_rec& r) { return !r.settled && !r.in_tx; };
    scratch<unacked_rec*> s(settle_scratch_);
    std::vector<unacked_rec*>& recs = s.v;
    if (multiple && tag == 0) {
        for (auto& r : unacked_) {
            if (open(r)) recs.push_back(&r);
        }
    } else {
        // Tags are increasing in unacked_: binary search.
        auto it = std::lower_bound(unacked_.begin(), unacked_.end(), tag,
                                   [](const unacked_rec& r, std::uint64_t t) { return r.tag < t; });
        if (it == unacked_.end() || it->tag != tag || !open(*it)) {
            return fail(make_fault(406, "unknown delivery tag " + std::to_string(tag)), 60, mth);
        }
        for (auto j = multiple ? unacked_.begin() : it; j != it; ++j) {
            if (open(*j)) recs.push_back(&*j);
        }
        recs.push_back(&*it);
    }
    if (tx_) {
        tx_settle t{{}, ack, requeue};
        for (auto* r : recs) {
            r->in_tx = true;
            t.tags.push_back(r->tag);
        }
        tx_settles_.push_back(std::move(t));
        return;
    }
    settle_all(recs, ack, requeue);
}

void amqp_channel::settle_all(const std::vector<unacked_rec*>& recs, bool ack, bool requeue) {
    scratch<hub::broker_queue*> s(touched_scratch_);
    std::vector<hub::broker_queue*>& touched = s.v;
    // Requeues go back to their original places in the queue (publish order).
    for (unacked_rec* r : recs) {
        touched.push_back(r->queue.get());
        settle_one(*r, ack, requeue);
    }
    while (!unacked_.empty() && unacked_.front().settled) unacked_.pop_front();
    auto now = conn_.server().now_ms();
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (auto* q : touched) q->dispatch(now);
    redispatch();
}

void amqp_channel::redispatch() {
    auto now = conn_.server().now_ms();
    // Copy: dispatch may cancel consumers (auto-delete) and mutate the map.
    scratch<hub::broker_queue_ptr> s(dispatch_scratch_);
    std::vector<hub::broker_queue_ptr>& qs = s.v;
    for (auto& [t, c] : consumers_) qs.push_back(c->queue);
    for (auto& q : qs) {
        if (!q->deleted()) q->dispatch(now);
    }
}

void amqp_channel::on(const basic_ack& m) {
    settle(m.delivery_tag, m.multiple, true, false, m.amqp_method);
}
void amqp_channel::on(const basic_reject& m) {
    settle(m.delivery_tag, false, false, m.requeue, m.amqp_method);
}
void amqp_channel::on(const basic_nack& m) {
    settle(m.delivery_tag, m.multiple, false, m.requeue, m.amqp_method);
}
void amqp_channel::on(const basic_recover& m) {
    (void)m;  // RabbitMQ treats requeue=false like true
    requeue_all(true);
    reply(basic_recover_ok{});
    redispatch();
}
void amqp_channel::on(const basic_recover_async& m) {
    (void)m;
    requeue_all(true);
    redispatch();
}

void amqp_channel::on(const confirm_select& m) {
    if (tx_) {
        return fail(make_fault(406, "cannot switch from tx to confirm mode"), m.amqp_class,
                    m.amqp_method);
    }
    confirm_ = true;
    if (!m.nowait) reply(confirm_select_ok{});
}

// ---- transactions (RabbitMQ rabbit_channel: tx.select / tx.commit / tx.rollback) ----

void amqp_channel::on(const tx_select& m) {
    if (confirm_) {
        return fail(make_fault(406, "cannot switch from confirm to tx mode"), m.amqp_class,
                    m.amqp_method);
    }
    tx_ = true;  // selecting again keeps the open transaction
    reply(tx_select_ok{});
}

void amqp_channel::on(const tx_commit& m) {
    if (!tx_) {
        return fail(make_fault(406, "channel is not transactional"), m.amqp_class, m.amqp_method);
    }
    // Publishes first, then the settles in the order they were sent (as RabbitMQ).
    auto pubs = std::move(tx_publishes_);
    auto settles = std::move(tx_settles_);
    tx_publishes_.clear();
    tx_settles_.clear();
    tx_failed_ = false;
    bool stored = false;
    for (const auto& pp : pubs) stored |= route_publish(pp);
    for (const auto& t : settles) {
        std::vector<unacked_rec*> recs;
        for (auto tag : t.tags) {
            auto it =
                std::lower_bound(unacked_.begin(), unacked_.end(), tag,
                                 [](const unacked_rec& r, std::uint64_t x) { return r.tag < x; });
            if (it != unacked_.end() && it->tag == tag && !it->settled) recs.push_back(&*it);
        }
        settle_all(recs, t.ack, t.requeue);
    }
    if (tx_failed_) {
        tx_failed_ = false;
        return fail(make_fault(406, "partial tx completion"), m.amqp_class, m.amqp_method);
    }
    // commit-ok promises the committed messages are safe: wait for the store like a confirm.
    auto& srv = conn_.server();
    if ((stored && srv.store_token() != 0) || !commit_waits_.empty()) {
        commit_waits_.push_back(stored ? srv.store_token() : 0);
        return;
    }
    reply(tx_commit_ok{});
}

void amqp_channel::on(const tx_rollback& m) {
    if (!tx_) {
        return fail(make_fault(406, "channel is not transactional"), m.amqp_class, m.amqp_method);
    }
    tx_publishes_.clear();
    for (const auto& t : tx_settles_) {
        for (auto tag : t.tags) {  // back to unacked: the client may ack them again
            auto it =
                std::lower_bound(unacked_.begin(), unacked_.end(), tag,
                                 [](const unacked_rec& r, std::uint64_t x) { return r.tag < x; });
            if (it != unacked_.end() && it->tag == tag) it->in_tx = false;
        }
    }
    tx_settles_.clear();
    reply(tx_rollback_ok{});
}

void amqp_channel::confirm(std::uint64_t seq, confirm_state s) {
    if (seq < confirm_base_) return;
    confirms_[seq - confirm_base_] = s;
    conn_.out();  // schedules the flush that writes the confirm
}

void amqp_channel::flush_confirms() {
    // Runs of acks become one basic.ack multiple; a nack is sent alone. A pending seq stops the
    // walk: a later multiple ack must not cover a message not yet on disk.
    std::uint64_t ack_upto = 0;
    while (!confirms_.empty() && confirms_.front() != confirm_state::pending) {
        std::uint64_t seq = confirm_base_;
        if (confirms_.front() == confirm_state::ack) {
            ack_upto = seq;
            conn_.server().broker.stats().confirmed++;
        } else {
            if (ack_upto) reply(basic_ack{ack_upto, true});
            ack_upto = 0;
            reply(basic_nack{seq, false, false});
        }
        confirms_.pop_front();
        confirm_base_++;
    }
    if (ack_upto) reply(basic_ack{ack_upto, true});
}

void amqp_channel::on_synced(std::uint64_t token) {
    while (!awaiting_sync_.empty() && awaiting_sync_.front().first <= token) {
        confirm(awaiting_sync_.front().second, confirm_state::ack);
        awaiting_sync_.pop_front();
    }
    while (!commit_waits_.empty() && commit_waits_.front() <= token) {
        reply(tx_commit_ok{});
        commit_waits_.pop_front();
    }
}

void amqp_channel::on_publish(const basic_publish& p, const content_header& h,
                              byte_view header_bytes, const shared_bytes& body) {
    auto& srv = conn_.server();
    // RabbitMQ's order: write on the exchange, its existence, internal, then the topic.
    if (!permit(amqp_perm::write, "exchange", p.exchange, 60, 40)) return;
    auto* ex = srv.broker.find_exchange(conn_.vhost(), p.exchange);
    if (!ex) {
        return fail(make_fault(404, "no exchange '" + std::string(p.exchange) + "' in vhost '" +
                                        conn_.vhost().name + "'"),
                    60, 40);
    }
    if (ex->internal) {
        return fail(make_fault(403, "cannot publish to internal exchange '" + ex->name +
                                        "' in vhost '" + conn_.vhost().name + "'"),
                    60, 40);
    }
    if (ex->type == hub::exchange_type::topic) {
        if (auto f = conn_.check_topic(amqp_perm::write, ex->name, p.routing_key))
            return fail(*f, 60, 40);
    }
    auto msg = std::make_shared<hub::broker_message>();
    msg->exchange = std::string(p.exchange);
    msg->routing_key = std::string(p.routing_key);
    const basic_properties& props = h.properties;
    if (props.has_expiration()) {
        std::uint64_t ttl = 0;
        auto e = props.expiration;
        auto [ptr, ec] = std::from_chars(e.data(), e.data() + e.size(), ttl);
        if (ec != std::errc() || ptr != e.data() + e.size()) {
            return fail(make_fault(406, "invalid expiration '" + std::string(e) + "': no_integer"),
                        60, 40);
        }
        msg->ttl_ms = ttl;
    }
    msg->persistent = props.has_delivery_mode() && props.delivery_mode == 2;
    msg->priority = props.has_priority() ? props.priority : 0;
    if (ex->type == hub::exchange_type::headers && props.has_headers()) {
        msg->headers = render_table(props.headers);
    }
    if (props.has_reply_to() && props.reply_to == k_reply_to) {
        // Direct reply-to: the pseudo-queue's name becomes this channel's reply name (the one
        // property rewrite: the header is re-encoded).
        if (reply_tag_.empty()) {
            return fail(make_fault(406, "fast reply consumer does not exist"), 60, 40);
        }
        content_header rewritten = h;
        rewritten.properties.reply_to = reply_name_;
        byte_buffer hb;
        encode_content_header(hb, rewritten);
        msg->set_encoded(shared_bytes::copy_of(hb.view()), amqp_codec());
    } else {
        // Nothing rewrites the properties: the header bytes as the publisher sent them.
        msg->set_encoded(shared_bytes::copy_of(as_string_view(header_bytes)), amqp_codec());
    }
    msg->body = body;
    conn_.publish_received();
    pending_publish pp{std::move(msg), p.mandatory, bridged(p.exchange, conn_.vhost().name),
                       std::string(props.content_type)};
    if (tx_) {
        tx_publishes_.push_back(std::move(pp));  // routed at tx.commit
        return;
    }
    route_publish(pp);
}

bool amqp_channel::route_publish(const pending_publish& pp) {
    auto& srv = conn_.server();
    const hub::broker_message& m = *pp.msg;
    if (pp.to_hub) srv.publish_to_hub(m.routing_key, pp.content_type, m.body);
    hub::publish_result res;
    std::uint64_t seq = confirm_ ? next_seq_++ : 0;
    if (confirm_) confirms_.push_back(confirm_state::pending);
    if (m.exchange.empty() && m.routing_key.starts_with(k_reply_prefix)) {
        // Direct reply-to: straight to the consumer, no queue; gone -> dropped (unroutable).
        auto it = srv.reply_consumers.find(m.routing_key);
        if (it != srv.reply_consumers.end() && it->second->deliver_reply(m)) res.routed = 1;
    } else {
        srv.broker.publish(conn_.vhost(), pp.msg, res, srv.now_ms());
    }
    if (res.routed == 0 && pp.mandatory && !res.rejected && !pp.to_hub) {
        byte_buffer& o = conn_.out();
        encode_method_frame(o, id_, basic_return{312, "NO_ROUTE", m.exchange, m.routing_key});
        std::size_t at = begin_frame(o, frame_type::header, id_);
        o.append(m.encoded(amqp_codec()).bytes());
        end_frame(o, at);
        conn_.write_body(id_, m.body);
    }
    if (res.rejected) tx_failed_ = true;
    bool stored = res.stored && srv.store_token() != 0;
    if (!confirm_) return stored;
    if (res.rejected) {
        confirm(seq, confirm_state::nack);
    } else if (stored) {
        awaiting_sync_.emplace_back(srv.store_token(), seq);
    } else {
        confirm(seq, confirm_state::ack);
    }
    return stored;
}

}  // namespace sy::session

namespace sy::session {

void amqp_channel::describe(amqp_channel_info& out) const {
    out.number = id_;
    out.prefetch_count = prefetch_;
    out.global_prefetch_count = global_prefetch_;
    out.messages_unacknowledged = unacked_count_;
    out.confirm = confirm_;
    out.transactional = tx_;
    for (auto s : confirms_) out.messages_unconfirmed += s == confirm_state::pending ? 1 : 0;
    out.messages_uncommitted = tx_publishes_.size();
    for (const auto& t : tx_settles_) out.acks_uncommitted += t.tags.size();
    out.consumer_count = consumers_.size() + (reply_tag_.empty() ? 0 : 1);
}

void amqp_channel::describe_consumers(std::uint64_t connection_id,
                                      std::vector<amqp_consumer_info>& out) const {
    for (const auto& [tag, c] : consumers_) {
        amqp_consumer_info& i = out.emplace_back();
        i.connection_id = connection_id;
        i.channel = id_;
        i.tag = tag;
        if (c->queue) {
            i.queue = c->queue->name();
            i.exclusive = c->queue->exclusive_consumer;
        }
        i.vhost = conn_.vhost().name;
        i.prefetch_count = c->prefetch;
        i.ack_required = !c->no_ack_;
        i.active = c->active;
    }
}

}  // namespace sy::session
