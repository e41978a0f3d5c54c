#include "switchyard/session/ws_session.hpp"

#include "switchyard/base/log.hpp"
#include "switchyard/http/util.hpp"
#include "switchyard/proto/ws/frame.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::session {

namespace {

ws::decoder_config decoder_cfg(const ws_options& o) {
    ws::decoder_config d;
    d.side = ws::role::server;
    d.max_message_size = o.max_message;
    d.deflate = o.deflate;
    return d;
}

constexpr millis watch_interval{20};  // re-check of a queue over its cap while it drains

}  // namespace

ws_session::ws_session(ws_options o) : opts_(std::move(o)), dec_(decoder_cfg(opts_)) {
    if (opts_.deflate) {
        deflater_ = std::make_unique<ws::deflater>(opts_.deflate->server_max_window_bits,
                                                   opts_.deflate->server_no_context_takeover);
    }
}

ws_session::ws_session(ws_options o, hub::hub_shard& shard, ws_subscription sub)
    : ws_session(std::move(o)) {
    shard_ = &shard;
    sub_ = std::move(sub);
    guard_.emplace(shard, opts_.counters);
}

ws_session::~ws_session() = default;

void ws_session::run_over(std::unique_ptr<ws_session> s, std::shared_ptr<http::byte_tunnel> t,
                          core::loop& l) {
    std::shared_ptr<ws_session> self(std::move(s));
    ws_session* p = self.get();
    p->tunnel_ = t;
    // The tunnel's on_close holds the only owning reference; the other callbacks are cleared by
    // the tunnel before on_close runs, so a raw pointer is enough for them.
    t->set_on_data([p](byte_view b) { p->on_tunnel_data(b); });
    t->set_on_drain([p] { p->drained(); });
    t->set_on_shutdown([p] {
        p->send_close(ws::close_code::going_away, "server shutting down");
        p->finish();
    });
    t->set_on_close([self] { self->closed(); });
    p->start(l);
}

void ws_session::on_open(net::connection& c) {
    conn_ = &c;
    c.set_idle_timeout(millis(0));  // liveness is ours: ping + idle_timeout on frames received
    start(c.owner_loop());
}

void ws_session::start(core::loop& l) {
    loop_ = &l;
    last_rx_ms_ = l.now_ms();
    if (opts_.counters) opts_.counters->ws_sessions.add();
    const millis tick = opts_.ping_interval.count() > 0 ? opts_.ping_interval : opts_.idle_timeout;
    if (tick.count() > 0) tick_ = l.add_timer(tick, [this] { on_tick(); });
    if (!sub_) return;
    // Resumes from local history may call on_message before subscribe() returns.
    auto h = shard_->subscribe(sub_->pattern, this, sub_->start);
    if (!h) {
        send_close(ws::close_code::policy_violation, "invalid topic");
        finish();
        return;
    }
    handle_ = std::move(h.value());
    if (!sub_->presence.empty()) {
        joined_ = true;
        publish_presence("join");
    }
}

void ws_session::on_tick() {
    tick_ = {};
    if (!open() || close_sent_) return;
    auto& l = *loop_;
    const std::int64_t silent = l.now_ms() - last_rx_ms_;
    if (opts_.idle_timeout.count() > 0 && silent >= opts_.idle_timeout.count()) {
        send_close(ws::close_code::going_away, "idle timeout");
        finish();
        return;
    }
    if (opts_.ping_interval.count() > 0) {
        byte_buffer ping(16);
        ws::encode_frame(ping, ws::opcode::ping, {});
        out(std::move(ping));
    }
    millis next = opts_.ping_interval.count() > 0 ? opts_.ping_interval : opts_.idle_timeout;
    if (opts_.idle_timeout.count() > 0) {
        next = std::min(next, millis(opts_.idle_timeout.count() - silent));
    }
    tick_ = l.add_timer(std::max(next, millis(1)), [this] { on_tick(); });
}

void ws_session::on_data(net::connection&, byte_buffer& in) {
    receive(in);
}

void ws_session::on_tunnel_data(byte_view b) {
    // The tunnel's bytes are only lent for the call (and the decoder unmasks in place): keep
    // them, with any partial frame left from before, in rx_.
    rx_.append(b);
    receive(rx_);
}

void ws_session::receive(byte_buffer& in) {
    last_rx_ms_ = loop_->now_ms();
    while (!in.empty() && open()) {
        ws::event ev;
        auto r = dec_.feed(mutable_byte_view(in.data(), in.size()), ev);
        if (r.out == ws::outcome::error) {
            in.consume(in.size());
            if (opts_.counters) opts_.counters->ws_protocol_errors.add();
            const auto e = dec_.last_error();
            log::debug("ws: {} at offset {}", ws::to_string(e), dec_.diag().offset);
            send_close(ws::close_code_for(e), ws::to_string(e));
            finish();
            return;
        }
        if (r.out == ws::outcome::need_more) {
            in.consume(r.consumed);
            return;
        }
        const bool more = handle(ev);  // views in ev point into `in`: consume afterwards
        in.consume(r.consumed);
        if (!more) {
            in.consume(in.size());
            return;
        }
    }
}

bool ws_session::handle(const ws::event& ev) {
    switch (ev.kind) {
        case ws::event_kind::message:
            if (opts_.counters) opts_.counters->ws_messages_in.add();
            if (sub_) {
                on_client_message(ev);
            } else {
                send_message(ev.op, ev.payload);
            }
            return open();
        case ws::event_kind::ping: {
            byte_buffer pong(ev.payload.size() + 4);
            ws::encode_frame(pong, ws::opcode::pong, ev.payload);
            out(std::move(pong));
            return true;
        }
        case ws::event_kind::pong:
            return true;
        case ws::event_kind::close:
            // RFC 6455 5.5.1: answer with a close (echoing the code), then the server closes
            // the TCP connection first.
            if (!close_sent_) {
                send_close(ev.close_code, {});
            }
            finish();
            return false;
    }
    return true;
}

