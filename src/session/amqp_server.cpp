// amqp_server: the broker loop's AMQP context: connections, authentication, the expiry tick,
// memory alarm, store wiring and the amq.topic <-> hub bridge. Broker loop thread only.
#include "switchyard/session/amqp_server.hpp"

#include <algorithm>
#include <tuple>

#include "amqp_internal.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/net/stream.hpp"
#include "switchyard/store/message_log.hpp"

namespace sy::session {

using namespace sy::amqp;

// ---- the one error table: broker_error -> reply code ----

namespace {
std::string_view code_name(std::uint16_t code) {
    const reply_code_info* i = lookup_reply_code(code);
    return i ? i->name : "INTERNAL_ERROR";
}
}  // namespace

amqp_fault make_fault(std::uint16_t code, std::string_view detail) {
    std::string text = std::string(code_name(code)) + " - " + std::string(detail);
    if (text.size() > 255) text.resize(255);  // reply-text is a shortstr
    return {code, std::move(text), is_hard_error(code)};
}

amqp_fault fault_of(const hub::broker_status& st) {
    switch (st.code) {
        case hub::broker_error::none:
            return {200, "OK", false};
        case hub::broker_error::not_found:
            return make_fault(404, st.text);
        case hub::broker_error::resource_locked:
            return make_fault(405, st.text);
        case hub::broker_error::precondition_failed:
            return make_fault(406, st.text);
        case hub::broker_error::access_refused:
            return make_fault(403, st.text);
        case hub::broker_error::not_allowed:
            return make_fault(530, st.text);
        case hub::broker_error::command_invalid:
            return make_fault(503, st.text);
    }
    return make_fault(541, st.text);
}

// ---- server ----

amqp_server_impl::amqp_server_impl(core::loop& l, amqp_options o, hub::hub_shard* sh,
                                   const net::connection_options& base, net::connection_list* cl)
    : loop(l), opts(std::move(o)), broker(opts.vhosts), shard(sh), conn_opts(base), conns(cl) {
    // A whole frame must fit in the input buffer, or reading would stall on a large frame.
    conn_opts.max_input = std::max<std::size_t>(conn_opts.max_input, 2 * opts.frame_max + 4096);
    conn_opts.idle_timeout = millis(0);
    if (opts.users.empty()) opts.users = default_users(opts.vhosts);
    broker.set_dead_letter_rewriter(&amqp_dead_letter_rewriter());  // x-death headers
    if (!opts.store_dir.empty()) {
        store::log_options so;
        so.dir = opts.store_dir;
        so.fsync = opts.fsync;
        so.fsync_interval_ms = opts.fsync_interval_ms;
        so.codec = &amqp_codec();
        store = std::make_unique<store::message_log>(so, [this](std::uint64_t token) {
            // Store thread: hop to the broker loop.
            loop.post([this, token] { on_store_synced(token); });
        });
        recover();
        broker.set_observer(store.get());
    }
    tick_timer_ = loop.add_timer(millis(50), [this] { tick(); });
}

amqp_server_impl::~amqp_server_impl() {
    stop();
}

void amqp_server_impl::stop() {
    if (stopped_) return;
    stopped_ = true;
    loop.cancel_timer(tick_timer_);
    bridge_subs_.clear();
    if (store) {
        broker.set_observer(nullptr);
        store->close();
    }
}

void amqp_server_impl::recover() {
    std::size_t queues = 0, messages = 0;
    store->recover([&](const store::recovered_queue& rq) {
        hub::broker_vhost* vh = broker.vhost(rq.vhost);
        if (!vh) return;
        hub::queue_declare_request r;
        r.name = rq.name;
        r.durable = true;
        r.auto_delete = rq.auto_delete;
        r.args = rq.args;
        hub::queue_declare_result out;
        if (!broker.queue_declare(*vh, r, out).ok()) return;
        queues++;
        hub::broker_queue_ptr q;
        broker.find_queue(*vh, rq.name, 0, q);
        for (const auto& m : rq.messages) {
            hub::queue_entry e{m.msg};
            e.store_id = m.id;
            q->enqueue(std::move(e), now_ms());
            messages++;
        }
    });
    if (queues) log::info("amqp: recovered {} durable queues, {} messages", queues, messages);
}

std::uint64_t amqp_server_impl::store_token() const {
    return store ? store->last_token() : 0;
}

void amqp_server_impl::when_durable(std::function<void()> fn) {
    const std::uint64_t token = store_token();
    if (token == 0) return fn();
    durable_waiters_.emplace_back(token, std::move(fn));
}

void amqp_server_impl::on_store_synced(std::uint64_t token) {
    while (!durable_waiters_.empty() && durable_waiters_.front().first <= token) {
        auto fn = std::move(durable_waiters_.front().second);
        durable_waiters_.pop_front();
        fn();
    }
    for (auto* c : connections) {
        for (auto& [id, ch] : c->channels()) ch->on_synced(token);
        if (!c->channels().empty()) c->out();  // schedule the confirm flush
    }
}

const amqp_user* amqp_server_impl::authenticate(std::string_view user, std::string_view pass,
                                                bool loopback) const {
    return authenticate_user(opts.users, user, pass, loopback);
}

void amqp_server_impl::tick() {
    auto now = now_ms();
    broker.tick(now);
    if (opts.memory_limit != 0) {
        auto used = broker.total_ready_bytes();
        bool want = blocked ? used > opts.memory_limit * 9 / 10 : used > opts.memory_limit;
        if (want != blocked) {
            blocked = want;
            log::info("amqp: memory alarm {} ({} bytes ready)", want ? "set" : "cleared", used);
            for (auto* c : connections) c->set_blocked(want);
        }
    }
    tick_timer_ = loop.add_timer(millis(50), [this] { tick(); });
}

// ---- hub bridge ----

// AMQP topic binding key -> hub pattern: words up to the first '#', then '>' (the broker filters
// again with exact AMQP semantics when routing, so a wider hub pattern is harmless).
std::string hub_pattern(std::string_view key) {
    std::string out;
    std::size_t start = 0;
    while (start <= key.size()) {
        auto dot = key.find('.', start);
        auto w =
            key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (!out.empty()) out.push_back('.');
        if (w == "#") {
            out.push_back('>');
            return out;
        }
        out += w;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return out;
}

std::shared_ptr<const auth::policy> amqp_server_impl::current_policy() const {
    auto p = opts.policy ? opts.policy() : nullptr;
    return p && p->enabled() ? p : nullptr;
}

auth::principal_ptr amqp_server_impl::verify_token(std::string_view secret) const {
    auto p = current_policy();
    if (!p) return nullptr;
    auto r = p->authenticate(secret, auth::unix_now_s());
    return r ? *r : nullptr;
}

void amqp_server_impl::bridge_bind(const std::string& key) {
    if (!shard || !opts.hub_bridge) return;
    std::string pat = hub_pattern(key);
    if (bridge_subs_.count(pat)) return;
    auto h = shard->subscribe(pat, this);
    if (h) bridge_subs_.emplace(pat, std::move(*h));
}

void amqp_server_impl::bridge_unbind_check() {
    if (bridge_subs_.empty()) return;
    hub::broker_vhost* vh = broker.vhost("/");
    hub::broker_exchange* ex = vh ? broker.find_exchange(*vh, "amq.topic") : nullptr;
    std::set<std::string> live;
    if (ex) {
        for (const auto& b : ex->bindings) live.insert(hub_pattern(b.key));
    }
    std::erase_if(bridge_subs_, [&](const auto& kv) { return !live.count(kv.first); });
}

void amqp_server_impl::publish_to_hub(std::string_view key, std::string_view content_type,
                                      const shared_bytes& body) {
    if (!shard || !opts.hub_bridge) return;
    // The hub delivers our own publish back to our bridge subscription; the broker has routed it
    // already, so on_message skips the payload we are publishing (same shared bytes).
    own_payload_ = body.data();
    pending_own_.insert(body.data());
    // An AMQP content-type is any shortstr; one the hub cannot serve to its other transports
    // as it is (valid_content_type) crosses the bridge as "no content type".
    if (!hub::valid_content_type(content_type)) content_type = {};
    shard->publish(key, content_type, body,
                   [this, keep = body](result<hub::publish_ack, hub::publish_error>) {
                       pending_own_.erase(pending_own_.find(keep.data()));
                   });
    own_payload_ = nullptr;
}

void amqp_server_impl::on_message(const hub::delivery& d) {
    const hub::message& m = d.msg();
    if (m.is_gap()) return;
    if (pending_own_.count(m.payload.data())) return;
    if (d.message_ptr_ref() == last_bridged_) return;  // several patterns, one message
    last_bridged_ = d.message_ptr_ref();
    hub::broker_vhost* vh = broker.vhost("/");
    if (!vh) return;
    auto msg = std::make_shared<hub::broker_message>();
    msg->exchange = "amq.topic";
    msg->routing_key = m.topic;
    hub::message_properties props;  // encoded for AMQP consumers when the first one needs it
    if (!m.content_type.empty()) props.set_content_type(m.content_type);
    msg->set_properties(std::move(props));
    msg->body = m.payload;
    hub::publish_result res;
    broker.publish(*vh, std::move(msg), res, now_ms());
}

// ---- public facade ----

amqp_server::amqp_server(core::loop& l, amqp_options o, hub::hub_shard* shard,
                         const net::connection_options& base, net::connection_list* conns)
    : impl_(std::make_unique<amqp_server_impl>(l, std::move(o), shard, base, conns)) {}

amqp_server::~amqp_server() = default;

void amqp_server::accept(net::unique_fd fd, std::string peer, bool loopback,
                         net::connection_slot slot) {
    auto& s = *impl_;
    auto h = std::make_unique<amqp_connection>(s, s.next_conn_id++, std::move(peer), loopback);
    net::connection::create(s.loop, net::tcp_stream(std::move(fd)), std::move(h), s.conn_opts,
                            std::move(slot), s.conns);
}

void amqp_server::stop() {
    impl_->stop();
}

amqp_figures amqp_server::figures(std::size_t max_queues) const {
    amqp_figures f;
    const hub::broker& b = impl_->broker;
    const hub::broker_stats& st = impl_->broker.stats();
    f.published = st.published;
    f.delivered = st.delivered;
    f.acknowledged = st.acked;
    f.redelivered = st.redelivered;
    f.confirmed = st.confirmed;
    struct ref {
        const std::string* vhost;
        const std::string* name;
        const hub::broker_queue* q;
    };
    std::vector<ref> refs;
    for (const auto& [name, vh] : b.vhosts()) {
        for (const auto& [qname, q] : vh.queues) {
            f.ready += q->ready_count();
            f.unacked += q->unacked_count();
            f.consumers += q->consumer_count();
            f.queues++;
            if (max_queues > 0) refs.push_back({&name, &qname, q.get()});
        }
    }
    // The first max_queues by vhost and name, so every scrape lists the same ones.
    const std::size_t n = std::min(max_queues, refs.size());
    std::partial_sort(refs.begin(), refs.begin() + static_cast<std::ptrdiff_t>(n), refs.end(),
                      [](const ref& x, const ref& y) {
                          return std::tie(*x.vhost, *x.name) < std::tie(*y.vhost, *y.name);
                      });
    f.per_queue.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const ref& r = refs[i];
        f.per_queue.push_back(
            {*r.vhost, *r.name, r.q->ready_count(), r.q->unacked_count(), r.q->consumer_count()});
    }
    f.connections = impl_->connections.size();
    for (auto* c : impl_->connections) f.channels += c->channels().size();
    return f;
}

std::vector<amqp_connection_info> amqp_server::connections() const {
    std::vector<amqp_connection_info> out;
    out.reserve(impl_->connections.size());
    for (const amqp_connection* c : impl_->connections) c->describe(out.emplace_back());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

std::vector<amqp_consumer_info> amqp_server::consumers() const {
    std::vector<amqp_consumer_info> out;
    for (amqp_connection* c : impl_->connections) {
        for (auto& [num, ch] : c->channels()) ch->describe_consumers(c->id(), out);
    }
    return out;
}

bool amqp_server::close_connection(std::uint64_t id, std::string_view reason) {
    for (amqp_connection* c : impl_->connections) {
        if (c->id() != id) continue;
        c->force_close(reason);
        return true;
    }
    return false;
}

hub::broker_status amqp_server::publish(hub::broker_vhost& vh,
                                        std::shared_ptr<hub::broker_message> m,
                                        hub::publish_result& res) {
    auto& s = *impl_;
    if (bridged(m->exchange, vh.name))
        s.publish_to_hub(m->routing_key, m->properties().content_type, m->body);
    return s.broker.publish(vh, std::move(m), res, s.now_ms());
}

hub::broker& amqp_server::broker() {
    return impl_->broker;
}

void amqp_server::when_durable(std::function<void()> fn) {
    impl_->when_durable(std::move(fn));
}

}  // namespace sy::session
