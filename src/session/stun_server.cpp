// STUN binding service (RFC 8489 6.3, RFC 3489 for classic clients), transport-independent.
#include "switchyard/session/stun_server.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sy::session {
namespace {

constexpr std::string_view k_software = "switchyard";

/// A reply to `m` of class `c`: RFC 3489 requests get their 16-byte id echoed, others the
/// cookie and their 12-byte id.
stun::builder reply_to(const stun::message& m, stun::klass c) {
    if (m.classic()) return stun::builder(m.method(), c, m.full_transaction_id());
    return stun::builder(m.method(), c, m.transaction_id_bytes());
}

void append(std::vector<std::uint8_t>& out, byte_view b) {
    out.insert(out.end(), b.begin(), b.end());
}

}  // namespace

stun::address to_stun_address(const net::address& a) {
    stun::address s;
    if (a.is_v6()) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.sa());
        s.family = 6;
        std::memcpy(s.ip.data(), &in6->sin6_addr, 16);
    } else {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(a.sa());
        s.family = 4;
        std::memcpy(s.ip.data(), &in4->sin_addr, 4);
    }
    s.port = a.port();
    return s;
}

net::address to_net_address(const stun::address& s) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (s.family == 6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(s.port);
        std::memcpy(&in6->sin6_addr, s.ip.data(), 16);
        len = sizeof(sockaddr_in6);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(s.port);
        std::memcpy(&in4->sin_addr, s.ip.data(), 4);
        len = sizeof(sockaddr_in);
    }
    return net::address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
}

stun_server::verdict stun_server::handle(byte_view in, const stun_origin& o,
                                         std::vector<std::uint8_t>& out) {
    stun::message m;
    if (stun::parse(in, m) != stun::parse_error::none) {
        counters_.malformed.add();
        return verdict::malformed;
    }
    const bool to_turn = turn_ != nullptr && o.link != nullptr && o.local != nullptr &&
                         !m.classic() && m.method() != stun::binding;
    if (m.is_indication() && to_turn) {
        turn_->handle(m, o.key, o.from, *o.local, *o.link, out);  // Send: relayed, no reply
        return verdict::ignored;
    }
    if (!m.is_request()) {
        counters_.not_requests.add();
        return verdict::ignored;
    }
    counters_.requests.add();
    // RFC 8489 6.3.1.1: unknown comprehension-required attributes in a request -> 420.
    auto unknown = m.unknown_required();
    // RFC 5780 7.2: a server that cannot answer from another address or port treats a
    // CHANGE-REQUEST asking for one as unknown.
    if (auto change = m.u32(stun::attr::change_request); change && (*change & 0x6) != 0)
        unknown.push_back(stun::attr::change_request);
    if (!unknown.empty()) {
        counters_.unknown_attr.add();
        auto b = reply_to(m, stun::klass::error);
        b.add_error(stun::code::unknown_attribute).add_unknown(unknown);
        if (!m.classic()) b.add_text(stun::attr::software, k_software).add_fingerprint();
        append(out, b.bytes());
        return verdict::answered;
    }
    if (m.method() == stun::binding) return answer_binding(m, o.from, out);
    if (to_turn) {
        turn_->handle(m, o.key, o.from, *o.local, *o.link, out);
        return out.empty() ? verdict::ignored : verdict::answered;
    }
    counters_.bad_requests.add();
    auto b = reply_to(m, stun::klass::error);
    b.add_error(stun::code::bad_request, "Unsupported Method");
    if (!m.classic()) b.add_fingerprint();
    append(out, b.bytes());
    return verdict::answered;
}

stun_server::verdict stun_server::answer_binding(const stun::message& m, const stun::address& from,
                                                 std::vector<std::uint8_t>& out) {
    counters_.binding.add();
    auto b = reply_to(m, stun::klass::success);
    if (m.classic()) {
        // RFC 3489 11.2.1: MAPPED-ADDRESS in the clear, nothing newer (its 0x8022 is SERVER,
        // whose length must be a multiple of 4; FINGERPRINT came later).
        counters_.classic.add();
        b.add_plain_address(stun::attr::mapped_address, from);
    } else {
        b.add_xor_address(stun::attr::xor_mapped_address, from);
        b.add_text(stun::attr::software, k_software).add_fingerprint();
    }
    append(out, b.bytes());
    return verdict::answered;
}

}  // namespace sy::session
