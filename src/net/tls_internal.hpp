// Internals shared by tls_context.cpp and tls_stream.cpp (not a public header).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/net/tls.hpp"

namespace sy::net {

/// Ticket key material for one rotation slot, derived from the master secret.
struct ticket_key {
    std::int64_t slot = -1;
    std::array<unsigned char, 16> name{};  // 8-byte big-endian slot + 8-byte HMAC tag
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> mac{};
};

/// Stateless ticket keys: key(slot) = HMAC-SHA256(master, label || slot). Immutable after
/// construction, so any thread derives the same keys without a lock.
class ticket_keys {
  public:
    explicit ticket_keys(std::chrono::seconds rotation);
    std::int64_t current_slot() const;
    /// Derives (with a per-thread cache of the last two slots).
    const ticket_key& key(std::int64_t slot) const;
    /// The slot a ticket key name claims, or -1 if the name was not made by us.
    std::int64_t slot_of(const unsigned char name[16]) const;

  private:
    void derive(std::int64_t slot, ticket_key& k) const;
    std::array<unsigned char, 32> master_{};
    std::int64_t rotation_s_;
};

/// The SSL_CTXs of one load of the certificate files: the default one and one per SNI name.
class tls_context_set {
  public:
    tls_context_set() = default;
    tls_context_set(const tls_context_set&) = delete;
    tls_context_set& operator=(const tls_context_set&) = delete;
    ~tls_context_set();

    SSL_CTX* default_ctx() const { return default_; }
    /// Exact name, then "*.parent" wildcard; nullptr when no SNI certificate matches.
    SSL_CTX* find(std::string_view host) const;

    SSL_CTX* default_ = nullptr;
    std::vector<std::pair<std::string, SSL_CTX*>> by_name;  // lower-case names
    std::string alpn_wire;              // ALPN list in wire format (length-prefixed ids)
    const ticket_keys* keys = nullptr;  // owned by the tls_server, outlives every set
};

}  // namespace sy::net
