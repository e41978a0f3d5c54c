// redis_link: one connection to Redis on a switchyard loop, speaking RESP2 (proto/resp), with
// AUTH, reconnection and backoff. No thread of its own and no blocking call: the socket is a
// net::connection on the loop (connected by net::connector), replies are parsed as they arrive.
//
// Two modes. command: each reply answers the oldest command in flight (Redis answers in order),
// through the callback given with it. pubsub: after the handshake every reply goes to
// hooks::push (subscribe confirmations and messages alike), commands carry no callback.
//
// Threads and lifetime: every member on the link's loop. Callbacks and hooks run on that loop
// and may send commands; they must not destroy the link. A reply's value views are valid only
// during its callback. When the connection drops, every callback in flight runs with nullptr
// (the reply will not come), hooks::down runs, and a reconnect is scheduled (backoff from
// 100 ms, doubling, up to settings::retry_max). stop() ends it all for good.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/base/unique_function.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/connector.hpp"
#include "switchyard/net/tls_client.hpp"
#include "switchyard/proto/resp/resp.hpp"

namespace sy::backplane {

/// A parsed redis:// or rediss:// URL: redis[s]://[[user]:password@]host:port[?insecure]
/// (/db is not supported). rediss:// is TLS: the server's certificate is verified against
/// backplane.tls_ca_file (or the system's trust store) for host, unless ?insecure.
struct redis_endpoint {
    net::address addr;
    std::string host;       // as written in the URL: the name TLS verifies (and SNI)
    std::string user;       // empty: AUTH with the password only (the default user)
    std::string password;   // empty: no AUTH
    std::string display;    // host:port, for logs and metrics (no credentials)
    bool tls = false;       // rediss://
    bool insecure = false;  // ?insecure: TLS without certificate verification
    /// rediss://: made at start-up from the URL and the backplane.tls_* settings.
    std::shared_ptr<const net::tls_client> tls_client;
};
/// Parses url; the error names the problem. The host must be numeric or "localhost" (resolved
/// here, at start-up, never on a loop).
result<redis_endpoint, std::string> parse_redis_url(std::string_view url);

struct link_settings {
    bool pubsub = false;
    millis connect_timeout{2000};
    millis retry_max{5000};
    std::size_t max_reply = 64 * 1024 * 1024;  // one reply larger than this closes the link
};

struct link_hooks {
    std::function<void()> up;    // connected and authenticated: commands may go
    std::function<void()> down;  // the connection (or an attempt) failed; a retry is scheduled
    std::function<void(const resp::value&)> push;  // pubsub mode: every reply
};

class redis_link {
  public:
    /// The reply, or nullptr when the connection dropped before it came.
    using reply_fn = unique_function<void(const resp::value*)>;

    redis_link(core::loop& l, redis_endpoint ep, link_settings s, link_hooks h);
    ~redis_link();
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    /// Connects now (and reconnects whenever the connection drops, until stop()).
    void start();
    void stop();
    bool up() const { return state_ == state::up; }
    /// Sends a command. False (and done is not called) when the link is not up.
    bool command(std::span<const std::string_view> args, reply_fn done = {});
    bool command(std::initializer_list<std::string_view> args, reply_fn done = {}) {
        return command(std::span<const std::string_view>(args.begin(), args.size()),
                       std::move(done));
    }
    std::uint64_t connects() const { return connects_; }
    std::size_t in_flight() const { return waiting_.size(); }

  private:
    class handler;
    friend class handler;
    enum class state : std::uint8_t { idle, connecting, authenticating, up, stopped };

    void connected(net::connection* c);
    void on_input(byte_buffer& in);
    void dispatch(const resp::value& v);
    void lost();
    void schedule_retry();

    core::loop& loop_;
    redis_endpoint ep_;
    link_settings settings_;
    link_hooks hooks_;
    net::connection_options conn_opts_;
    state state_ = state::idle;
    std::unique_ptr<net::connector> connector_;
    net::connection* conn_ = nullptr;
    handler* handler_ = nullptr;  // owned by conn_
    resp::parser parser_;
    std::deque<reply_fn> waiting_;
    net::backoff backoff_;
    core::timer_id retry_timer_{};
    std::uint64_t connects_ = 0;
};

}  // namespace sy::backplane
