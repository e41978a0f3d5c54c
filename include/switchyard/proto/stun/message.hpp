// STUN (RFC 8489) and TURN (RFC 8656) messages, sans-IO.
//
//   sy::stun::message m;
//   if (sy::stun::parse(datagram, m) == sy::stun::parse_error::none && m.is_request()) {
//       sy::stun::builder b(sy::stun::binding, sy::stun::klass::success, m.transaction_id());
//       b.add_xor_address(sy::stun::attr::xor_mapped_address, peer);
//       b.add_fingerprint();
//       send(b.bytes());
//   }
//
// Contract: a parsed `message` holds views into the caller's bytes (the attribute values and
// the whole message); they are valid while those bytes are. The builder owns its buffer. No
// socket, loop or timer here; FINGERPRINT is zlib's crc32, MESSAGE-INTEGRITY OpenSSL's HMAC.
// Not thread-safe per object; the free functions are pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "switchyard/base/bytes.hpp"

namespace sy::stun {

inline constexpr std::uint32_t magic_cookie = 0x2112A442;  // RFC 8489 6
inline constexpr std::size_t header_size = 20;
inline constexpr std::size_t max_attributes = 40;  // more than any real client sends

/// Methods (RFC 8489 18.2, RFC 8656 18).
enum method : std::uint16_t {
    binding = 0x001,
    allocate = 0x003,
    refresh = 0x004,
    send_method = 0x006,
    data_method = 0x007,
    create_permission = 0x008,
    channel_bind = 0x009,
};

/// Message classes (RFC 8489 5: the C1 C0 bits).
enum class klass : std::uint8_t { request = 0, indication = 1, success = 2, error = 3 };

/// Attribute types (RFC 8489 18.3, RFC 8656 18, RFC 5780 7, RFC 8445 16.1, RFC 3489 11.2).
/// Types below 0x8000 are comprehension-required.
namespace attr {
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t response_address = 0x0002;  // RFC 3489
inline constexpr std::uint16_t change_request = 0x0003;    // RFC 5780
inline constexpr std::uint16_t source_address = 0x0004;    // RFC 3489
inline constexpr std::uint16_t changed_address = 0x0005;   // RFC 3489
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t channel_number = 0x000C;
inline constexpr std::uint16_t lifetime = 0x000D;
inline constexpr std::uint16_t xor_peer_address = 0x0012;
inline constexpr std::uint16_t data = 0x0013;
inline constexpr std::uint16_t realm = 0x0014;
inline constexpr std::uint16_t nonce = 0x0015;
inline constexpr std::uint16_t xor_relayed_address = 0x0016;
inline constexpr std::uint16_t requested_address_family = 0x0017;
inline constexpr std::uint16_t even_port = 0x0018;
inline constexpr std::uint16_t requested_transport = 0x0019;
inline constexpr std::uint16_t dont_fragment = 0x001A;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;
inline constexpr std::uint16_t password_algorithm = 0x001D;
inline constexpr std::uint16_t userhash = 0x001E;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t reservation_token = 0x0022;
inline constexpr std::uint16_t priority = 0x0024;
inline constexpr std::uint16_t use_candidate = 0x0025;
inline constexpr std::uint16_t padding = 0x0026;
inline constexpr std::uint16_t response_port = 0x0027;
inline constexpr std::uint16_t additional_address_family = 0x8000;
inline constexpr std::uint16_t address_error_code = 0x8001;
inline constexpr std::uint16_t password_algorithms = 0x8002;
inline constexpr std::uint16_t alternate_domain = 0x8003;
inline constexpr std::uint16_t icmp = 0x8004;
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t alternate_server = 0x8023;
inline constexpr std::uint16_t fingerprint = 0x8028;
inline constexpr std::uint16_t ice_controlled = 0x8029;
inline constexpr std::uint16_t ice_controlling = 0x802A;
inline constexpr std::uint16_t response_origin = 0x802B;
inline constexpr std::uint16_t other_address = 0x802C;
}  // namespace attr

/// True for every attribute type this codec knows (and so a server may claim to understand).
bool is_known_attribute(std::uint16_t type);
inline bool is_comprehension_required(std::uint16_t type) {
    return type < 0x8000;
}

/// Error codes (RFC 8489 14.8, RFC 8656 18.4).
namespace code {
inline constexpr int try_alternate = 300;
inline constexpr int bad_request = 400;
inline constexpr int unauthorized = 401;
inline constexpr int forbidden = 403;
inline constexpr int unknown_attribute = 420;
inline constexpr int allocation_mismatch = 437;
inline constexpr int stale_nonce = 438;
inline constexpr int address_family_not_supported = 440;
inline constexpr int wrong_credentials = 441;
inline constexpr int unsupported_transport = 442;
inline constexpr int peer_address_family_mismatch = 443;
inline constexpr int allocation_quota_reached = 486;
inline constexpr int server_error = 500;
inline constexpr int insufficient_capacity = 508;
}  // namespace code
/// The standard reason phrase of an error code ("Unknown Attribute" for 420).
std::string_view reason_phrase(int code);

/// A transport address as STUN carries it (no dependency on net/): family 4 or 6, the address
/// bytes in network order (4 or 16 used), the port in host order.
struct address {
    std::uint8_t family = 4;
    std::array<std::uint8_t, 16> ip{};
    std::uint16_t port = 0;
    bool operator==(const address&) const = default;
    std::size_t ip_size() const { return family == 6 ? 16 : 4; }
};

using transaction_id = std::array<std::uint8_t, 12>;

struct attribute {
    std::uint16_t type = 0;
    byte_view value;  // without padding
};

enum class parse_error : std::uint8_t {
    none,
    too_short,      // fewer than 20 bytes
    not_stun,       // the two leading bits are not zero
    bad_length,     // length not a multiple of 4, or not the datagram's size
    bad_attribute,  // an attribute runs past the end
    too_many_attributes,
    bad_fingerprint,  // FINGERPRINT present but not last, or its CRC is wrong
};
std::string_view to_string(parse_error e);

/// One parsed message. `classic` is an RFC 3489 message (no magic cookie): its transaction id
/// is the 16 bytes after the length, and it is answered with MAPPED-ADDRESS.
class message {
  public:
    std::uint16_t type() const { return type_; }
    std::uint16_t method() const;
    klass message_class() const;
    bool is_request() const { return message_class() == klass::request; }
    bool is_indication() const { return message_class() == klass::indication; }
    bool classic() const { return classic_; }
    /// The 12 bytes after the cookie (RFC 8489); for a classic message, bytes 8..19.
    transaction_id transaction_id_bytes() const;
    /// The 16 bytes after the length (cookie + id), echoed whole to RFC 3489 clients.
    byte_view full_transaction_id() const { return raw_.subspan(4, 16); }
    byte_view raw() const { return raw_; }

