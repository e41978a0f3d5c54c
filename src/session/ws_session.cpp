#include "switchyard/session/ws_session.hpp"

#include <charconv>

#include "switchyard/base/json.hpp"
#include "switchyard/base/log.hpp"
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
}

ws_session::~ws_session() = default;

void ws_session::run(std::shared_ptr<ws_session> s, std::unique_ptr<push_target> t) {
    ws_session* p = s.get();
    p->loop_ = &t->loop();
    p->target_ = std::move(t);
    if (!p->target_->open(std::move(s))) return;
    p->start();
}

void ws_session::start() {
    last_rx_ms_ = loop_->now_ms();
    if (opts_.counters) opts_.counters->ws_sessions.add();
    const millis tick = opts_.ping_interval.count() > 0 ? opts_.ping_interval : opts_.idle_timeout;
    if (tick.count() > 0) tick_ = loop_->add_timer(tick, [this] { on_tick(); });
    if (!sub_) return;
    push_subscription ps;
    ps.pattern = sub_->pattern;
    ps.transport = hub::subscriber_transport::websocket;
    ps.start = sub_->start;
    ps.counters = opts_.counters;
    ps.transport = hub::subscriber_transport::websocket;
    if (sub_->principal && sub_->policy)
        ps.expires_at_s = sub_->policy->deadline_of(*sub_->principal);
    stream_.emplace(*shard_, *target_, *this, std::move(ps));
    if (!stream_->start()) return;  // refused pattern: closed 1008 by farewell
    connected_ = true;
    if (sub_->hooks.on_connect) sub_->hooks.on_connect(*this);
}

