// STUN/TURN message parsing and building (RFC 8489, RFC 8656, RFC 3489 for classic clients).
#include "switchyard/proto/stun/message.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace sy::stun {
namespace {

constexpr std::uint32_t fingerprint_xor = 0x5354554e;  // RFC 8489 14.7

std::uint16_t rd16(const std::uint8_t* p) {
    return std::uint16_t((p[0] << 8) | p[1]);
}
std::uint32_t rd32(const std::uint8_t* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           p[3];
}
void wr16(std::uint8_t* p, std::uint16_t v) {
    p[0] = std::uint8_t(v >> 8);
    p[1] = std::uint8_t(v);
}
void wr32(std::uint8_t* p, std::uint32_t v) {
    wr16(p, std::uint16_t(v >> 16));
    wr16(p + 2, std::uint16_t(v));
}
std::size_t pad4(std::size_t n) {
    return (n + 3) & ~std::size_t{3};
}

std::uint32_t crc_of(byte_view b) {
    return std::uint32_t(crc32(crc32(0L, Z_NULL, 0), b.data(), static_cast<uInt>(b.size())));
}

/// HMAC over the message up to `at` (an attribute header offset) with the length field set so
/// that the message ends after an attribute of `mac_len` bytes at `at` (RFC 8489 14.5, 14.6).
std::size_t integrity_mac(byte_view msg, std::size_t at, std::size_t mac_len, const EVP_MD* md,
                          byte_view key, std::uint8_t* out) {
    std::uint8_t head[header_size];
    std::memcpy(head, msg.data(), header_size);
    wr16(head + 2, static_cast<std::uint16_t>(at - header_size + 4 + mac_len));
    // The MAC algorithm is fetched once (thread-safe static init); a context per call.
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_end()};
    std::size_t len = 0;
    if (ctx == nullptr || EVP_MAC_init(ctx, key.data(), key.size(), params) != 1 ||
        EVP_MAC_update(ctx, head, header_size) != 1 ||
        EVP_MAC_update(ctx, msg.data() + header_size, at - header_size) != 1 ||
        EVP_MAC_final(ctx, out, &len, EVP_MAX_MD_SIZE) != 1)
        len = 0;
    EVP_MAC_CTX_free(ctx);
    return len;
}

bool check_mac(byte_view msg, std::ptrdiff_t at, std::size_t mac_len, const EVP_MD* md,
               byte_view key) {
    if (at < 0) return false;
    const auto off = static_cast<std::size_t>(at);
    if (rd16(msg.data() + off + 2) != mac_len) return false;
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    if (integrity_mac(msg, off, mac_len, md, key, mac) != mac_len) return false;
    return CRYPTO_memcmp(mac, msg.data() + off + 4, mac_len) == 0;
}

std::optional<address> decode_address(byte_view v, const std::uint8_t* mask, std::size_t mlen) {
    if (v.size() < 4) return std::nullopt;
    address a;
    const std::uint8_t fam = v[1];
    if (fam == 0x01 && v.size() == 8) {
        a.family = 4;
    } else if (fam == 0x02 && v.size() == 20) {
        a.family = 6;
    } else {
        return std::nullopt;
    }
    a.port = rd16(v.data() + 2);
    if (mask != nullptr) a.port ^= std::uint16_t(magic_cookie >> 16);
    for (std::size_t i = 0; i < a.ip_size(); ++i) {
        a.ip[i] = v[4 + i];
        if (mask != nullptr && i < mlen) a.ip[i] ^= mask[i];
    }
    return a;
}

}  // namespace

