// TURN allocations, permissions, channels and relaying (RFC 8656), one loop's share.
#include "switchyard/session/turn_server.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

#include "switchyard/base/clock.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/net/udp_socket.hpp"
#include "switchyard/session/stun_server.hpp"

namespace sy::session {
namespace {

constexpr std::string_view k_software = "switchyard";
constexpr std::int64_t k_permission_ms = 300'000;  // RFC 8656 9: 300 s
constexpr std::int64_t k_channel_ms = 600'000;     // RFC 8656 12: 10 min
constexpr std::int64_t k_nonce_ms = 3'600'000;     // a nonce is good for an hour
constexpr std::uint32_t k_default_lifetime = 600;  // RFC 8656 7.2
constexpr std::uint8_t k_udp = 17;                 // REQUESTED-TRANSPORT: UDP

bool same_ip(const stun::address& a, const stun::address& b) {
    return a.family == b.family && std::memcmp(a.ip.data(), b.ip.data(), a.ip_size()) == 0;
}

stun::builder reply_to(const stun::message& m, stun::klass c) {
    return stun::builder(m.method(), c, m.transaction_id_bytes());
}

void append(std::vector<std::uint8_t>& out, byte_view b) {
    out.insert(out.end(), b.begin(), b.end());
}

/// An error answer without integrity (the client's credentials are not established).
void error_reply(const stun::message& m, int code, std::vector<std::uint8_t>& out) {
    auto b = reply_to(m, stun::klass::error);
    b.add_error(code).add_text(stun::attr::software, k_software).add_fingerprint();
    append(out, b.bytes());
}

std::string hex(byte_view b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (std::uint8_t c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

}  // namespace

// ---- cidr, restricted peers ----

bool cidr::parse(std::string_view text, cidr& out) {
    const auto slash = text.find('/');
    const std::string ip(text.substr(0, slash));
    const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]:0" : ip + ":0";
    auto a = net::address::parse(host);
    if (!a) return false;
    out.base = to_stun_address(*a);
    const unsigned max = out.base.family == 6 ? 128 : 32;
    out.bits = max;
    if (slash != std::string_view::npos) {
        const auto b = text.substr(slash + 1);
        unsigned v = 0;
        auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), v);
        if (ec != std::errc{} || p != b.data() + b.size() || v > max) return false;
        out.bits = v;
    }
    return true;
}

bool cidr::contains(const stun::address& a) const {
    if (a.family != base.family) return false;
    for (unsigned i = 0; i < bits; ++i) {
        const unsigned byte = i / 8, bit = 7 - i % 8;
        if (((a.ip[byte] >> bit) & 1) != ((base.ip[byte] >> bit) & 1)) return false;
    }
    return true;
}

bool is_restricted_peer(const stun::address& a) {
    const auto& ip = a.ip;
    if (a.family == 6) {
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(ip.data(), mapped, 12) == 0) {
            stun::address v4;
            std::memcpy(v4.ip.data(), ip.data() + 12, 4);
            return is_restricted_peer(v4);
        }
        bool zero_prefix = true;  // :: and ::1
        for (int i = 0; i < 15; ++i) zero_prefix = zero_prefix && ip[i] == 0;
        if (zero_prefix && ip[15] <= 1) return true;
        if ((ip[0] & 0xfe) == 0xfc) return true;                   // fc00::/7 ULA
        if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) return true;  // fe80::/10
        return ip[0] == 0xff;                                      // multicast
    }
    return ip[0] == 0 || ip[0] == 10 || ip[0] == 127 || (ip[0] == 169 && ip[1] == 254) ||
           (ip[0] == 172 && (ip[1] & 0xf0) == 16) || (ip[0] == 192 && ip[1] == 168) ||
           (ip[0] == 100 && (ip[1] & 0xc0) == 64) || ip[0] >= 224;
}

// ---- quota ----

