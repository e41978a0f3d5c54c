// fuzz_quic_packet: what the HTTP/3 path decides about a datagram before any connection has it
// (session/h3_session's h3_server::on_datagram): the routing facts (decode_ids: header form,
// version, DCID/SCID), Version Negotiation for unknown versions, the Initial triage with its Retry
// token check (classify_initial, both Retry policies), the Retry answer and the stateless reset
// for short headers. The first byte picks the policy and the peer's port (the token is bound to
// the address). Every answer must fit its buffer and a reset must be smaller than its trigger.
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/proto/http3/quic.hpp"

namespace {

// A throw-away self-signed key pair for the server_tls the stateless answers need (the token
// and reset secrets are made by server_tls::load; the certificate itself is never used here).
std::string write_pem(const char* path, const gnutls_datum_t& d) {
    FILE* f = std::fopen(path, "wb");
    if (!f) std::abort();
    std::fwrite(d.data, 1, d.size, f);
    std::fclose(f);
    return path;
}

std::unique_ptr<sy::http3::server_tls> make_tls() {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_init(&key);
    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    gnutls_x509_crt_init(&crt);
    gnutls_x509_crt_set_version(crt, 3);
    const unsigned char serial = 1;
    gnutls_x509_crt_set_serial(crt, &serial, 1);
    gnutls_x509_crt_set_activation_time(crt, 0);
    gnutls_x509_crt_set_expiration_time(crt, 4102444800);  // 2100
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9);
    gnutls_x509_crt_set_key(crt, key);
    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
    gnutls_datum_t kp{}, cp{};
    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kp);
    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cp);
    const std::string dir = "/tmp/fuzz_quic_packet." + std::to_string(getpid());
    (void)std::system(("mkdir -p " + dir).c_str());
    const auto k = write_pem((dir + "/key.pem").c_str(), kp);
    const auto c = write_pem((dir + "/crt.pem").c_str(), cp);
    gnutls_free(kp.data);
    gnutls_free(cp.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    auto t = sy::http3::server_tls::load({c, k}, {});
    if (!t) std::abort();
    return std::move(*t);
}

const sy::http3::server_tls& tls() {
    static const auto t = make_tls();
    return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sy::http3;
    if (size < 1) return 0;
    const std::uint8_t ctl = data[0];
    const sy::byte_view pkt{data + 1, size - 1};
    sockaddr_in local{}, remote{};
    local.sin_family = remote.sin_family = AF_INET;
    local.sin_addr.s_addr = remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    local.sin_port = htons(443);
    remote.sin_port = htons(static_cast<std::uint16_t>(40000 + (ctl >> 1)));
    const sock_path path{reinterpret_cast<const sockaddr*>(&local), sizeof local,
                         reinterpret_cast<const sockaddr*>(&remote), sizeof remote};
    static std::vector<std::uint8_t> buf(64 * 1024);
    packet_ids ids;
    const auto r = decode_ids(pkt, ids);
    if (r == decode_outcome::bad) return 0;
    if (ids.dcid.len > k_max_cid_len || ids.scid.len > k_max_cid_len) __builtin_trap();
    if (r == decode_outcome::version_negotiation) {
        if (write_version_negotiation(buf.data(), buf.size(), ids) > buf.size()) __builtin_trap();
        return 0;
    }
    if (!ids.long_header) {
        const std::size_t n =
            write_stateless_reset(tls(), buf.data(), buf.size(), ids.dcid, pkt.size());
        if (n != 0 && n >= pkt.size()) __builtin_trap();  // RFC 9000 10.3.3: no reset loops
        return 0;
    }
    accept_params a;
    cid odcid;
    const std::uint64_t now = 1'000'000'000ULL * 3600;
    switch (classify_initial(tls(), pkt, path, (ctl & 1) != 0, now, a, odcid)) {
        case initial_verdict::retry:
            if (write_retry(tls(), buf.data(), buf.size(), pkt, path, 1, now) > buf.size())
                __builtin_trap();
            break;
        case initial_verdict::accept:
            if (a.odcid && a.odcid->len > k_max_cid_len) __builtin_trap();
            break;
        default:
            break;
    }
    return 0;
}
