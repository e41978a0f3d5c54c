// amqp_connection: protocol header, negotiation (amqp0-9-1.pdf 2.2.4: start, start-ok, tune,
// tune-ok, open), channel demultiplexing, heartbeats (4.2.7), connection exceptions.
// Broker loop thread only.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "amqp_internal.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/version.hpp"

namespace sy::session {

using namespace sy::amqp;

amqp_connection::amqp_connection(amqp_server_impl& s, std::uint64_t id, std::string peer,
                                 bool loopback)
    : srv_(s), id_(id), peer_(std::move(peer)), loopback_(loopback) {
    srv_.connections.insert(this);
    connected_at_ms_ =
        std::chrono::duration_cast<millis>(std::chrono::system_clock::now().time_since_epoch())
            .count();
}

amqp_connection::~amqp_connection() {
    srv_.connections.erase(this);
}

byte_buffer& amqp_connection::out() {
    if (!before_sleep_scheduled() && conn_) srv_.loop.schedule_before_sleep(*this);
    return out_;
}

void amqp_connection::write_body(std::uint16_t channel, const shared_bytes& body) {
    byte_buffer& o = out();
    if (body.size() < shared_body_min || !conn_ || !conn_->is_open()) {
        amqp::encode_body_frames(o, channel, body.bytes(), frame_max_);
        return;
    }
    amqp::for_each_body_frame(channel, body.size(), frame_max_,
                              [&](byte_view head, std::size_t off, std::size_t n) {
                                  // Order on the socket: what out_ holds so far (this frame's
                                  // head included), the body slice, then the frame end.
                                  out_.append(head);
                                  conn_->write(std::move(out_));
                                  out_ = byte_buffer();
                                  conn_->write(body, off, n);
                                  out_.append(&amqp::frame_end_octet, 1);
                              });
}

void amqp_connection::before_sleep() {
    for (auto& [id, ch] : channels_) ch->flush_confirms();
    if (out_.empty() || !conn_ || !conn_->is_open()) {
        out_.clear();
        return;
    }
    last_send_ms_ = srv_.now_ms();
    conn_->write(std::move(out_));
    out_ = byte_buffer();
}

void amqp_connection::on_open(net::connection& c) {
    conn_ = &c;
    last_recv_ms_ = last_send_ms_ = srv_.now_ms();
    c.set_idle_timeout(millis(0));
    // The handshake, from the protocol header to connection.open, must finish within
    // handshake_timeout (RabbitMQ's handshake_timeout, 10 s): a socket that sends nothing, or
    // stops half-way, does not hold a connection slot. Cleared once the connection is open.
    if (srv_.opts.handshake_timeout_ms > 0)
        c.set_read_deadline(millis(static_cast<std::int64_t>(srv_.opts.handshake_timeout_ms)));
}

void amqp_connection::on_data(net::connection& c, byte_buffer& in) {
    last_recv_ms_ = srv_.now_ms();
    while (c.is_open() && !in.empty() && !blocked()) {
        feed_result r = dec_.feed(in.readable());
        if (r.status == outcome::need_more) break;
        if (r.status == outcome::protocol_mismatch) {
            encode_protocol_header(out_);
            c.write(std::move(out_));
            out_ = byte_buffer();
            c.close();
            return;
        }
        if (r.status == outcome::error) {
            const error_info i = info_for(r.err);
            connection_error({i.reply_code, std::string(i.text), true}, 0, 0);
            in.consume(in.size());
            return;
        }
        if (r.kind == event_kind::protocol_header) {
            send_start();
        } else {
            on_frame(r.f);
        }
        in.consume(r.consumed);
    }
}

void amqp_connection::send_start() {
    byte_buffer caps;
    encode_table(caps, {{"publisher_confirms", true},
                        {"exchange_exchange_bindings", true},
                        {"basic.nack", true},
                        {"consumer_cancel_notify", true},
                        {"connection.blocked", true},
                        {"authentication_failure_close", true},
                        {"per_consumer_qos", true},
                        {"direct_reply_to", true}});
    byte_buffer props;
    encode_table(props, {{"product", std::string_view("switchyard")},
                         {"version", std::string_view(sy::k_version)},
                         {"platform", std::string_view("C++20")},
                         {"cluster_name", std::string_view("switchyard")},
                         {"capabilities", entries_of(caps.readable())}});
    state_ = conn_state::start_ok;
    encode_method_frame(
        out(), 0, connection_start{0, 9, entries_of(props.readable()), "PLAIN AMQPLAIN", "en_US"});
}

void amqp_connection::connection_error(const amqp_fault& f, std::uint16_t cls, std::uint16_t mth) {
    if (state_ == conn_state::closing) return;
    state_ = conn_state::closing;
    encode_method_frame(out(), 0, connection_close{f.code, f.text, cls, mth});
    for (auto& [id, ch] : channels_) ch->teardown();
    // The peer should answer close-ok; do not wait for ever (RabbitMQ waits ~30 s).
    if (conn_) conn_->set_read_deadline(millis(3000));
}

void amqp_connection::on_frame(const frame& f) {
    if (f.type == frame_type::heartbeat) return;
    if (f.channel == 0) {
        if (f.type != frame_type::method) {
            return connection_error(make_fault(505, "content frame on channel 0"), 0, 0);
        }
        return on_connection_method(f);
    }
    if (state_ == conn_state::closing) return;  // only close-ok matters now
    if (state_ != conn_state::ready) {
        return connection_error(make_fault(504, "channel frame before connection.open"), 0, 0);
    }
    auto it = channels_.find(f.channel);
    if (it == channels_.end()) {
        auto m = f.type == frame_type::method
                     ? decode_method(f.payload)
                     : result<method_variant, error>(unexpected(error::unexpected_body));
        if (m && std::holds_alternative<channel_open>(*m)) {
            if (f.channel > channel_max_) {
                return connection_error(make_fault(504, "channel number out of range"), 20, 10);
            }
            channels_.emplace(f.channel, std::make_unique<amqp_channel>(*this, f.channel));
            encode_method_frame(out(), f.channel, channel_open_ok{});
            return;
        }
        return connection_error(make_fault(504, "expected 'channel.open'"), 0, 0);
    }
    amqp_channel& ch = *it->second;
    if (ch.closing()) {
        // After channel.close we discard everything but close-ok (spec 4.2.6 / RabbitMQ).
        if (f.type != frame_type::method) return;
        auto m = decode_method(f.payload);
        if (m && std::holds_alternative<channel_close_ok>(*m)) channels_.erase(it);
        if (m && std::holds_alternative<channel_close>(*m)) {
            encode_method_frame(out(), f.channel, channel_close_ok{});
        }
        return;
    }
    ch.on_frame(f);
}

void amqp_connection::on_connection_method(const frame& f) {
    auto m = decode_method(f.payload);
    if (!m) {
        const error_info i = info_for(m.error());
        return connection_error({i.reply_code, std::string(i.text), true}, 0, 0);
    }
    if (auto* c = std::get_if<connection_close>(&*m)) {
        (void)c;
        for (auto& [id, ch] : channels_) ch->teardown();
        encode_method_frame(out(), 0, connection_close_ok{});
        before_sleep();
        state_ = conn_state::closing;
        conn_->close();
        return;
    }
    if (std::holds_alternative<connection_close_ok>(*m)) {
        if (state_ == conn_state::closing) close_socket();
        return;
    }
    if (state_ == conn_state::closing) return;
    if (auto* s = std::get_if<connection_start_ok>(&*m); s && state_ == conn_state::start_ok) {
        return on_start_ok(*s);
    }
    if (auto* t = std::get_if<connection_tune_ok>(&*m); t && state_ == conn_state::tune_ok) {
        return on_tune_ok(*t);
    }
    if (auto* o = std::get_if<connection_open>(&*m); o && state_ == conn_state::open) {
        return on_open_method(*o);
    }
    if (auto* u = std::get_if<connection_update_secret>(&*m); u && state_ == conn_state::ready) {
        return on_update_secret(*u);
    }
    if (std::holds_alternative<connection_blocked>(*m) ||
        std::holds_alternative<connection_unblocked>(*m)) {
        return;  // client-side notifications are allowed and ignored
    }
    const method_info& mi = info_of(*m);
    connection_error(make_fault(503, "unexpected method on channel 0"), mi.class_id, mi.method_id);
}

namespace {

// AMQPLAIN response: table entries without the length (RabbitMQ's rabbit_auth_mechanism_amqplain).
bool parse_amqplain(std::string_view resp, std::string& user, std::string& pass) {
    byte_buffer b;
    std::uint32_t n = static_cast<std::uint32_t>(resp.size());
    std::uint8_t len[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                           static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    b.append(len, 4);
    b.append(resp);
    auto t = decode_table(b.readable());
    if (!t) return false;
    for (const field_entry& e : t->entries()) {
        auto* s = std::get_if<std::string_view>(&e.value);
        if (!s) continue;
        if (e.key == "LOGIN") user = std::string(*s);
        if (e.key == "PASSWORD") pass = std::string(*s);
    }
    return true;
}

}  // namespace

void amqp_connection::on_start_ok(const connection_start_ok& m) {
    std::string user, pass;
    bool parsed = false;
    if (m.mechanism == "PLAIN") {
        // authzid \0 authcid \0 password (RFC 4616)
        auto a = m.response.find('\0');
        auto b = a == std::string_view::npos ? a : m.response.find('\0', a + 1);
        if (b != std::string_view::npos) {
            user = std::string(m.response.substr(a + 1, b - a - 1));
            pass = std::string(m.response.substr(b + 1));
            parsed = true;
        }
    } else if (m.mechanism == "AMQPLAIN") {
        parsed = parse_amqplain(m.response, user, pass);
    } else {
        return connection_error(make_fault(403, "unsupported authentication mechanism '" +
                                                    std::string(m.mechanism) + "'"),
                                10, 11);
    }
    const amqp_user* account = parsed ? srv_.authenticate(user, pass, loopback_) : nullptr;
    // Not a static user's password: a JWT, with [auth] on (RabbitMQ's OAuth 2 plugin convention:
    // the username is ignored, the connection's user is the token's subject).
    auth::principal_ptr token = parsed && !account ? srv_.verify_token(pass) : nullptr;
    if (!account && !token) {
        return connection_error(
            make_fault(403, "Login was refused using authentication mechanism " +
                                std::string(m.mechanism) + ". For details see the broker logfile."),
            10, 11);
    }
    user_ = token ? token->subject() : user;
    account_ = account;
    token_ = std::move(token);
    mechanism_ = std::string(m.mechanism);
    if (auto caps = find(m.client_properties, "capabilities")) {
        if (auto* t = std::get_if<table_view>(&*caps)) {
            auto on = [&](std::string_view k) {
                auto v = find(*t, k);
                auto* b = v ? std::get_if<bool>(&*v) : nullptr;
                return b && *b;
            };
            caps_blocked = on("connection.blocked");
            caps_cancel = on("consumer_cancel_notify");
        }
    }
    state_ = conn_state::tune_ok;
    encode_method_frame(
        out(), 0,
        connection_tune{srv_.opts.channel_max, srv_.opts.frame_max, srv_.opts.heartbeat_s});
}

void amqp_connection::on_tune_ok(const connection_tune_ok& m) {
    std::uint32_t fm = m.frame_max == 0 ? srv_.opts.frame_max : m.frame_max;
    if (fm < constant::frame_min_size || fm > srv_.opts.frame_max) {
        return connection_error(make_fault(530, "negotiated frame_max out of range"), 10, 31);
    }
    frame_max_ = fm;
    dec_.set_frame_max(fm);
    channel_max_ =
        m.channel_max == 0 ? srv_.opts.channel_max : std::min(m.channel_max, srv_.opts.channel_max);
    heartbeat_s_ = m.heartbeat;
    state_ = conn_state::open;
    if (heartbeat_s_ > 0) heartbeat_tick();
}

void amqp_connection::heartbeat_tick() {
    if (!conn_ || !conn_->is_open()) return;
    auto now = srv_.now_ms();
    std::int64_t period = heartbeat_s_ * 1000;
    // Blocked: we stopped reading, so the peer's heartbeats wait unread in the socket; the
    // monitor pauses (as RabbitMQ's does) instead of counting them missed.
    if (blocked()) last_recv_ms_ = now;
    // Two missed heartbeats: the peer is gone (RabbitMQ closes the socket, no close method).
    if (now - last_recv_ms_ > 2 * period) {
        conn_->close(net::close_mode::abort);
        return;
    }
    if (now - last_send_ms_ >= period / 2) {
        encode_heartbeat(out());
    }
    std::weak_ptr<bool> alive = alive_;
    hb_timer_ = srv_.loop.add_timer(millis(std::max<std::int64_t>(period / 2, 100)), [this, alive] {
        if (auto a = alive.lock(); a && *a) heartbeat_tick();
    });
    hb_armed_ = true;
}

void amqp_connection::on_open_method(const connection_open& m) {
    vhost_ = srv_.broker.vhost(m.virtual_host);
    if (!vhost_) {
        return connection_error(
            make_fault(530, "vhost " + std::string(m.virtual_host) + " not found"), 10, 40);
    }
    // RabbitMQ's check_vhost_access: a user without permissions in the vhost may not open it.
    grant_ = make_grant();
    if (!grant_) {
        return connection_error(make_fault(530, "access to vhost '" + vhost_->name +
                                                    "' refused for user '" + user_ + "'"),
                                10, 40);
    }
    state_ = conn_state::ready;
    arm_expiry();
    credit_ = burst();  // a full bucket (amqp.publish_rate)
    credit_at_ms_ = srv_.now_ms();
    if (conn_) conn_->clear_read_deadline();  // the handshake is over (see on_open)
    encode_method_frame(out(), 0, connection_open_ok{});
}

std::optional<amqp_grant> amqp_connection::make_grant() const {
    if (account_) return account_->grant(vhost_->name);
    if (token_) return token_grant(token_, srv_.current_policy(), vhost_->name);
    return std::nullopt;
}

// RabbitMQ 3.8+ (rabbit_reader, connection.update_secret): the backends refresh their state
// with the new secret. A static user's state cannot expire, so, as RabbitMQ's internal backend,
// it is accepted as it is and the grant stays. A token connection needs a valid token of the
// same subject: it replaces the token, its permissions (checks from now on, cached answers
// dropped) and its expiry. A refused secret is a connection error 530 with RabbitMQ's text.
void amqp_connection::on_update_secret(const connection_update_secret& m) {
    if (token_) {
        auto t = srv_.verify_token(m.new_secret);
        if (!t || t->subject() != token_->subject()) {
            return connection_error(
                make_fault(530, "New secret was refused by one of the backends"), m.amqp_class,
                m.amqp_method);
        }
        token_ = std::move(t);
        grant_ = make_grant();  // nullopt: every check refuses from now on
        access_cache_.clear();
        arm_expiry();
    } else if (!account_) {
        return connection_error(make_fault(530, "New secret was refused by one of the backends"),
                                m.amqp_class, m.amqp_method);
    }
    encode_method_frame(out(), 0, connection_update_secret_ok{});
}

// A token connection ends at the token's exp: connection.close 320 CONNECTION_FORCED (the
// text of RabbitMQ's credential expiry), unless update-secret brought a later one first.
void amqp_connection::arm_expiry() {
    if (exp_armed_) srv_.loop.cancel_timer(exp_timer_);
    exp_armed_ = false;
    if (!token_ || token_->exp() == 0) return;
    const std::int64_t ms = std::max<std::int64_t>(0, (token_->exp() - auth::unix_now_s()) * 1000);
    std::weak_ptr<bool> alive = alive_;
    exp_timer_ = srv_.loop.add_timer(millis(ms), [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;
        exp_armed_ = false;
        force_close("credential expired");
    });
    exp_armed_ = true;
}

void amqp_connection::set_blocked(bool on) {
    // Alarm raised: nothing yet. Like RabbitMQ (rabbit_reader "blocking"), a connection is blocked
    // only when it publishes while the alarm is on (publish_received), so consumers that never
    // publish are neither notified nor stopped and can drain the queues.
    if (!on) unblock(block_memory);
}

void amqp_connection::block(std::uint8_t why, std::string_view reason) {
    const bool was = blocked();
    blocked_by_ |= why;
    if (was) return;
    if (caps_blocked) encode_method_frame(out(), 0, connection_blocked{reason});
    if (conn_) conn_->pause_reading();  // on_data stops at the end of this frame
}

void amqp_connection::unblock(std::uint8_t why) {
    if (!(blocked_by_ & why)) return;
    blocked_by_ &= static_cast<std::uint8_t>(~why);
    if (blocked()) return;  // the other reason still holds
    if (caps_blocked && state_ == conn_state::ready) {
        encode_method_frame(out(), 0, connection_unblocked{});
    }
    last_recv_ms_ = srv_.now_ms();       // the heartbeat monitor resumes from now
    if (conn_) conn_->resume_reading();  // also re-delivers input left unread while blocked
}

void amqp_connection::publish_received() {
    published = true;
    if (state_ != conn_state::ready) return;
    if (srv_.blocked) block(block_memory, "low on memory");
    if (srv_.opts.publish_rate != 0 && !take_credit()) rate_wait();
}

// ---- credit flow: amqp.publish_rate ----
// A token bucket per connection: publish_burst tokens, publish_rate more per second, one per
// publish. When it runs dry the connection stops reading its socket (the publisher's TCP window
// closes, as RabbitMQ's credit flow does) and, if the client accepts it, gets
// connection.blocked; it reads again once a twentieth of a second's worth is back.

double amqp_connection::burst() const {
    const auto& o = srv_.opts;
    return static_cast<double>(o.publish_burst != 0 ? o.publish_burst : o.publish_rate);
}

void amqp_connection::refill() {
    const auto now = srv_.now_ms();
    const double rate = static_cast<double>(srv_.opts.publish_rate);
    credit_ = std::min(burst(), credit_ + static_cast<double>(now - credit_at_ms_) * rate / 1000);
    credit_at_ms_ = now;
}

bool amqp_connection::take_credit() {
    refill();
    credit_ -= 1;
    return credit_ >= 1;
}

void amqp_connection::rate_wait() {
    if (rate_armed_) return;
    block(block_rate, "publish rate limit");
    const double rate = static_cast<double>(srv_.opts.publish_rate);
    const double want = std::min(burst(), std::max(1.0, rate / 20));
    const auto ms = static_cast<std::int64_t>((want - credit_) * 1000 / rate) + 1;
    std::weak_ptr<bool> alive = alive_;
    rate_timer_ = srv_.loop.add_timer(millis(std::max<std::int64_t>(ms, 1)), [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;
        rate_armed_ = false;
        refill();
        if (credit_ >= 1) {
            unblock(block_rate);
        } else {
            rate_wait();
        }
    });
    rate_armed_ = true;
}

void amqp_connection::on_drain(net::connection&) {
    for (auto& [id, ch] : channels_) ch->redispatch();
}

void amqp_connection::begin_shutdown(net::connection& c) {
    // RabbitMQ closes every client connection this way when its node stops (rabbit_networking
    // close_all_connections -> rabbit_reader:shutdown); clients treat 320 as a clean close
    // (amqplib emits 'close' without 'error', pika raises ConnectionClosedByBroker).
    if (state_ == conn_state::open || state_ == conn_state::ready) {
        connection_error(make_fault(320, "broker forced connection closure with reason 'shutdown'"),
                         0, 0);
    } else if (state_ != conn_state::closing) {
        c.close(net::close_mode::graceful);  // still negotiating: nothing to tell it
    }
}

void amqp_connection::force_close(std::string_view reason) {
    if (state_ == conn_state::open || state_ == conn_state::ready) {
        connection_error(make_fault(320, reason), 0, 0);
    } else if (state_ != conn_state::closing && conn_) {
        conn_->close(net::close_mode::graceful);
    }
}

namespace {
std::string_view state_name(conn_state s, bool blocked) {
    switch (s) {
        case conn_state::protocol_header:
        case conn_state::start_ok:
        case conn_state::secure_ok:
            return "starting";
        case conn_state::tune_ok:
            return "tuning";
        case conn_state::open:
            return "opening";
        case conn_state::ready:
            return blocked ? "blocked" : "running";
        case conn_state::closing:
            break;
    }
    return "closing";
}
}  // namespace

void amqp_connection::describe(amqp_connection_info& out) const {
    out.id = id_;
    out.peer = peer_;
    if (conn_) {
        net::address local;
        *local.len_ptr() = net::address::capacity();
        if (::getsockname(conn_->fd(), local.sa(), local.len_ptr()) == 0)
            out.local = local.to_string();
    }
    out.user = user_;
    out.vhost = vhost_ ? vhost_->name : std::string();
    out.state = std::string(state_name(state_, blocked()));
    out.auth_mechanism = mechanism_;
    out.channel_max = channel_max_;
    out.frame_max = frame_max_;
    out.heartbeat_s = heartbeat_s_;
    out.connected_at_ms = connected_at_ms_;
    out.conn = conn_;
    for (const auto& [num, ch] : channels_) ch->describe(out.channels.emplace_back());
}

void amqp_connection::close_socket() {
    if (conn_ && conn_->is_open()) conn_->close();
}

void amqp_connection::on_close(net::connection&, net::close_reason) {
    *alive_ = false;
    if (hb_armed_) srv_.loop.cancel_timer(hb_timer_);
    if (rate_armed_) srv_.loop.cancel_timer(rate_timer_);
    if (exp_armed_) srv_.loop.cancel_timer(exp_timer_);
    channels_.clear();  // requeues unacked, cancels consumers
    srv_.broker.connection_closed(id_);
    srv_.bridge_unbind_check();
    conn_ = nullptr;
    out_.clear();
}

}  // namespace sy::session