bool turn_quota::acquire(const std::string& user, std::uint64_t per_user, std::uint64_t total) {
    std::lock_guard lk(mu_);
    auto& n = by_user_[user];
    if (total_ >= total || n >= per_user) {
        if (n == 0) by_user_.erase(user);
        return false;
    }
    ++n;
    ++total_;
    return true;
}

void turn_quota::release(const std::string& user) {
    std::lock_guard lk(mu_);
    auto it = by_user_.find(user);
    if (it == by_user_.end()) return;
    if (--it->second == 0) by_user_.erase(it);
    --total_;
}

std::uint64_t turn_quota::in_use() const {
    std::lock_guard lk(mu_);
    return total_;
}

std::size_t client_key_hash::operator()(const client_key& k) const {
    std::size_t h = std::hash<std::uint64_t>{}(k.serial) ^ (std::size_t(k.addr.port) << 16);
    for (std::size_t i = 0; i < k.addr.ip_size(); ++i) h = h * 131 + k.addr.ip[i];
    return h;
}

// ---- allocations ----

struct turn_server::allocation {
    struct permission {
        stun::address ip;
        std::int64_t expires_ms;
    };
    struct channel {
        std::uint16_t number;
        stun::address peer;
        std::int64_t expires_ms;
    };
    client_key key;
    turn_link* link = nullptr;
    std::string user;      // the quota's name (REST: the part after "expiry:")
    std::string username;  // as the client sends it (USERNAME)
    std::array<std::uint8_t, 16> hmac_key{};
    bool sha256 = false;  // the client used MESSAGE-INTEGRITY-SHA256: answer the same way
    std::unique_ptr<net::udp_socket> relay;
    stun::address relayed, client;
    std::int64_t expires_ms = 0;
    stun::transaction_id allocate_id{};  // a retransmitted Allocate gets the same success
    std::vector<std::uint8_t> allocate_reply;
    std::vector<permission> permissions;
    std::vector<channel> channels;

    bool permitted(const stun::address& peer, std::int64_t now) const {
        return std::any_of(permissions.begin(), permissions.end(), [&](const permission& p) {
            return p.expires_ms > now && same_ip(p.ip, peer);
        });
    }
    void permit(const stun::address& peer, std::int64_t now) {
        for (auto& p : permissions) {
            if (same_ip(p.ip, peer)) {
                p.expires_ms = now + k_permission_ms;
                return;
            }
        }
        permissions.push_back({peer, now + k_permission_ms});
    }
    /// Integrity and FINGERPRINT on a response to this allocation's client.
    void seal(stun::builder& b) const {
        b.add_text(stun::attr::software, k_software);
        if (sha256) {
            b.add_integrity_sha256(hmac_key);
        } else {
            b.add_integrity(hmac_key);
        }
        b.add_fingerprint();
    }
};

struct turn_server::auth_result {
    bool ok = false;
    std::string user, username;
    std::array<std::uint8_t, 16> key{};
    bool sha256 = false;
};

turn_server::turn_server(core::loop& l, const turn_settings& s, turn_quota& q, turn_counters& c)
    : loop_(l), settings_(s), quota_(q), counters_(c) {
    RAND_bytes(nonce_key_.data(), static_cast<int>(nonce_key_.size()));
}

turn_server::~turn_server() {
    for (auto& [k, a] : allocs_) quota_.release(a->user);
    if (sweep_armed_) loop_.cancel_timer(sweep_timer_);
}

std::string turn_server::nonce() {
    // Stateless: the expiry time and an HMAC of it under this server's random key.
    const std::string t = std::to_string(now_ms() + k_nonce_ms);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    HMAC(EVP_sha256(), nonce_key_.data(), static_cast<int>(nonce_key_.size()),
         reinterpret_cast<const unsigned char*>(t.data()), t.size(), mac, &n);
    return t + "-" + hex(byte_view{mac, 8});
}