bool is_known_attribute(std::uint16_t t) {
    static constexpr std::uint16_t known[] = {attr::mapped_address,
                                              attr::response_address,
                                              attr::change_request,
                                              attr::source_address,
                                              attr::changed_address,
                                              attr::username,
                                              attr::message_integrity,
                                              attr::error_code,
                                              attr::unknown_attributes,
                                              attr::channel_number,
                                              attr::lifetime,
                                              attr::xor_peer_address,
                                              attr::data,
                                              attr::realm,
                                              attr::nonce,
                                              attr::xor_relayed_address,
                                              attr::requested_address_family,
                                              attr::even_port,
                                              attr::requested_transport,
                                              attr::dont_fragment,
                                              attr::message_integrity_sha256,
                                              attr::password_algorithm,
                                              attr::userhash,
                                              attr::xor_mapped_address,
                                              attr::reservation_token,
                                              attr::priority,
                                              attr::use_candidate,
                                              attr::padding,
                                              attr::response_port,
                                              attr::additional_address_family,
                                              attr::address_error_code,
                                              attr::password_algorithms,
                                              attr::alternate_domain,
                                              attr::icmp,
                                              attr::software,
                                              attr::alternate_server,
                                              attr::fingerprint,
                                              attr::ice_controlled,
                                              attr::ice_controlling,
                                              attr::response_origin,
                                              attr::other_address};
    return std::find(std::begin(known), std::end(known), t) != std::end(known);
}

std::string_view reason_phrase(int c) {
    switch (c) {
        case code::try_alternate:
            return "Try Alternate";
        case code::bad_request:
            return "Bad Request";
        case code::unauthorized:
            return "Unauthorized";
        case code::forbidden:
            return "Forbidden";
        case code::unknown_attribute:
            return "Unknown Attribute";
        case code::allocation_mismatch:
            return "Allocation Mismatch";
        case code::stale_nonce:
            return "Stale Nonce";
        case code::address_family_not_supported:
            return "Address Family not Supported";
        case code::wrong_credentials:
            return "Wrong Credentials";
        case code::unsupported_transport:
            return "Unsupported Transport Protocol";
        case code::peer_address_family_mismatch:
            return "Peer Address Family Mismatch";
        case code::allocation_quota_reached:
            return "Allocation Quota Reached";
        case code::server_error:
            return "Server Error";
        case code::insufficient_capacity:
            return "Insufficient Capacity";
        default:
            return "Error";
    }
}

std::string_view to_string(parse_error e) {
    switch (e) {
        case parse_error::none:
            return "none";
        case parse_error::too_short:
            return "too short";
        case parse_error::not_stun:
            return "not STUN";
        case parse_error::bad_length:
            return "bad length";
        case parse_error::bad_attribute:
            return "attribute past the end";
        case parse_error::too_many_attributes:
            return "too many attributes";
        case parse_error::bad_fingerprint:
            return "bad fingerprint";
    }
    return "?";
}

std::uint16_t make_type(std::uint16_t m, klass c) {
    // RFC 8489 5: M11..M7 C1 M6..M4 C0 M3..M0.
    const auto cb = static_cast<std::uint16_t>(c);
    return std::uint16_t(((m & 0x0F80) << 2) | ((m & 0x0070) << 1) | (m & 0x000F) |
                         ((cb & 2) << 7) | ((cb & 1) << 4));
}

std::uint16_t message::method() const {
    return std::uint16_t(((type_ & 0x3E00) >> 2) | ((type_ & 0x00E0) >> 1) | (type_ & 0x000F));
}
klass message::message_class() const {
    return static_cast<klass>(((type_ >> 7) & 2) | ((type_ >> 4) & 1));
}

transaction_id message::transaction_id_bytes() const {
    transaction_id id{};
    std::memcpy(id.data(), raw_.data() + 8, id.size());
    return id;
}

const attribute* message::find(std::uint16_t t) const {
    for (std::size_t i = 0; i < count_; ++i)
        if (attrs_[i].type == t) return &attrs_[i];
    return nullptr;
}

std::vector<std::uint16_t> message::unknown_required() const {
    std::vector<std::uint16_t> out;
    for (std::size_t i = 0; i < count_ && out.size() < 16; ++i) {
        const std::uint16_t t = attrs_[i].type;
        if (is_comprehension_required(t) && !is_known_attribute(t) &&
            std::find(out.begin(), out.end(), t) == out.end())
            out.push_back(t);
    }
    return out;
}

bool message::check_integrity(byte_view key) const {
    return check_mac(raw_, integrity_at_, 20, EVP_sha1(), key);
}
bool message::check_integrity_sha256(byte_view key) const {
    return check_mac(raw_, integrity256_at_, 32, EVP_sha256(), key);
}

