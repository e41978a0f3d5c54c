// address: an IPv4 or IPv6 socket address, parsed from "HOST:PORT".
//
// Accepted forms: "127.0.0.1:8080", "0.0.0.0:0", "[::1]:8080", "[::]:443", ":8080" and "*:8080"
// (any IPv4 address), "localhost:8080" (127.0.0.1). Hostnames other than localhost are not
// resolved here (no blocking DNS in this layer). Port 0 asks the kernel for a free port; read the
// real one back with listener::local_address().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/base/result.hpp"

namespace sy::net {

enum class address_error { missing_port, bad_port, bad_host };

class address {
  public:
    address() = default;
    static result<address, address_error> parse(std::string_view host_port);
    static address from_sockaddr(const sockaddr* sa, socklen_t len);
    static address ipv4_loopback(std::uint16_t port);

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss_); }
    sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss_); }
    socklen_t len() const { return len_; }
    socklen_t* len_ptr() { return &len_; }  ///< for accept4/getsockname/recvmsg
    static constexpr socklen_t capacity() { return sizeof(sockaddr_storage); }
    int family() const { return ss_.ss_family; }
    bool is_v6() const { return family() == AF_INET6; }
    std::uint16_t port() const;
    void set_port(std::uint16_t p);
    /// "127.0.0.1:8080" / "[::1]:8080".
    std::string to_string() const;
    /// 127.0.0.0/8, ::1, an IPv4-mapped 127.x address, or a Unix socket: the one "from this
    /// host" rule (AMQP's and the management API's guest user).
    bool is_loopback() const;

    friend bool operator==(const address& a, const address& b);

  private:
    sockaddr_storage ss_{};
    socklen_t len_ = 0;
};

}  // namespace sy::net