bool turn_server::nonce_valid(std::string_view nv) const {
    const auto dash = nv.find('-');
    if (dash == std::string_view::npos) return false;
    const auto t = nv.substr(0, dash);
    std::int64_t expires = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), expires);
    if (ec != std::errc{} || p != t.data() + t.size() || expires < now_ms()) return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    HMAC(EVP_sha256(), nonce_key_.data(), static_cast<int>(nonce_key_.size()),
         reinterpret_cast<const unsigned char*>(t.data()), t.size(), mac, &n);
    return nv.substr(dash + 1) == hex(byte_view{mac, 8});
}

turn_server::auth_result turn_server::authenticate(const stun::message& m,
                                                   std::vector<std::uint8_t>& out) {
    auth_result r;
    auto challenge = [&](int code) {
        auto b = reply_to(m, stun::klass::error);
        b.add_error(code).add_text(stun::attr::realm, settings_.realm);
        b.add_text(stun::attr::nonce, nonce()).add_text(stun::attr::software, k_software);
        b.add_fingerprint();
        append(out, b.bytes());
    };
    const bool has_mi = m.has(stun::attr::message_integrity);
    const bool has_mi256 = m.has(stun::attr::message_integrity_sha256);
    if (!has_mi && !has_mi256) {
        counters_.auth_challenges.add();
        challenge(stun::code::unauthorized);  // RFC 8489 9.2.4: the first round trip
        return r;
    }
    const auto username = m.text(stun::attr::username);
    const auto realm = m.text(stun::attr::realm);
    const auto nv = m.text(stun::attr::nonce);
    if (username.empty() || realm.empty() || nv.empty()) {
        counters_.auth_failures.add();
        error_reply(m, stun::code::bad_request, out);
        return r;
    }
    if (!nonce_valid(nv) || realm != settings_.realm) {
        counters_.auth_failures.add();
        challenge(stun::code::stale_nonce);
        return r;
    }
    std::string password;
    std::string user(username);
    bool found = false;
    for (const auto& [name, pass] : settings_.users) {
        if (name == username) {
            password = pass;
            found = true;
            break;
        }
    }
    if (!found && !settings_.auth_secret.empty()) {
        // REST credentials (coturn's use-auth-secret): "expiry:name", expiry in Unix seconds.
        const auto colon = username.find(':');
        std::int64_t expiry = 0;
        const auto ts = username.substr(0, colon);
        auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), expiry);
        if (ec == std::errc{} && p == ts.data() + ts.size() && expiry > std::time(nullptr)) {
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned n = 0;
            HMAC(EVP_sha1(), settings_.auth_secret.data(),
                 static_cast<int>(settings_.auth_secret.size()),
                 reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &n);
            password = base64_encode(std::string_view(reinterpret_cast<const char*>(mac), n));
            user = colon == std::string_view::npos ? std::string(username)
                                                   : std::string(username.substr(colon + 1));
            found = true;
        }
    }
    r.key = stun::long_term_key(username, settings_.realm, password);
    r.sha256 = has_mi256;
    const bool good =
        found && (has_mi256 ? m.check_integrity_sha256(r.key) : m.check_integrity(r.key));
    if (!good) {
        counters_.auth_failures.add();
        challenge(stun::code::unauthorized);
        return r;
    }
    r.ok = true;
    r.user = std::move(user);
    r.username = std::string(username);
    return r;
}

std::uint32_t turn_server::lifetime_of(const stun::message& m) const {
    const auto max =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(settings_.max_lifetime_s, 86400));
    const std::uint32_t asked = m.u32(stun::attr::lifetime).value_or(k_default_lifetime);
    return std::min(std::max(asked, std::min(k_default_lifetime, max)), max);
}

bool turn_server::peer_allowed(const stun::address& a) const {
    if (!is_restricted_peer(a)) return true;
    return std::any_of(settings_.allowed_peers.begin(), settings_.allowed_peers.end(),
                       [&](const cidr& c) { return c.contains(a); });
}

