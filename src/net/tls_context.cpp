// tls_server: certificate loading, the TLS policy, ALPN and SNI callbacks, stateless ticket keys.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "switchyard/base/log.hpp"
#include "switchyard/base/text.hpp"
#include "tls_internal.hpp"

namespace sy::net {

namespace {

// Mozilla "intermediate" TLS 1.2 suites: ECDHE key exchange, AEAD ciphers only.
constexpr const char* k_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* k_groups = "X25519:P-256:P-384";

// The root cause of a failed OpenSSL call: the reason of the earliest error queued ("No such
// file or directory", "no start line"); the later ones only say which routines passed it up
// ("BIO routines::system lib"). The queue is drained.
std::string openssl_errors() {
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {
    }
    if (first == 0) return "unknown OpenSSL error";
#ifdef ERR_SYSTEM_ERROR
    if (ERR_SYSTEM_ERROR(first)) return std::strerror(ERR_GET_REASON(first));  // errno
#endif
    if (const char* reason = ERR_reason_error_string(first)) return reason;
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    return buf;
}

const tls_context_set* set_of(SSL* ssl) {
    return static_cast<const tls_context_set*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

// RFC 7301 3.2: the server picks; ours is the preference order of settings.alpn.
int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) {
    const auto* set = set_of(ssl);
    if (!set || set->alpn_wire.empty()) return SSL_TLSEXT_ERR_NOACK;
    unsigned char* sel = nullptr;
    const auto* srv = reinterpret_cast<const unsigned char*>(set->alpn_wire.data());
    if (SSL_select_next_proto(&sel, outlen, srv, static_cast<unsigned>(set->alpn_wire.size()), in,
                              inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;  // no common protocol: carry on without ALPN (HTTP/1.1)
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

// RFC 6066 3: switch to the certificate for the requested name, if we have one.
int on_servername(SSL* ssl, int*, void*) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;
    const auto* set = set_of(ssl);
    if (!set) return SSL_TLSEXT_ERR_OK;
    if (SSL_CTX* ctx = set->find(name)) SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

// RFC 5077 4 / OpenSSL ticket key callback: enc=1 picks the current key, enc=0 finds the key
// named in the ticket (1 = ok, 2 = ok but renew the ticket, 0 = unknown: full handshake).
int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                  EVP_MAC_CTX* hctx, int enc) {
    const auto* set = set_of(ssl);
    if (!set || !set->keys) return -1;
    const ticket_keys& keys = *set->keys;
    const std::int64_t now = keys.current_slot();
    std::int64_t slot = now;
    if (enc) {
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    } else {
        slot = keys.slot_of(key_name);
        if (slot != now && slot != now - 1) return 0;
    }
    const ticket_key& k = keys.key(slot);
    if (enc) std::memcpy(key_name, k.name.data(), k.name.size());
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                          const_cast<unsigned char*>(k.mac.data()), k.mac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(hctx, params) != 1) return -1;
    int ok = enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv)
                 : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv);
    if (ok != 1) return -1;
    return enc ? 1 : (slot == now ? 1 : 2);
}

result<SSL_CTX*, std::string> make_ctx(const std::string& cert, const std::string& key,
                                       const tls_context_set& set) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return unexpected("SSL_CTX_new: " + openssl_errors());
    auto fail = [&](std::string what) -> result<SSL_CTX*, std::string> {
        SSL_CTX_free(ctx);
        return unexpected(std::move(what) + ": " + openssl_errors());
    };
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Partial writes + moving buffer: the connection re-offers unconsumed output from its queue,
    // whose storage may move between calls. Release buffers: idle connections hold no 34 KiB.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, k_tls12_ciphers) != 1) return fail("cipher list");
    if (SSL_CTX_set1_groups_list(ctx, k_groups) != 1) return fail("groups");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return fail("certificate " + cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail("private key " + key);
    if (SSL_CTX_check_private_key(ctx) != 1) return fail("key " + key + " does not match " + cert);
    // Stateless resumption only: no server-side session cache, tickets from our keys.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char sid_ctx[] = "switchyard";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_app_data(ctx, const_cast<tls_context_set*>(&set));
    return ctx;
}

}  // namespace

bool parse_sni_spec(std::string_view spec, tls_certificate& out) {
    auto a = spec.find(':');
    if (a == std::string_view::npos || a == 0) return false;
    auto b = spec.find(':', a + 1);
    if (b == std::string_view::npos || b == a + 1 || b + 1 >= spec.size()) return false;
    out.server_name = to_lower(spec.substr(0, a));
    out.cert_file = std::string(spec.substr(a + 1, b - a - 1));
    out.key_file = std::string(spec.substr(b + 1));
    return true;
}

// ---------------------------------------------------------------- ticket keys

