// What the server answers without a connection: routing facts of a packet (RFC 8999), Version
// Negotiation (RFC 9000 6), Retry and its token (8.1.2), stateless reset (10.3).
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <algorithm>
#include <cstring>

#include "tls_internal.hpp"

namespace sy::http3 {

namespace {

constexpr ngtcp2_duration k_retry_token_lifetime = 10 * NGTCP2_SECONDS;

ngtcp2_cid to_ngtcp2(const cid& c) {
    ngtcp2_cid n{};
    ngtcp2_cid_init(&n, c.data.data(), c.len);
    return n;
}

void copy_cid(cid& out, const std::uint8_t* p, std::size_t n) {
    out.len = std::min(n, k_max_cid_len);
    std::memcpy(out.data.data(), p, out.len);
}

}  // namespace

decode_outcome decode_ids(byte_view pkt, packet_ids& out) {
    if (pkt.empty()) return decode_outcome::bad;  // ngtcp2 asserts on an empty buffer
    ngtcp2_version_cid vc{};
    const int rv = ngtcp2_pkt_decode_version_cid(&vc, pkt.data(), pkt.size(), k_cid_len);
    if (rv != 0 && rv != NGTCP2_ERR_VERSION_NEGOTIATION) return decode_outcome::bad;
    out.version = vc.version;
    out.long_header = (pkt[0] & 0x80) != 0;
    copy_cid(out.dcid, vc.dcid, vc.dcidlen);
    copy_cid(out.scid, vc.scid, vc.scidlen);
    return rv == 0 ? decode_outcome::ok : decode_outcome::version_negotiation;
}

void make_cid(cid& c, std::uint8_t loop) {
    c.len = k_cid_len;
    c.data[0] = loop;
    (void)gnutls_rnd(GNUTLS_RND_NONCE, c.data.data() + 1, k_cid_len - 1);
}

std::size_t write_version_negotiation(std::uint8_t* buf, std::size_t cap, const packet_ids& ids) {
    const std::uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    std::uint8_t unused = 0;
    (void)gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
    // The client's SCID becomes our DCID and the other way round (RFC 8999 6).
    const ngtcp2_ssize n =
        ngtcp2_pkt_write_version_negotiation(buf, cap, unused, ids.scid.data.data(), ids.scid.len,
                                             ids.dcid.data.data(), ids.dcid.len, versions, 1);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t write_retry(const server_tls& tls, std::uint8_t* buf, std::size_t cap,
                        byte_view initial, const sock_path& path, std::uint8_t loop,
                        std::uint64_t now_ns) {
    ngtcp2_pkt_hd hd{};
    if (ngtcp2_accept(&hd, initial.data(), initial.size()) != 0) return 0;
    cid scid;
    make_cid(scid, loop);
    const ngtcp2_cid nscid = to_ngtcp2(scid);
    std::uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    const auto& secret = tls.get().secret;
    const ngtcp2_ssize toklen =
        ngtcp2_crypto_generate_retry_token(token, secret.data(), secret.size(), hd.version,
                                           path.remote, path.remote_len, &nscid, &hd.dcid, now_ns);
    if (toklen < 0) return 0;
    const ngtcp2_ssize n = ngtcp2_crypto_write_retry(
        buf, cap, hd.version, &hd.scid, &nscid, &hd.dcid, token, static_cast<std::size_t>(toklen));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t write_stateless_reset(const server_tls& tls, std::uint8_t* buf, std::size_t cap,
                                  const cid& dcid, std::size_t pkt_len) {
    // Smaller than the packet that caused it (RFC 9000 10.3.3: no reset loops), at least
    // 5 random bytes + token, at most a modest size (no amplification).
    if (pkt_len < 1 + NGTCP2_STATELESS_RESET_TOKENLEN + NGTCP2_MIN_STATELESS_RESET_RANDLEN + 1)
        return 0;
    std::size_t randlen =
        std::min<std::size_t>(pkt_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN - 1, 40);
    std::uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    const ngtcp2_cid n = to_ngtcp2(dcid);
    const auto& secret = tls.get().secret;
    if (ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), &n) != 0)
        return 0;
    std::uint8_t rand[64];
    (void)gnutls_rnd(GNUTLS_RND_NONCE, rand, randlen);
    const ngtcp2_ssize w = ngtcp2_pkt_write_stateless_reset(buf, cap, token, rand, randlen);
    return w > 0 ? static_cast<std::size_t>(w) : 0;
}

initial_verdict classify_initial(const server_tls& tls, byte_view pkt, const sock_path& path,
                                 bool want_retry, std::uint64_t now_ns, accept_params& a,
                                 cid& odcid) {
    ngtcp2_pkt_hd hd{};
    const int rv = ngtcp2_accept(&hd, pkt.data(), pkt.size());
    if (rv == NGTCP2_ERR_RETRY) return initial_verdict::retry;  // 0-RTT before a handshake
    if (rv != 0) return initial_verdict::not_initial;
    if (hd.token.len > 0 && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
        ngtcp2_cid o{};
        const auto& secret = tls.get().secret;
        if (ngtcp2_crypto_verify_retry_token(
                &o, hd.token.base, hd.token.len, secret.data(), secret.size(), hd.version,
                path.remote, path.remote_len, &hd.dcid, k_retry_token_lifetime, now_ns) != 0)
            return initial_verdict::refuse;
        copy_cid(odcid, o.data, o.datalen);
        a.odcid = &odcid;
        a.address_validated = true;
        return initial_verdict::accept;
    }
    // A NEW_TOKEN token is never issued here, so any other token is ignored (RFC 9000 8.1.3).
    return want_retry ? initial_verdict::retry : initial_verdict::accept;
}

}  // namespace sy::http3
