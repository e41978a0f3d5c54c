#include "switchyard/session/sse_session.hpp"

#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::session {

namespace {
constexpr millis watch_interval{20};
}

byte_buffer sse_opening(const sse_subscription& sub) {
    byte_buffer first(64);
    if (sub.retry_ms) {
        sse::event_fields f;
        f.retry_ms = sub.retry_ms;
        (void)sse::encode(first, f);
    }
    // An opening comment: the client sees the stream is live (and tests know the subscription
    // exists, since it is registered before this is flushed).
    sse::encode_comment(first, "ok");
    return first;
}

shared_bytes sse_message(const hub::delivery& d, const sse_subscription& sub) {
    if (!sub.event.empty()) return sse_event(d.msg(), sub.envelope, sub.event);
    const bool env = sub.envelope;
    return d.framed(env ? push_slot::sse_envelope : push_slot::sse_raw,
                    [env](const hub::message& msg) { return sse_event(msg, env, {}); });
}

byte_buffer sse_gap(const pending_gap& g) {
    const std::string id = std::to_string(g.to);
    const std::string data = gap_json(g.topic, g.from, g.to, g.lost);
    sse::event_fields f;
    f.id = id;
    f.event = "gap";
    f.data = data;
    byte_buffer out(data.size() + 48);
    (void)sse::encode(out, f);
    return out;
}

const shared_bytes& sse_heartbeat() {
    static thread_local shared_bytes beat = sse::encode_comment_shared("hb");
    return beat;
}

sse_session::sse_session(hub::hub_shard& shard, sse_subscription sub)
    : shard_(&shard), sub_(std::move(sub)), guard_(shard, sub_.counters) {}

sse_session::~sse_session() = default;

void sse_session::on_open(net::connection& c) {
    conn_ = &c;
    c.set_idle_timeout(millis(0));  // the heartbeat keeps the stream alive; the peer's FIN ends it
    if (sub_.counters) sub_.counters->sse_sessions.add();
    c.write(sse_opening(sub_));
    auto h = shard_->subscribe(sub_.pattern, this, sub_.start);
    if (!h) {
        c.close(net::close_mode::graceful);
        return;
    }
    handle_ = std::move(h.value());
    if (sub_.heartbeat.count() > 0) {
        beat_ = c.owner_loop().add_timer(sub_.heartbeat, [this] { heartbeat(); });
    }
}

void sse_session::heartbeat() {
    beat_ = {};
    if (!conn_ || !conn_->is_open()) return;
    if (conn_->queued_bytes() == 0) conn_->write(sse_heartbeat());
    beat_ = conn_->owner_loop().add_timer(sub_.heartbeat, [this] { heartbeat(); });
}

void sse_session::on_data(net::connection&, byte_buffer& in) {
    in.consume(in.size());  // a client sends nothing on an event stream (pipelining is moot)
}

void sse_session::on_message(const hub::delivery& d) {
    if (!conn_ || !conn_->is_open() || ended_) return;
    const hub::message& m = d.msg();
    switch (guard_.check(m, conn_->queued_bytes(), handle_.id())) {
        case outflow_guard::verdict::skip:
            arm_watch();
            return;
        case outflow_guard::verdict::disconnect:
            ended_ = true;
            handle_.reset();
            conn_->close(net::close_mode::graceful);
            return;
        case outflow_guard::verdict::send:
            break;
    }
    if (auto g = guard_.take_gap()) send_gap(*g);
    if (m.is_gap() && sub_.counters) sub_.counters->gaps_sent.add();
    conn_->write(sse_message(d, sub_));
    if (sub_.counters) sub_.counters->deliveries.add();
    if (guard_.waiting()) arm_watch();
}

void sse_session::send_gap(const pending_gap& g) {
    if (!conn_ || !conn_->is_open()) return;
    conn_->write(sse_gap(g));
    if (sub_.counters) sub_.counters->gaps_sent.add();
}

void sse_session::arm_watch() {
    if (!conn_ || conn_->owner_loop().timer_pending(watch_)) return;
    watch_ = conn_->owner_loop().add_timer(watch_interval, [this] {
        watch_ = {};
        if (!conn_ || !conn_->is_open()) return;
        if (guard_.recheck(conn_->queued_bytes(), handle_.id())) {
            if (auto g = guard_.take_gap()) send_gap(*g);
        }
        if (guard_.waiting()) arm_watch();
    });
}

void sse_session::on_drain(net::connection& c) {
    if (guard_.recheck(c.queued_bytes(), handle_.id())) {
        if (auto g = guard_.take_gap()) send_gap(*g);
    }
}

net::timeout_action sse_session::on_timeout(net::connection&, net::timeout_kind) {
    return net::timeout_action::close;  // write timeout: the client stopped reading
}

void sse_session::on_close(net::connection& c, net::close_reason) {
    auto& l = c.owner_loop();
    if (l.timer_pending(beat_)) l.cancel_timer(beat_);
    if (l.timer_pending(watch_)) l.cancel_timer(watch_);
    handle_.reset();  // not in the destructor: the hub may be gone by then (shutdown)
    if (sub_.counters) sub_.counters->sse_closed.add();
    conn_ = nullptr;
}

void sse_session::begin_shutdown(net::connection& c) {
    ended_ = true;
    handle_.reset();
    c.close(net::close_mode::graceful);  // flushes what is queued, then FIN: the stream ends
}

}  // namespace sy::session