void ws_session::on_client_message(const ws::event& ev) {
    if (!sub_->allow_publish || !hub::is_literal(sub_->pattern)) {
        send_close(ws::close_code::policy_violation, "publishing is not allowed here");
        finish();
        return;
    }
    const std::string_view type =
        ev.op == ws::opcode::text ? "text/plain; charset=utf-8" : "application/octet-stream";
    shard_->publish(sub_->pattern, type, shared_bytes::copy_of(as_string_view(ev.payload)));
}

void ws_session::send_message(ws::opcode op, byte_view payload) {
    byte_buffer frame(payload.size() + ws::max_header_size);
    if (deflater_ && payload.size() >= 64) {
        byte_buffer z(payload.size() / 2 + 64);
        if (deflater_->compress(payload, z)) {
            ws::encode_frame(frame, op, z.readable(), {.fin = true, .rsv1 = true, .mask = {}});
            out(std::move(frame));
            return;
        }
    }
    ws::encode_frame(frame, op, payload);
    out(std::move(frame));
}

void ws_session::send_close(std::uint16_t code, std::string_view reason) {
    if (close_sent_ || !open()) return;
    close_sent_ = true;
    byte_buffer frame(132);
    ws::encode_close(frame, code, reason);
    out(std::move(frame));
}

bool ws_session::open() const {
    if (conn_) return conn_->is_open();
    return tunnel_ && tunnel_->is_open();
}

void ws_session::out(byte_buffer&& b) {
    if (conn_) {
        conn_->write(std::move(b));
    } else if (tunnel_) {
        (void)tunnel_->write(b.readable());
    }
}

void ws_session::out(shared_bytes b) {
    if (conn_) {
        conn_->write(std::move(b));
    } else if (tunnel_) {
        (void)tunnel_->write(std::move(b));
    }
}

std::size_t ws_session::queued() const {
    if (conn_) return conn_->queued_bytes();
    return tunnel_ ? tunnel_->queued_bytes() : 0;
}

void ws_session::finish() {
    if (conn_) {
        conn_->close(net::close_mode::graceful);
    } else if (tunnel_) {
        tunnel_->close();  // END_STREAM; the stream ends with the peer's (or is reset later)
    }
}

void ws_session::on_message(const hub::delivery& d) {
    if (!open() || close_sent_) return;
    const hub::message& m = d.msg();
    switch (guard_->check(m, queued(), handle_.id())) {
        case outflow_guard::verdict::skip:
            arm_watch();
            return;
        case outflow_guard::verdict::disconnect:
            send_close(ws::close_code::policy_violation, "slow subscriber");
            finish();
            handle_.reset();
            return;
        case outflow_guard::verdict::send:
            break;
    }
    if (auto g = guard_->take_gap()) send_gap(*g);
    if (m.is_gap() && opts_.counters) opts_.counters->gaps_sent.add();
    const bool env = sub_->envelope;
    const unsigned slot = env ? push_slot::ws_envelope : push_slot::ws_raw;
    out(d.framed(slot, [env](const hub::message& msg) { return ws_frame(msg, env); }));
    if (opts_.counters) opts_.counters->deliveries.add();
    if (guard_->waiting()) arm_watch();
}

void ws_session::send_gap(const pending_gap& g) {
    if (!open()) return;
    const std::string j = gap_json(g.topic, g.from, g.to, g.lost);
    byte_buffer frame(j.size() + 4);
    ws::encode_frame(frame, ws::opcode::text, as_bytes(std::string_view(j)));
    out(std::move(frame));
    if (opts_.counters) opts_.counters->gaps_sent.add();
}

void ws_session::arm_watch() {
    if (!loop_ || !open() || loop_->timer_pending(watch_)) return;
    watch_ = loop_->add_timer(watch_interval, [this] {
        watch_ = {};
        if (!open() || !guard_) return;
        if (guard_->recheck(queued(), handle_.id())) {
            if (auto g = guard_->take_gap()) send_gap(*g);
        }
        if (guard_->waiting()) arm_watch();
    });
}

void ws_session::on_drain(net::connection&) {
    drained();
}

void ws_session::drained() {
    if (guard_ && guard_->recheck(queued(), handle_.id())) {
        if (auto g = guard_->take_gap()) send_gap(*g);
    }
}

void ws_session::on_peer_closed(net::connection& c) {
    c.close(net::close_mode::graceful);
}

void ws_session::publish_presence(std::string_view kind) {
    std::string j = "{\"type\":\"";
    j += kind;
    j += "\",\"name\":\"";
    http::json_escape(sub_->presence, j);
    j += "\"}";
    shard_->publish(sub_->pattern, "application/json", shared_bytes::copy_of(j));
}

void ws_session::on_close(net::connection&, net::close_reason) {
    closed();
}

void ws_session::closed() {
    auto& l = *loop_;
    if (l.timer_pending(tick_)) l.cancel_timer(tick_);
    if (l.timer_pending(watch_)) l.cancel_timer(watch_);
    handle_.reset();  // here, not in the destructor: the hub may be gone by then (shutdown)
    if (joined_) publish_presence("leave");
    if (opts_.counters) opts_.counters->ws_closed.add();
    conn_ = nullptr;
}

void ws_session::begin_shutdown(net::connection&) {
    send_close(ws::close_code::going_away, "server shutting down");
    finish();
}

}  // namespace sy::session