void ws_session::on_tick() {
    tick_ = {};
    if (!open() || close_sent_) return;
    auto& l = *loop_;
    const std::int64_t silent = l.now_ms() - last_rx_ms_;
    if (opts_.idle_timeout.count() > 0 && silent >= opts_.idle_timeout.count()) {
        end(ws::close_code::going_away, "idle timeout");
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

void ws_session::on_push_data(byte_view b) {
    // The transport's bytes are only lent for the call (and the decoder unmasks in place): keep
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
            end(ws::close_code_for(e), ws::to_string(e));
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
            end(ev.close_code, {});  // the close frame is sent only if we did not send one yet
            return false;
    }
    return true;
}

void ws_session::on_client_message(const ws::event& ev) {
    if (sub_->envelope && sub_->policy && ev.op == ws::opcode::text &&
        refresh(as_string_view(ev.payload)))
        return;
    if (!sub_->hooks.on_message) {
        end(ws::close_code::policy_violation, "publishing is not allowed here");
        return;
    }
    sub_->hooks.on_message(*this, as_string_view(ev.payload), ev.op != ws::opcode::text);
}

bool ws_session::refresh(std::string_view message) {
    // Ordinary messages pay one substring search: only a JSON object naming "refresh" is parsed.
    if (message.find("\"refresh\"") == std::string_view::npos) return false;
    auto doc = json::document::parse(message);
    if (!doc || doc->get_string("type") != std::optional<std::string>("refresh")) return false;
    const auto token = doc->get_string("token");
    auto r = token ? sub_->policy->authenticate(*token, auth::unix_now_s())
                   : result<auth::principal_ptr, auth::verify_error>(
                         unexpected(auth::verify_error::malformed));
    if (!r) {
        end(3000, auth::to_string(r.error()));
        return true;
    }
    // The new token must still allow what the socket follows (permissions change with it).
    if (!sub_->policy->allowed(r->get(), auth::action::subscribe, sub_->pattern)) {
        end(ws::close_code::policy_violation, "not permitted");
        return true;
    }
    sub_->principal = std::move(*r);
    const std::int64_t deadline = sub_->policy->deadline_of(*sub_->principal);
    if (stream_) stream_->set_expiry(deadline);
    std::string reply;
    json::writer(reply)
        .begin_object()
        .member("type", "refreshed")
        .member("exp", deadline)
        .end_object();
    send_message(ws::opcode::text, as_bytes(std::string_view(reply)));
    return true;
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
    return target_ && target_->is_open();
}

void ws_session::out(byte_buffer&& b) {
    target_->write(std::move(b));
}

void ws_session::end(std::uint16_t code, std::string_view reason) {
    send_close(code, reason);
    if (stream_) stream_->stop();
    if (open()) target_->finish(push_end::done);
}

shared_bytes ws_session::frame(const hub::delivery& d) {
    const bool env = sub_->envelope;
    const unsigned slot = env ? push_slot::ws_envelope : push_slot::ws_raw;
    return d.framed(slot, [env](const hub::message& msg) { return ws_frame(msg, env); });
}

byte_buffer ws_session::gap(const pending_gap& g) {
    const std::string j = gap_json(g.topic, g.from, g.to, g.lost);
    byte_buffer frame(j.size() + 4);
    ws::encode_frame(frame, ws::opcode::text, as_bytes(std::string_view(j)));
    return frame;
}

void ws_session::farewell(push_target&, push_end why, std::string_view) {
    switch (why) {
        case push_end::slow:
            send_close(ws::close_code::policy_violation, "slow subscriber");
            return;
        case push_end::invalid_topic:
            send_close(ws::close_code::policy_violation, "invalid topic");
            return;
        case push_end::shutdown:
            send_close(ws::close_code::going_away, "server shutting down");
            return;
        case push_end::idle:
            send_close(ws::close_code::going_away, "idle timeout");
            return;
        case push_end::expired:
            // 3000-3999: registered for libraries and frameworks (RFC 6455 7.4.2); 3000 is
            // "unauthorized" in the IANA registry, the code Centrifugo-style clients expect.
            send_close(3000, "token expired");
            return;
        case push_end::done:
        case push_end::protocol:
            send_close(ws::close_code::normal, {});
            return;
    }
}

void ws_session::on_push_drain() {
    if (stream_) stream_->drained();
}

void ws_session::on_push_shutdown() {
    end(ws::close_code::going_away, "server shutting down");
}

void ws_session::on_push_removed() {
    end(ws::close_code::going_away, "route removed");
}

void ws_session::on_push_closed() {
    if (loop_->timer_pending(tick_)) loop_->cancel_timer(tick_);
    if (stream_) stream_->stop();  // here, not in the destructor: the hub may be gone by then
    if (connected_ && sub_->hooks.on_close) sub_->hooks.on_close(*this);
    connected_ = false;
    if (opts_.counters) opts_.counters->ws_closed.add();
}

std::uint16_t ws_peer::remote_port() const {
    const std::string_view a = remote_address();
    const auto colon = a.rfind(':');
    std::uint16_t port = 0;
    if (colon == std::string_view::npos) return 0;
    std::from_chars(a.data() + colon + 1, a.data() + a.size(), port);
    return port;
}

std::string_view ws_session::remote_address() const {
    return sub_ ? std::string_view(sub_->remote) : std::string_view();
}

std::string_view ws_session::topic() const {
    return sub_ ? std::string_view(sub_->pattern) : std::string_view();
}

bool ws_session::publish(std::string_view payload, std::string_view content_type) {
    if (!sub_ || !shard_ || !hub::is_literal(sub_->pattern)) return false;
    shard_->publish(sub_->pattern, content_type, shared_bytes::copy_of(payload));
    return true;
}

const auth::principal* ws_session::principal() const {
    return sub_ ? sub_->principal.get() : nullptr;
}

void ws_session::close(std::uint16_t code, std::string_view reason) {
    end(code, reason);
}

void ws_session::send_text(std::string_view text) {
    if (open() && !close_sent_) send_message(ws::opcode::text, as_bytes(text));
}

}  // namespace sy::session
