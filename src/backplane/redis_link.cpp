// redis_link: RESP2 over a net::connection with AUTH and reconnection (see the header).
#include "switchyard/backplane/redis_link.hpp"

#include <charconv>

#include "switchyard/base/log.hpp"

namespace sy::backplane {

result<redis_endpoint, std::string> parse_redis_url(std::string_view url) {
    redis_endpoint ep;
    std::string_view rest;
    if (url.starts_with("redis://")) {
        rest = url.substr(8);
    } else if (url.starts_with("rediss://")) {
        rest = url.substr(9);
        ep.tls = true;
    } else {
        return unexpected(std::string("backplane.url: redis:// or rediss:// expected: ") +
                          std::string(url));
    }
    if (const std::size_t q = rest.find('?'); q != std::string_view::npos) {
        const std::string_view query = rest.substr(q + 1);
        rest = rest.substr(0, q);
        if (query == "insecure" || query == "insecure=true" || query == "insecure=1") {
            ep.insecure = true;
        } else if (!query.empty()) {
            return unexpected("backplane.url: unknown parameter '" + std::string(query) +
                              "' (only ?insecure)");
        }
        if (ep.insecure && !ep.tls) {
            return unexpected(std::string("backplane.url: ?insecure needs rediss://"));
        }
    }
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        if (rest.substr(slash) != "/" && rest.substr(slash) != "/0") {
            return unexpected(std::string("backplane.url: database numbers are not supported"));
        }
        rest = rest.substr(0, slash);
    }
    if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view cred = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const std::size_t colon = cred.find(':');
        if (colon == std::string_view::npos) {
            ep.password = std::string(cred);  // redis://password@host, as redis-cli -u takes it
        } else {
            ep.user = std::string(cred.substr(0, colon));
            ep.password = std::string(cred.substr(colon + 1));
        }
    }
    auto a = net::address::parse(rest);
    if (!a) return unexpected("backplane.url: bad host:port '" + std::string(rest) + "'");
    ep.addr = *a;
    ep.display = std::string(rest);
    const std::size_t colon = rest.rfind(':');
    ep.host = std::string(rest.substr(0, colon));
    if (ep.host.size() > 2 && ep.host.front() == '[')
        ep.host = ep.host.substr(1, ep.host.size() - 2);
    return ep;
}

// The connection's protocol strategy: forwards to the link while it is attached.
class redis_link::handler final : public net::connection_handler {
  public:
    explicit handler(redis_link* l) : link_(l) {}
    void detach() { link_ = nullptr; }
    void on_data(net::connection&, byte_buffer& in) override {
        if (link_) link_->on_input(in);
    }
    void on_peer_closed(net::connection& c) override { c.close(net::close_mode::immediate); }
    void on_close(net::connection&, net::close_reason) override {
        if (redis_link* l = std::exchange(link_, nullptr)) l->lost();
    }
    std::string_view protocol() const override { return "Redis"; }

  private:
    redis_link* link_;
};

redis_link::redis_link(core::loop& l, redis_endpoint ep, link_settings s, link_hooks h)
    : loop_(l), ep_(std::move(ep)), settings_(s), hooks_(std::move(h)) {
    resp::parser_config pc;
    pc.max_bulk = settings_.max_reply;
    parser_ = resp::parser(pc);
    conn_opts_.max_input = settings_.max_reply + 1024;
    conn_opts_.close_timeout = millis(1000);
    backoff_.max = settings_.retry_max;
}

redis_link::~redis_link() {
    stop();
}

void redis_link::start() {
    if (state_ == state::stopped || state_ == state::connecting) return;
    state_ = state::connecting;
    auto h = std::make_unique<handler>(this);
    handler* raw = h.get();
    connector_ = net::connector::start(
        loop_, ep_.addr, settings_.connect_timeout, std::move(h), conn_opts_,
        [this, raw](result<net::connection*, core::os_error> r) {
            if (!r) {
                log::debug("backplane: connect to {}: {}", ep_.display, r.error().message());
                lost();
                return;
            }
            handler_ = raw;
            connected(*r);
        },
        ep_.tls_client.get());
}