ticket_keys::ticket_keys(std::chrono::seconds rotation)
    : rotation_s_(std::max<std::int64_t>(1, rotation.count())) {
    if (RAND_bytes(master_.data(), static_cast<int>(master_.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
}

std::int64_t ticket_keys::current_slot() const {
    return static_cast<std::int64_t>(std::time(nullptr)) / rotation_s_;
}

void ticket_keys::derive(std::int64_t slot, ticket_key& k) const {
    auto mac = [&](char label, unsigned char* out) {
        unsigned char msg[9];
        msg[0] = static_cast<unsigned char>(label);
        for (int i = 0; i < 8; ++i) msg[1 + i] = static_cast<unsigned char>(slot >> (56 - 8 * i));
        unsigned int len = 32;
        HMAC(EVP_sha256(), master_.data(), static_cast<int>(master_.size()), msg, sizeof msg, out,
             &len);
    };
    k.slot = slot;
    unsigned char tag[32];
    mac('n', tag);
    for (int i = 0; i < 8; ++i) k.name[i] = static_cast<unsigned char>(slot >> (56 - 8 * i));
    std::memcpy(k.name.data() + 8, tag, 8);
    mac('a', k.aes.data());
    mac('m', k.mac.data());
}

const ticket_key& ticket_keys::key(std::int64_t slot) const {
    // Two slots per thread cover "encrypt with now, decrypt now or previous". The cache is
    // keyed by this object too, so two servers in one process (tests) never mix keys.
    thread_local struct {
        const ticket_keys* owner = nullptr;
        ticket_key k[2];
    } cache;
    if (cache.owner != this) {
        cache.owner = this;
        cache.k[0].slot = cache.k[1].slot = -1;
    }
    ticket_key& slot_entry = cache.k[slot & 1];
    if (slot_entry.slot != slot) derive(slot, slot_entry);
    return slot_entry;
}

std::int64_t ticket_keys::slot_of(const unsigned char name[16]) const {
    std::int64_t slot = 0;
    for (int i = 0; i < 8; ++i) slot = (slot << 8) | name[i];
    if (slot < 0) return -1;
    const ticket_key& k = key(slot);
    return std::memcmp(k.name.data(), name, 16) == 0 ? slot : -1;
}

// ---------------------------------------------------------------- context set

tls_context_set::~tls_context_set() {
    if (default_) SSL_CTX_free(default_);
    for (auto& [name, ctx] : by_name) SSL_CTX_free(ctx);
}

SSL_CTX* tls_context_set::find(std::string_view host) const {
    std::string h = to_lower(host);
    for (const auto& [name, ctx] : by_name) {
        if (name == h) return ctx;
    }
    auto dot = h.find('.');
    if (dot == std::string::npos) return nullptr;
    std::string wild = "*" + h.substr(dot);
    for (const auto& [name, ctx] : by_name) {
        if (name == wild) return ctx;
    }
    return nullptr;
}

// ---------------------------------------------------------------- tls_server

tls_server::tls_server(tls_settings s, std::shared_ptr<ticket_keys> keys)
    : settings_(std::move(s)), keys_(std::move(keys)) {}

tls_server::~tls_server() = default;

result<std::unique_ptr<tls_server>, std::string> tls_server::create(tls_settings s) {
    if (s.cert_file.empty() || s.key_file.empty())
        return unexpected(std::string("tls: a certificate and a key are required"));
    for (const auto& p : s.alpn) {
        if (p.empty() || p.size() > 255) return unexpected("tls: bad ALPN id '" + p + "'");
    }
    auto keys = std::make_shared<ticket_keys>(s.ticket_rotation);
    std::unique_ptr<tls_server> srv(new tls_server(std::move(s), std::move(keys)));
    auto set = srv->build();
    if (!set) return unexpected(set.error());
    srv->current_.store(std::move(*set));
    return srv;
}

result<std::shared_ptr<const tls_context_set>, std::string> tls_server::build() const {
    auto set = std::make_shared<tls_context_set>();
    set->keys = keys_.get();
    for (const auto& p : settings_.alpn) {
        set->alpn_wire.push_back(static_cast<char>(p.size()));
        set->alpn_wire += p;
    }
    auto def = make_ctx(settings_.cert_file, settings_.key_file, *set);
    if (!def) return unexpected("tls: " + def.error());
    set->default_ = *def;
    for (const auto& c : settings_.sni) {
        auto ctx = make_ctx(c.cert_file, c.key_file, *set);
        if (!ctx) return unexpected("tls sni " + c.server_name + ": " + ctx.error());
        set->by_name.emplace_back(to_lower(c.server_name), *ctx);
    }
    return std::shared_ptr<const tls_context_set>(std::move(set));
}

result<void, std::string> tls_server::reload() {
    auto set = build();
    if (!set) {
        reloads_.failed.fetch_add(1, std::memory_order_relaxed);
        return unexpected(set.error());
    }
    current_.store(std::move(*set));
    reloads_.ok.fetch_add(1, std::memory_order_relaxed);
    return {};
}

tls_stream tls_server::make_stream(unique_fd fd, tls_loop_counters* counters) {
    tls_stream s;
    auto set = current_.load();
    SSL* ssl = SSL_new(set->default_ctx());
    if (!ssl) {
        ERR_clear_error();
        return s;  // fd closed; fd() == -1 makes the connection refuse it
    }
    SSL_set_fd(ssl, fd.get());
    SSL_set_accept_state(ssl);
    s.st_.reset(new tls_info);
    s.st_->ssl_ = ssl;
    s.st_->contexts_ = std::move(set);
    s.st_->counters_ = counters;
    s.fd_ = std::move(fd);
    return s;
}

}  // namespace sy::net
