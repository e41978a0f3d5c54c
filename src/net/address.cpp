#include "switchyard/net/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sy::net {

namespace {

bool parse_port(std::string_view s, std::uint16_t& out) {
    if (s.empty() || s.size() > 5) return false;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

result<address, address_error> address::parse(std::string_view hp) {
    std::string host;
    std::string_view port_part;
    bool v6 = false;
    if (!hp.empty() && hp.front() == '[') {
        auto close = hp.find(']');
        if (close == std::string_view::npos) return unexpected(address_error::bad_host);
        host = std::string(hp.substr(1, close - 1));
        if (close + 1 >= hp.size() || hp[close + 1] != ':')
            return unexpected(address_error::missing_port);
        port_part = hp.substr(close + 2);
        v6 = true;
    } else {
        auto colon = hp.rfind(':');
        if (colon == std::string_view::npos) return unexpected(address_error::missing_port);
        host = std::string(hp.substr(0, colon));
        port_part = hp.substr(colon + 1);
        if (host.find(':') != std::string::npos) return unexpected(address_error::bad_host);
    }
    std::uint16_t port;
    if (!parse_port(port_part, port)) return unexpected(address_error::bad_port);
    address a;
    if (v6) {
        sockaddr_in6 s6{};
        s6.sin6_family = AF_INET6;
        s6.sin6_port = htons(port);
        if (::inet_pton(AF_INET6, host.c_str(), &s6.sin6_addr) != 1)
            return unexpected(address_error::bad_host);
        std::memcpy(&a.ss_, &s6, sizeof s6);
        a.len_ = sizeof s6;
        return a;
    }
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    sockaddr_in s4{};
    s4.sin_family = AF_INET;
    s4.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &s4.sin_addr) != 1)
        return unexpected(address_error::bad_host);
    std::memcpy(&a.ss_, &s4, sizeof s4);
    a.len_ = sizeof s4;
    return a;
}

address address::from_sockaddr(const sockaddr* sa, socklen_t len) {
    address a;
    if (len > sizeof a.ss_) len = sizeof a.ss_;
    std::memcpy(&a.ss_, sa, len);
    a.len_ = len;
    return a;
}

address address::ipv4_loopback(std::uint16_t port) {
    return *parse("127.0.0.1:" + std::to_string(port));
}

std::uint16_t address::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
    return 0;
}

void address::set_port(std::uint16_t p) {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&ss_)->sin_port = htons(p);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ss_)->sin6_port = htons(p);
}

bool address::is_loopback() const {
    if (family() == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss_);
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (family() == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss_);
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
    }
    return family() == AF_UNIX;
}

std::string address::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, buf,
                    sizeof buf);
        return std::string(buf) + ":" + std::to_string(port());
    }
    if (family() == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, buf,
                    sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(port());
    }
    if (family() == AF_UNIX) return "unix";
    return "?";
}

bool operator==(const address& a, const address& b) {
    return a.len_ == b.len_ && std::memcmp(&a.ss_, &b.ss_, a.len_) == 0;
}

}  // namespace sy::net