void turn_server::handle(const stun::message& m, const client_key& key, const stun::address& client,
                         const net::address& local, turn_link& link,
                         std::vector<std::uint8_t>& out) {
    auto it = allocs_.find(key);
    allocation* a = it == allocs_.end() ? nullptr : it->second.get();
    if (m.is_indication()) {
        if (a && m.method() == stun::send_method) send_indication(*a, m);
        return;  // indications get no answer (RFC 8656 11.2)
    }
    if (m.method() == stun::allocate) return allocate(m, key, client, local, link, out);
    auto auth = authenticate(m, out);
    if (!auth.ok) return;
    if (a == nullptr) {
        error_reply(m, stun::code::allocation_mismatch, out);
        return;
    }
    if (auth.username != a->username) {
        counters_.auth_failures.add();
        error_reply(m, stun::code::wrong_credentials, out);
        return;
    }
    a->sha256 = auth.sha256;
    switch (m.method()) {
        case stun::refresh:
            return refresh(*a, m, out);
        case stun::create_permission:
            return permission(*a, m, out);
        case stun::channel_bind:
            return bind_channel(*a, m, out);
        default:
            error_reply(m, stun::code::bad_request, out);
    }
}

void turn_server::allocate(const stun::message& m, const client_key& key,
                           const stun::address& client, const net::address& local, turn_link& link,
                           std::vector<std::uint8_t>& out) {
    auto auth = authenticate(m, out);
    if (!auth.ok) return;
    if (auto it = allocs_.find(key); it != allocs_.end()) {
        // RFC 8656 7.2: a retransmission gets the same answer, anything else 437.
        if (it->second->allocate_id == m.transaction_id_bytes())
            return append(out, it->second->allocate_reply);
        return error_reply(m, stun::code::allocation_mismatch, out);
    }
    const auto* transport = m.find(stun::attr::requested_transport);
    if (transport == nullptr) return error_reply(m, stun::code::bad_request, out);
    if (transport->value.empty() || transport->value[0] != k_udp)
        return error_reply(m, stun::code::unsupported_transport, out);
    // Reservations (RFC 8656 7.2, the R bit and RESERVATION-TOKEN) are not kept: a token can
    // name none of ours. EVEN-PORT alone is honoured.
    if (m.has(stun::attr::reservation_token))
        return error_reply(m, stun::code::insufficient_capacity, out);
    const bool even = m.has(stun::attr::even_port);
    const stun::address local_s = to_stun_address(local);
    if (const auto* fam = m.find(stun::attr::requested_address_family)) {
        const std::uint8_t want = fam->value.empty() ? 0 : fam->value[0];
        if ((want == 0x01 ? 4 : want == 0x02 ? 6 : 0) != local_s.family)
            return error_reply(m, stun::code::address_family_not_supported, out);
    }
    if (!quota_.acquire(auth.user, settings_.quota_per_user, settings_.quota_total)) {
        counters_.quota_rejections.add();
        return error_reply(m, stun::code::allocation_quota_reached, out);
    }
    auto a = std::make_unique<allocation>();
    a->key = key;
    a->link = &link;
    a->user = auth.user;
    a->username = auth.username;
    a->hmac_key = auth.key;
    a->sha256 = auth.sha256;
    a->client = client;
    allocation* raw = a.get();
    // A relay port from turn.relay_ports: random tries, then give up (508).
    const unsigned span = unsigned(settings_.port_hi) - settings_.port_lo + 1;
    for (int tries = 0; tries < 64 && !a->relay; ++tries) {
        std::uint32_t r = 0;
        RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
        net::address at = local;
        auto port = static_cast<std::uint16_t>(settings_.port_lo + r % span);
        if (even && (port & 1) != 0) port = port > settings_.port_lo ? port - 1 : port + 1;
        if (port < settings_.port_lo || port > settings_.port_hi) continue;
        at.set_port(port);
        auto s =
            net::udp_socket::bind(loop_, at, net::udp_options{},
                                  [this, raw](net::udp_socket&, std::span<const net::datagram> ds) {
                                      for (const auto& d : ds) relay_in(*raw, d.data, *d.peer);
                                  });
        if (s) a->relay = std::move(*s);
    }
    if (!a->relay) {
        quota_.release(auth.user);
        return error_reply(m, stun::code::insufficient_capacity, out);
    }
    a->relayed = to_stun_address(a->relay->local_address());
    const std::uint32_t lifetime = lifetime_of(m);
    a->expires_ms = now_ms() + std::int64_t(lifetime) * 1000;
    a->allocate_id = m.transaction_id_bytes();
    auto b = reply_to(m, stun::klass::success);
    b.add_xor_address(stun::attr::xor_relayed_address, a->relayed)
        .add_xor_address(stun::attr::xor_mapped_address, client)
        .add_u32(stun::attr::lifetime, lifetime);
    a->seal(b);
    a->allocate_reply.assign(b.bytes().begin(), b.bytes().end());
    append(out, b.bytes());
    counters_.allocations.add();
    allocs_.emplace(key, std::move(a));
    if (!sweep_armed_) {
        sweep_armed_ = true;
        sweep_timer_ = loop_.add_timer(millis(1000), [this] { sweep(); });
    }
}

