// turn_server: TURN relays (RFC 8656) for one loop: allocations with long-term credentials
// (RFC 8489 9.2: REALM, NONCE, MESSAGE-INTEGRITY or -SHA256) or coturn's REST credentials
// (username "expiry:name", password base64(HMAC-SHA1(secret, username))), Refresh and lifetime
// expiry, CreatePermission, ChannelBind, Send/Data indications and ChannelData, relayed UDP
// ports from a range, quotas per user and in total, and peers refused when private or loopback
// unless turn.allowed_peers names them.
//
// The client side is whatever carried the request (a TCP connection now, the runtime's UDP
// endpoint when it exists): a turn_link the caller owns, named by a client_key. The relay side is
// one net::udp_socket per allocation on this loop.
//
// Threads: one per loop (a slot of stun_service), used on that loop only; the quota is shared
// by every loop (turn_quota: a mutex taken per allocation and per release, never per packet).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/core/counter.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/proto/stun/message.hpp"

namespace sy::session {

/// An address block (turn.allowed_peers: "127.0.0.0/8", "::1/128", a bare address = /32, /128).
struct cidr {
    stun::address base;
    unsigned bits = 0;
    static bool parse(std::string_view text, cidr& out);
    bool contains(const stun::address& a) const;
};
/// Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast, broadcast: the
/// addresses a relay must not reach unless allowed (coturn's denied-peer-ip defaults).
bool is_restricted_peer(const stun::address& a);

struct turn_settings {
    std::string realm = "switchyard";
    std::vector<std::pair<std::string, std::string>> users;  // name, password
    std::string auth_secret;
    std::uint16_t port_lo = 49152, port_hi = 65535;
    std::vector<cidr> allowed_peers;
    std::uint64_t quota_per_user = 10;
    std::uint64_t quota_total = 1000;
    std::uint64_t max_lifetime_s = 3600;
};

/// Allocations in use, per user and in total, over every loop.
class turn_quota {
  public:
    /// false when `user` holds per_user already or the total is reached.
    bool acquire(const std::string& user, std::uint64_t per_user, std::uint64_t total);
    void release(const std::string& user);
    std::uint64_t in_use() const;

  private:
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::uint64_t> by_user_;
    std::uint64_t total_ = 0;
};

/// Per-loop TURN figures (sy_turn_* in /metrics). The owning loop writes, anyone reads.
struct turn_counters {
    core::counter allocations;        ///< allocations made
    core::counter allocations_ended;  ///< freed (expired, refreshed to 0, client gone)
    core::counter auth_challenges;    ///< 401 without credentials (the first round trip)
    core::counter auth_failures;      ///< 401/441 with wrong credentials, 438 stale nonce
    core::counter quota_rejections;   ///< 486
    core::counter peer_denied;        ///< 403 or dropped: restricted peer address
    core::counter permissions, channel_binds, refreshes;
    core::counter to_peer_packets, to_peer_bytes;      ///< relayed client -> peer
    core::counter from_peer_packets, from_peer_bytes;  ///< relayed peer -> client
    core::counter dropped_no_permission;               ///< peer datagrams without a permission
};

/// Where replies and relayed data for a client go (a TCP connection, a UDP 5-tuple).
class turn_link {
  public:
    virtual void send_to_client(byte_view bytes) = 0;
    /// Stream transports pad ChannelData to 4 bytes (RFC 8656 12.5).
    virtual bool is_stream() const = 0;

  protected:
    ~turn_link() = default;
};

/// A client of the relay: a stream connection's serial, or a datagram sender's address.
struct client_key {
    std::uint64_t serial = 0;  // TCP: the connection's; 0 for UDP
    stun::address addr;        // UDP: the client's address
    bool operator==(const client_key&) const = default;
};
struct client_key_hash {
    std::size_t operator()(const client_key& k) const;
};

class turn_server {
  public:
    turn_server(core::loop& l, const turn_settings& s, turn_quota& q, turn_counters& c);
    ~turn_server();
    turn_server(const turn_server&) = delete;
    turn_server& operator=(const turn_server&) = delete;

    /// A TURN request or indication (Allocate, Refresh, CreatePermission, ChannelBind, Send)
    /// from `client`, which reached us at `local`. A reply, if any, is appended to `out`.
    void handle(const stun::message& m, const client_key& key, const stun::address& client,
                const net::address& local, turn_link& link, std::vector<std::uint8_t>& out);
    /// ChannelData from the client: relayed to the channel's peer.
    void channel_data(const client_key& key, const stun::channel_data& cd);
    /// The client's transport is gone (TCP close): its allocation ends.
    void client_gone(const client_key& key);

    std::size_t allocations() const { return allocs_.size(); }
    /// Called (on this loop) when an allocation ends, with its key: a datagram transport frees
    /// the turn_link it made for the client (deferred past the current call).
    void on_end(std::function<void(const client_key&)> fn) { on_end_ = std::move(fn); }
    /// True when `key` holds an allocation.
    bool has(const client_key& key) const { return allocs_.count(key) != 0; }

  private:
    struct allocation;
    struct auth_result;
    auth_result authenticate(const stun::message& m, std::vector<std::uint8_t>& out);
    void allocate(const stun::message& m, const client_key& key, const stun::address& client,
                  const net::address& local, turn_link& link, std::vector<std::uint8_t>& out);
    void refresh(allocation& a, const stun::message& m, std::vector<std::uint8_t>& out);
    void permission(allocation& a, const stun::message& m, std::vector<std::uint8_t>& out);
    void bind_channel(allocation& a, const stun::message& m, std::vector<std::uint8_t>& out);
    void send_indication(allocation& a, const stun::message& m);
    void relay_in(allocation& a, byte_view data, const net::address& from);
    bool peer_allowed(const stun::address& a) const;
    std::uint32_t lifetime_of(const stun::message& m) const;
    void end(const client_key& key);
    void sweep();
    std::string nonce();
    bool nonce_valid(std::string_view n) const;

    core::loop& loop_;
    const turn_settings& settings_;
    turn_quota& quota_;
    turn_counters& counters_;
    std::unordered_map<client_key, std::unique_ptr<allocation>, client_key_hash> allocs_;
    std::array<std::uint8_t, 32> nonce_key_{};
    std::vector<std::uint8_t> frame_;  // the ChannelData relay_in() sends, reused
    std::function<void(const client_key&)> on_end_;
    core::timer_id sweep_timer_{};
    bool sweep_armed_ = false;
};

}  // namespace sy::session