    std::span<const attribute> attributes() const { return {attrs_.data(), count_}; }
    /// The first attribute of `type` (RFC 8489 14: later duplicates are ignored).
    const attribute* find(std::uint16_t type) const;
    bool has(std::uint16_t type) const { return find(type) != nullptr; }

    /// Comprehension-required attributes the codec does not know, in order (at most 16).
    std::vector<std::uint16_t> unknown_required() const;

    /// MESSAGE-INTEGRITY (HMAC-SHA1) / MESSAGE-INTEGRITY-SHA256 checked with `key` over the
    /// bytes before the attribute, with the length field as RFC 8489 14.5 says. False when the
    /// attribute is absent. Attributes after it (other than FINGERPRINT) are ignored.
    bool check_integrity(byte_view key) const;
    bool check_integrity_sha256(byte_view key) const;

    /// XOR-*-ADDRESS / MAPPED-ADDRESS decoding; nullopt when absent or malformed.
    std::optional<address> xor_address(std::uint16_t type) const;
    std::optional<address> plain_address(std::uint16_t type) const;
    /// One XOR-*-ADDRESS attribute of this message (CreatePermission may carry several).
    std::optional<address> xor_address(const attribute& a) const;
    /// A 32-bit attribute (LIFETIME, PRIORITY); nullopt when absent or not 4 bytes.
    std::optional<std::uint32_t> u32(std::uint16_t type) const;
    /// The attribute's value as text (USERNAME, REALM, NONCE, SOFTWARE); empty when absent.
    std::string_view text(std::uint16_t type) const;
    /// ERROR-CODE: the number (class*100+number); nullopt when absent or malformed.
    std::optional<int> error_code() const;