void turn_server::refresh(allocation& a, const stun::message& m, std::vector<std::uint8_t>& out) {
    counters_.refreshes.add();
    const std::uint32_t asked = m.u32(stun::attr::lifetime).value_or(k_default_lifetime);
    const std::uint32_t lifetime = asked == 0 ? 0 : lifetime_of(m);
    auto b = reply_to(m, stun::klass::success);
    b.add_u32(stun::attr::lifetime, lifetime);
    a.seal(b);
    append(out, b.bytes());
    if (lifetime == 0) {
        end(a.key);  // RFC 8656 8: LIFETIME 0 deletes the allocation
        return;
    }
    a.expires_ms = now_ms() + std::int64_t(lifetime) * 1000;
}

void turn_server::permission(allocation& a, const stun::message& m,
                             std::vector<std::uint8_t>& out) {
    // RFC 8656 10.2: every XOR-PEER-ADDRESS must be acceptable, or none is installed.
    std::vector<stun::address> peers;
    for (const auto& at : m.attributes()) {
        if (at.type != stun::attr::xor_peer_address) continue;
        auto p = m.xor_address(at);
        if (!p) return error_reply(m, stun::code::bad_request, out);
        peers.push_back(*p);
    }
    if (peers.empty()) return error_reply(m, stun::code::bad_request, out);
    for (const auto& p : peers) {
        if (p.family != a.relayed.family)
            return error_reply(m, stun::code::peer_address_family_mismatch, out);
        if (!peer_allowed(p)) {
            counters_.peer_denied.add();
            return error_reply(m, stun::code::forbidden, out);
        }
    }
    const auto now = now_ms();
    for (const auto& p : peers) a.permit(p, now);
    counters_.permissions.add();
    auto b = reply_to(m, stun::klass::success);
    a.seal(b);
    append(out, b.bytes());
}

void turn_server::bind_channel(allocation& a, const stun::message& m,
                               std::vector<std::uint8_t>& out) {
    const auto number = m.u32(stun::attr::channel_number);
    const auto peer = m.xor_address(stun::attr::xor_peer_address);
    // RFC 5766's range (coturn's clients pick numbers up to 0x7FFE); see server/webrtc.cpp.
    if (!number || !peer || !stun::is_channel_number(std::uint16_t(*number >> 16), true))
        return error_reply(m, stun::code::bad_request, out);
    const auto ch = std::uint16_t(*number >> 16);
    if (peer->family != a.relayed.family)
        return error_reply(m, stun::code::peer_address_family_mismatch, out);
    if (!peer_allowed(*peer)) {
        counters_.peer_denied.add();
        return error_reply(m, stun::code::forbidden, out);
    }
    const auto now = now_ms();
    allocation::channel* found = nullptr;
    for (auto& c : a.channels) {
        // RFC 8656 11.2: a number bound to another peer, or a peer bound to another number: 400.
        if ((c.number == ch) != (c.peer == *peer))
            return error_reply(m, stun::code::bad_request, out);
        if (c.number == ch) found = &c;
    }
    if (found) {
        found->expires_ms = now + k_channel_ms;
    } else {
        a.channels.push_back({ch, *peer, now + k_channel_ms});
    }
    a.permit(*peer, now);
    counters_.channel_binds.add();
    auto b = reply_to(m, stun::klass::success);
    a.seal(b);
    append(out, b.bytes());
}

