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

void ws_session::on_open(net::connection& c) {
    conn_ = &c;
    c.set_idle_timeout(millis(0));  // liveness is ours: ping + idle_timeout on frames received
    last_rx_ms_ = c.owner_loop().now_ms();
    if (opts_.counters) opts_.counters->ws_sessions.add();
    const millis tick = opts_.ping_interval.count() > 0 ? opts_.ping_interval : opts_.idle_timeout;
    if (tick.count() > 0) tick_ = c.owner_loop().add_timer(tick, [this] { on_tick(); });
    if (!sub_) return;
    // Resumes from local history may call on_message before subscribe() returns.
    auto h = shard_->subscribe(sub_->pattern, this, sub_->start);
    if (!h) {
        send_close(c, ws::close_code::policy_violation, "invalid topic");
        c.close(net::close_mode::graceful);
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
    if (!conn_ || !conn_->is_open() || close_sent_) return;
    auto& l = conn_->owner_loop();
    const std::int64_t silent = l.now_ms() - last_rx_ms_;
    if (opts_.idle_timeout.count() > 0 && silent >= opts_.idle_timeout.count()) {
        send_close(*conn_, ws::close_code::going_away, "idle timeout");
        conn_->close(net::close_mode::graceful);
        return;
    }
    if (opts_.ping_interval.count() > 0) {
        byte_buffer out(16);
        ws::encode_frame(out, ws::opcode::ping, {});
        conn_->write(std::move(out));
    }
    millis next = opts_.ping_interval.count() > 0 ? opts_.ping_interval : opts_.idle_timeout;
    if (opts_.idle_timeout.count() > 0) {
        next = std::min(next, millis(opts_.idle_timeout.count() - silent));
    }
    tick_ = l.add_timer(std::max(next, millis(1)), [this] { on_tick(); });
}

void ws_session::on_data(net::connection& c, byte_buffer& in) {
    last_rx_ms_ = c.owner_loop().now_ms();
    while (!in.empty() && c.is_open()) {
        ws::event ev;
        auto r = dec_.feed(mutable_byte_view(in.data(), in.size()), ev);
        if (r.out == ws::outcome::error) {
            in.consume(in.size());
            if (opts_.counters) opts_.counters->ws_protocol_errors.add();
            const auto e = dec_.last_error();
            log::debug("ws: {} at offset {}", ws::to_string(e), dec_.diag().offset);
            send_close(c, ws::close_code_for(e), ws::to_string(e));
            c.close(net::close_mode::graceful);
            return;
        }
        if (r.out == ws::outcome::need_more) {
            in.consume(r.consumed);
            return;
        }
        const bool more = handle(c, ev);  // views in ev point into `in`: consume afterwards
        in.consume(r.consumed);
        if (!more) {
            in.consume(in.size());
            return;
        }
    }
}

bool ws_session::handle(net::connection& c, const ws::event& ev) {
    switch (ev.kind) {
        case ws::event_kind::message:
            if (opts_.counters) opts_.counters->ws_messages_in.add();
            if (sub_) {
                on_client_message(c, ev);
            } else {
                send_message(c, ev.op, ev.payload);
            }
            return c.is_open();
        case ws::event_kind::ping: {
            byte_buffer out(ev.payload.size() + 4);
            ws::encode_frame(out, ws::opcode::pong, ev.payload);
            c.write(std::move(out));
            return true;
        }
        case ws::event_kind::pong:
            return true;
        case ws::event_kind::close:
            // RFC 6455 5.5.1: answer with a close (echoing the code), then the server closes
            // the TCP connection first.
            if (!close_sent_) {
                send_close(c, ev.close_code, {});
            }
            c.close(net::close_mode::graceful);
            return false;
    }
    return true;
}

void ws_session::on_client_message(net::connection& c, const ws::event& ev) {
    if (!sub_->allow_publish || !hub::is_literal(sub_->pattern)) {
        send_close(c, ws::close_code::policy_violation, "publishing is not allowed here");
        c.close(net::close_mode::graceful);
        return;
    }
    const std::string_view type =
        ev.op == ws::opcode::text ? "text/plain; charset=utf-8" : "application/octet-stream";
    shard_->publish(sub_->pattern, type, shared_bytes::copy_of(as_string_view(ev.payload)));
}

void ws_session::send_message(net::connection& c, ws::opcode op, byte_view payload) {
    byte_buffer out(payload.size() + ws::max_header_size);
    if (deflater_ && payload.size() >= 64) {
        byte_buffer z(payload.size() / 2 + 64);
        if (deflater_->compress(payload, z)) {
            ws::encode_frame(out, op, z.readable(), {.fin = true, .rsv1 = true, .mask = {}});
            c.write(std::move(out));
            return;
        }
    }
    ws::encode_frame(out, op, payload);
    c.write(std::move(out));
}

void ws_session::send_close(net::connection& c, std::uint16_t code, std::string_view reason) {
    if (close_sent_ || !c.is_open()) return;
    close_sent_ = true;
    byte_buffer out(132);
    ws::encode_close(out, code, reason);
    c.write(std::move(out));
}

void ws_session::on_message(const hub::delivery& d) {
    if (!conn_ || !conn_->is_open() || close_sent_) return;
    const hub::message& m = d.msg();
    switch (guard_->check(m, conn_->queued_bytes(), handle_.id())) {
        case outflow_guard::verdict::skip:
            arm_watch();
            return;
        case outflow_guard::verdict::disconnect:
            send_close(*conn_, ws::close_code::policy_violation, "slow subscriber");
            conn_->close(net::close_mode::graceful);
            handle_.reset();
            return;
        case outflow_guard::verdict::send:
            break;
    }
    if (auto g = guard_->take_gap()) send_gap(*g);
    if (m.is_gap() && opts_.counters) opts_.counters->gaps_sent.add();
    const bool env = sub_->envelope;
    const unsigned slot = env ? push_slot::ws_envelope : push_slot::ws_raw;
    conn_->write(d.framed(slot, [env](const hub::message& msg) { return ws_frame(msg, env); }));
    if (opts_.counters) opts_.counters->deliveries.add();
    if (guard_->waiting()) arm_watch();
}

void ws_session::send_gap(const pending_gap& g) {
    if (!conn_ || !conn_->is_open()) return;
    const std::string j = gap_json(g.topic, g.from, g.to, g.lost);
    byte_buffer out(j.size() + 4);
    ws::encode_frame(out, ws::opcode::text, as_bytes(std::string_view(j)));
    conn_->write(std::move(out));
    if (opts_.counters) opts_.counters->gaps_sent.add();
}

void ws_session::arm_watch() {
    if (!conn_ || conn_->owner_loop().timer_pending(watch_)) return;
    watch_ = conn_->owner_loop().add_timer(watch_interval, [this] {
        watch_ = {};
        if (!conn_ || !conn_->is_open() || !guard_) return;
        if (guard_->recheck(conn_->queued_bytes(), handle_.id())) {
            if (auto g = guard_->take_gap()) send_gap(*g);
        }
        if (guard_->waiting()) arm_watch();
    });
}

void ws_session::on_drain(net::connection& c) {
    if (guard_ && guard_->recheck(c.queued_bytes(), handle_.id())) {
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

void ws_session::on_close(net::connection& c, net::close_reason) {
    auto& l = c.owner_loop();
    if (l.timer_pending(tick_)) l.cancel_timer(tick_);
    if (l.timer_pending(watch_)) l.cancel_timer(watch_);
    handle_.reset();  // here, not in the destructor: the hub may be gone by then (shutdown)
    if (joined_) publish_presence("leave");
    if (opts_.counters) opts_.counters->ws_closed.add();
    conn_ = nullptr;
}

void ws_session::begin_shutdown(net::connection& c) {
    send_close(c, ws::close_code::going_away, "server shutting down");
    c.close(net::close_mode::graceful);
}

}  // namespace sy::session