void redis_link::connected(net::connection* c) {
    conn_ = c;
    ++connects_;
    if (ep_.password.empty() && !ep_.tls) {
        state_ = state::up;
        backoff_.reset();
        if (hooks_.up) hooks_.up();
        return;
    }
    // AUTH first (Redis 6 ACL form when a user is given); nothing else goes before its +OK.
    // Over TLS without a password a PING takes its place: its write drives the handshake, and
    // the link is up only once Redis answered through a verified channel.
    state_ = state::authenticating;
    byte_buffer out;
    if (ep_.password.empty()) {
        resp::encode_command(out, {"PING"});
    } else if (ep_.user.empty()) {
        resp::encode_command(out, {"AUTH", ep_.password});
    } else {
        resp::encode_command(out, {"AUTH", ep_.user, ep_.password});
    }
    conn_->write(std::move(out));
}

bool redis_link::command(std::span<const std::string_view> args, reply_fn done) {
    if (state_ != state::up || !conn_) return false;
    byte_buffer out;
    resp::encode_command(out, args);
    if (!conn_->write(std::move(out))) return false;
    if (!settings_.pubsub) waiting_.push_back(std::move(done));
    return true;
}

void redis_link::on_input(byte_buffer& in) {
    while (conn_ && !in.empty()) {
        const resp::parse_result r = parser_.parse(in.readable());
        if (r.out == resp::outcome::need_more) return;
        if (r.out == resp::outcome::error) {
            log::warn("backplane: bad reply from {}: {} at byte {}", ep_.display,
                      resp::to_string(parser_.last_error()), parser_.error_offset());
            conn_->close(net::close_mode::immediate);
            return;
        }
        dispatch(parser_.root());
        in.consume(r.consumed);
    }
}

void redis_link::dispatch(const resp::value& v) {
    if (state_ == state::authenticating) {
        if (v.is_error()) {
            log::warn("backplane: AUTH refused by {}: {}", ep_.display, v.str());
            conn_->close(net::close_mode::immediate);
            return;
        }
        state_ = state::up;
        backoff_.reset();
        if (hooks_.up) hooks_.up();
        return;
    }
    if (settings_.pubsub) {
        if (hooks_.push) hooks_.push(v);
        return;
    }
    if (waiting_.empty()) return;  // a reply nobody asked for: ignore
    reply_fn done = std::move(waiting_.front());
    waiting_.pop_front();
    if (done) done(&v);
}

void redis_link::lost() {
    connector_.reset();
    conn_ = nullptr;
    handler_ = nullptr;
    const bool was_stopped = state_ == state::stopped;
    if (!was_stopped) state_ = state::idle;
    std::deque<reply_fn> failed = std::move(waiting_);
    waiting_.clear();
    for (reply_fn& f : failed) {
        if (f) f(nullptr);
    }
    if (was_stopped) return;
    if (hooks_.down) hooks_.down();
    schedule_retry();
}

void redis_link::schedule_retry() {
    if (loop_.timer_pending(retry_timer_)) return;
    retry_timer_ = loop_.add_timer(backoff_.next(), [this] {
        retry_timer_ = {};
        start();
    });
}

void redis_link::stop() {
    state_ = state::stopped;
    connector_.reset();
    if (loop_.timer_pending(retry_timer_)) loop_.cancel_timer(retry_timer_);
    retry_timer_ = {};
    if (handler_) handler_->detach();
    handler_ = nullptr;
    if (conn_) conn_->close(net::close_mode::immediate);
    conn_ = nullptr;
    std::deque<reply_fn> failed = std::move(waiting_);
    waiting_.clear();
    for (reply_fn& f : failed) {
        if (f) f(nullptr);
    }
}

}  // namespace sy::backplane