void turn_server::send_indication(allocation& a, const stun::message& m) {
    const auto peer = m.xor_address(stun::attr::xor_peer_address);
    const auto* data = m.find(stun::attr::data);
    if (!peer || data == nullptr) return;
    if (!a.permitted(*peer, now_ms())) {
        counters_.dropped_no_permission.add();
        return;
    }
    counters_.to_peer_packets.add();
    counters_.to_peer_bytes.add(data->value.size());
    a.relay->send_to(data->value, to_net_address(*peer));
}

void turn_server::channel_data(const client_key& key, const stun::channel_data& cd) {
    auto it = allocs_.find(key);
    if (it == allocs_.end()) return;
    allocation& a = *it->second;
    const auto now = now_ms();
    for (const auto& c : a.channels) {
        if (c.number != cd.channel || c.expires_ms <= now) continue;
        counters_.to_peer_packets.add();
        counters_.to_peer_bytes.add(cd.data.size());
        a.relay->send_to(cd.data, to_net_address(c.peer));
        return;
    }
}

void turn_server::relay_in(allocation& a, byte_view data, const net::address& from) {
    if (a.link == nullptr) return;  // ended: freed after this batch
    const stun::address peer = to_stun_address(from);
    const auto now = now_ms();
    if (!a.permitted(peer, now)) {
        counters_.dropped_no_permission.add();
        return;
    }
    counters_.from_peer_packets.add();
    counters_.from_peer_bytes.add(data.size());
    for (const auto& c : a.channels) {
        if (c.peer == peer && c.expires_ms > now) {
            frame_.clear();  // reused: no allocation per relayed packet
            stun::append_channel_data(frame_, c.number, data, a.link->is_stream());
            a.link->send_to_client(frame_);
            return;
        }
    }
    stun::transaction_id id{};
    RAND_bytes(id.data(), static_cast<int>(id.size()));
    stun::builder b(stun::data_method, stun::klass::indication, id);
    b.add_xor_address(stun::attr::xor_peer_address, peer).add(stun::attr::data, data);
    a.link->send_to_client(b.bytes());
}

void turn_server::end(const client_key& which) {
    const client_key key = which;  // `which` may live in the allocation freed below
    auto it = allocs_.find(key);
    if (it == allocs_.end()) return;
    quota_.release(it->second->user);
    counters_.allocations_ended.add();
    it->second->link = nullptr;  // the client's transport may be gone before the free
    // The relay socket may be inside its own receive callback: free after the batch.
    loop_.destroy_later(std::move(it->second));
    allocs_.erase(it);
    if (on_end_) on_end_(key);
}

void turn_server::client_gone(const client_key& key) {
    end(key);
}

void turn_server::sweep() {
    sweep_armed_ = false;
    const auto now = now_ms();
    std::vector<client_key> expired;
    for (auto& [k, a] : allocs_) {
        if (a->expires_ms <= now) {
            expired.push_back(k);
            continue;
        }
        std::erase_if(a->permissions, [now](const auto& p) { return p.expires_ms <= now; });
        std::erase_if(a->channels, [now](const auto& c) { return c.expires_ms <= now; });
    }
    for (const auto& k : expired) end(k);
    if (!allocs_.empty()) {
        sweep_armed_ = true;
        sweep_timer_ = loop_.add_timer(millis(1000), [this] { sweep(); });
    }
}

}  // namespace sy::session