  private:
    friend parse_error parse(byte_view in, message& out);
    byte_view raw_;
    std::uint16_t type_ = 0;
    bool classic_ = false;
    std::array<attribute, max_attributes> attrs_{};
    std::size_t count_ = 0;
    std::ptrdiff_t integrity_at_ = -1;  // offset of the MESSAGE-INTEGRITY attribute header
    std::ptrdiff_t integrity256_at_ = -1;
};

/// Parses one whole message (a datagram, or a frame from `stream_framer`). Checks the header,
/// every attribute's bounds and, when present, that FINGERPRINT is last and correct.
parse_error parse(byte_view in, message& out);

/// Quick test for the RFC 7983 demultiplexer and for framing: could these bytes be STUN?
bool looks_like_stun(byte_view in);

std::uint16_t make_type(std::uint16_t method, klass c);

/// The long-term credential key (RFC 8489 9.2.2): MD5(username ":" realm ":" password).
std::array<std::uint8_t, 16> long_term_key(std::string_view username, std::string_view realm,
                                           std::string_view password);

/// Builds one message. Attributes are appended in call order, padded to 4 bytes; the length
/// field is kept current, so add_integrity/add_fingerprint cover what came before them.
class builder {
  public:
    builder(std::uint16_t method, klass c, const transaction_id& id);
    /// An RFC 3489 answer: echoes the 16-byte id (cookie position included).
    builder(std::uint16_t method, klass c, byte_view full_id16);

    builder& add(std::uint16_t type, byte_view value);
    builder& add_text(std::uint16_t type, std::string_view value) {
        return add(type, as_bytes(value));
    }
    builder& add_u32(std::uint16_t type, std::uint32_t v);
    builder& add_xor_address(std::uint16_t type, const address& a);
    builder& add_plain_address(std::uint16_t type, const address& a);
    builder& add_error(int code, std::string_view reason = {});
    builder& add_unknown(std::span<const std::uint16_t> types);
    builder& add_integrity(byte_view key);
    builder& add_integrity_sha256(byte_view key);
    builder& add_fingerprint();

    byte_view bytes() const { return {buf_.data(), buf_.size()}; }
    std::vector<std::uint8_t> take() { return std::move(buf_); }

  private:
    void set_length(std::size_t body);
    std::vector<std::uint8_t> buf_;
};

/// ChannelData (RFC 8656 12.4): a 4-byte header (channel 0x4000..0x4FFF, length) and data.
struct channel_data {
    std::uint16_t channel = 0;
    byte_view data;
};
/// RFC 8656 12: 0x4000-0x4FFF, so that on UDP the first byte stays in RFC 7983's TURN range
/// (64-79; 80-127 is QUIC). `legacy`: RFC 5766's 0x4000-0x7FFE, which coturn's clients still
/// pick; accepted on streams, where nothing else shares the first byte.
inline bool is_channel_number(std::uint16_t n, bool legacy = false) {
    return n >= 0x4000 && n <= (legacy ? 0x7FFE : 0x4FFF);
}
/// Parses a ChannelData message (padding after the data is allowed and ignored).
std::optional<channel_data> parse_channel_data(byte_view in, bool legacy = false);
/// Appends a ChannelData message; `pad` rounds it to 4 bytes (required over TCP, 12.5).
void append_channel_data(std::vector<std::uint8_t>& out, std::uint16_t channel, byte_view data,
                         bool pad);

}  // namespace sy::stun