std::optional<address> message::xor_address(std::uint16_t t) const {
    const attribute* a = find(t);
    if (a == nullptr) return std::nullopt;
    return xor_address(*a);
}
std::optional<address> message::xor_address(const attribute& a) const {
    // RFC 8489 14.2: IPv4 XORed with the cookie, IPv6 with the cookie and the transaction id.
    return decode_address(a.value, raw_.data() + 4, 16);
}
std::optional<address> message::plain_address(std::uint16_t t) const {
    const attribute* a = find(t);
    if (a == nullptr) return std::nullopt;
    return decode_address(a->value, nullptr, 0);
}
std::optional<std::uint32_t> message::u32(std::uint16_t t) const {
    const attribute* a = find(t);
    if (a == nullptr || a->value.size() != 4) return std::nullopt;
    return rd32(a->value.data());
}
std::string_view message::text(std::uint16_t t) const {
    const attribute* a = find(t);
    return a == nullptr ? std::string_view{} : as_string_view(a->value);
}
std::optional<int> message::error_code() const {
    const attribute* a = find(attr::error_code);
    if (a == nullptr || a->value.size() < 4) return std::nullopt;
    const int cls = a->value[2] & 0x07;
    const int num = a->value[3];
    if (cls < 3 || cls > 6 || num > 99) return std::nullopt;
    return cls * 100 + num;
}

bool looks_like_stun(byte_view in) {
    return in.size() >= header_size && (in[0] & 0xC0) == 0 && (rd16(in.data() + 2) & 3) == 0;
}

parse_error parse(byte_view in, message& out) {
    out = message{};
    if (in.size() < header_size) return parse_error::too_short;
    if ((in[0] & 0xC0) != 0) return parse_error::not_stun;
    const std::size_t len = rd16(in.data() + 2);
    if ((len & 3) != 0 || len + header_size != in.size()) return parse_error::bad_length;
    out.raw_ = in;
    out.type_ = rd16(in.data());
    out.classic_ = rd32(in.data() + 4) != magic_cookie;
    std::size_t off = header_size;
    while (off < in.size()) {
        if (in.size() - off < 4) return parse_error::bad_attribute;
        const std::uint16_t t = rd16(in.data() + off);
        const std::size_t alen = rd16(in.data() + off + 2);
        if (pad4(alen) > in.size() - off - 4) return parse_error::bad_attribute;
        if (out.count_ == max_attributes) return parse_error::too_many_attributes;
        if (t == attr::fingerprint) {
            // RFC 8489 14.7: last, 4 bytes, CRC-32 of what precedes it XOR 0x5354554e.
            if (alen != 4 || off + 8 != in.size()) return parse_error::bad_fingerprint;
            if ((crc_of(in.first(off)) ^ fingerprint_xor) != rd32(in.data() + off + 4))
                return parse_error::bad_fingerprint;
        }
        if (t == attr::message_integrity && out.integrity_at_ < 0)
            out.integrity_at_ = static_cast<std::ptrdiff_t>(off);
        if (t == attr::message_integrity_sha256 && out.integrity256_at_ < 0)
            out.integrity256_at_ = static_cast<std::ptrdiff_t>(off);
        out.attrs_[out.count_++] = attribute{t, in.subspan(off + 4, alen)};
        off += 4 + pad4(alen);
    }
    return parse_error::none;
}

std::array<std::uint8_t, 16> long_term_key(std::string_view user, std::string_view realm,
                                           std::string_view password) {
    std::array<std::uint8_t, 16> key{};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
    EVP_DigestUpdate(ctx, user.data(), user.size());
    EVP_DigestUpdate(ctx, ":", 1);
    EVP_DigestUpdate(ctx, realm.data(), realm.size());
    EVP_DigestUpdate(ctx, ":", 1);
    EVP_DigestUpdate(ctx, password.data(), password.size());
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx, key.data(), &n);
    EVP_MD_CTX_free(ctx);
    return key;
}

builder::builder(std::uint16_t m, klass c, const transaction_id& id) : buf_(header_size) {
    buf_.reserve(128);
    wr16(buf_.data(), make_type(m, c));
    wr32(buf_.data() + 4, magic_cookie);
    std::memcpy(buf_.data() + 8, id.data(), id.size());
}

builder::builder(std::uint16_t m, klass c, byte_view full_id16) : buf_(header_size) {
    wr16(buf_.data(), make_type(m, c));
    std::memcpy(buf_.data() + 4, full_id16.data(), std::min<std::size_t>(16, full_id16.size()));
}

void builder::set_length(std::size_t body) {
    wr16(buf_.data() + 2, std::uint16_t(body));
}

builder& builder::add(std::uint16_t type, byte_view value) {
    const std::size_t at = buf_.size();
    buf_.resize(at + 4 + pad4(value.size()), 0);
    wr16(buf_.data() + at, type);
    wr16(buf_.data() + at + 2, std::uint16_t(value.size()));
    if (!value.empty()) std::memcpy(buf_.data() + at + 4, value.data(), value.size());
    set_length(buf_.size() - header_size);
    return *this;
}

builder& builder::add_u32(std::uint16_t type, std::uint32_t v) {
    std::uint8_t b[4];
    wr32(b, v);
    return add(type, b);
}

builder& builder::add_plain_address(std::uint16_t type, const address& a) {
    std::uint8_t v[20] = {};
    v[1] = a.family == 6 ? 0x02 : 0x01;
    wr16(v + 2, a.port);
    std::memcpy(v + 4, a.ip.data(), a.ip_size());
    return add(type, byte_view{v, 4 + a.ip_size()});
}

builder& builder::add_xor_address(std::uint16_t type, const address& a) {
    address x = a;
    x.port ^= std::uint16_t(magic_cookie >> 16);
    for (std::size_t i = 0; i < x.ip_size(); ++i) x.ip[i] ^= buf_[4 + i];
    return add_plain_address(type, x);
}

builder& builder::add_error(int c, std::string_view reason) {
    if (reason.empty()) reason = reason_phrase(c);
    std::vector<std::uint8_t> v(4 + reason.size());
    v[2] = std::uint8_t(c / 100);
    v[3] = std::uint8_t(c % 100);
    std::memcpy(v.data() + 4, reason.data(), reason.size());
    return add(attr::error_code, v);
}

builder& builder::add_unknown(std::span<const std::uint16_t> types) {
    std::vector<std::uint8_t> v(types.size() * 2);
    for (std::size_t i = 0; i < types.size(); ++i) wr16(v.data() + 2 * i, types[i]);
    return add(attr::unknown_attributes, v);
}

builder& builder::add_integrity(byte_view key) {
    const std::size_t at = buf_.size();
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    integrity_mac(bytes(), at, 20, EVP_sha1(), key, mac);
    return add(attr::message_integrity, byte_view{mac, 20});
}

builder& builder::add_integrity_sha256(byte_view key) {
    const std::size_t at = buf_.size();
    std::uint8_t mac[EVP_MAX_MD_SIZE];
    integrity_mac(bytes(), at, 32, EVP_sha256(), key, mac);
    return add(attr::message_integrity_sha256, byte_view{mac, 32});
}

builder& builder::add_fingerprint() {
    set_length(buf_.size() + 8 - header_size);
    const std::uint32_t crc = crc_of(bytes()) ^ fingerprint_xor;
    return add_u32(attr::fingerprint, crc);
}

std::optional<channel_data> parse_channel_data(byte_view in, bool legacy) {
    if (in.size() < 4) return std::nullopt;
    const std::uint16_t ch = rd16(in.data());
    const std::size_t len = rd16(in.data() + 2);
    if (!is_channel_number(ch, legacy) || len > in.size() - 4) return std::nullopt;
    return channel_data{ch, in.subspan(4, len)};
}

void append_channel_data(std::vector<std::uint8_t>& out, std::uint16_t channel, byte_view data,
                         bool pad) {
    const std::size_t at = out.size();
    const std::size_t n = 4 + (pad ? pad4(data.size()) : data.size());
    out.resize(at + n, 0);
    wr16(out.data() + at, channel);
    wr16(out.data() + at + 2, std::uint16_t(data.size()));
    if (!data.empty()) std::memcpy(out.data() + at + 4, data.data(), data.size());
}

}  // namespace sy::stun
