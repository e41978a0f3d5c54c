// JWS signature checks (RFC 7518 3.2-3.5, RFC 8037 3.1) on OpenSSL 3 EVP.
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <array>
#include <memory>

#include "key_internal.hpp"

namespace sy::auth {

namespace {

struct alg_entry {
    std::string_view name;
    jws_alg alg;
};
constexpr std::array<alg_entry, 13> k_algs{{
    {"HS256", jws_alg::hs256},
    {"HS384", jws_alg::hs384},
    {"HS512", jws_alg::hs512},
    {"RS256", jws_alg::rs256},
    {"RS384", jws_alg::rs384},
    {"RS512", jws_alg::rs512},
    {"PS256", jws_alg::ps256},
    {"PS384", jws_alg::ps384},
    {"PS512", jws_alg::ps512},
    {"ES256", jws_alg::es256},
    {"ES384", jws_alg::es384},
    {"ES512", jws_alg::es512},
    {"EdDSA", jws_alg::eddsa},
}};

const EVP_MD* digest_of(jws_alg a) {
    switch (a) {
        case jws_alg::hs256:
        case jws_alg::rs256:
        case jws_alg::ps256:
        case jws_alg::es256:
            return EVP_sha256();
        case jws_alg::hs384:
        case jws_alg::rs384:
        case jws_alg::ps384:
        case jws_alg::es384:
            return EVP_sha384();
        case jws_alg::hs512:
        case jws_alg::rs512:
        case jws_alg::ps512:
        case jws_alg::es512:
            return EVP_sha512();
        case jws_alg::eddsa:
            return nullptr;  // EdDSA hashes inside the signature scheme
    }
    return nullptr;
}

bool is_pss(jws_alg a) {
    return a == jws_alg::ps256 || a == jws_alg::ps384 || a == jws_alg::ps512;
}

// RFC 7518 3.4: the JWS ECDSA signature is R || S, each the curve's byte size; EVP wants DER.
bool ecdsa_to_der(jws_alg a, std::string_view sig, std::string& der) {
    const std::size_t n = a == jws_alg::es256 ? 32 : a == jws_alg::es384 ? 48 : 66;
    if (sig.size() != 2 * n) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(p, static_cast<int>(n), nullptr);
    BIGNUM* ss = BN_bin2bn(p + n, static_cast<int>(n), nullptr);
    if (!s || !r || !ss || ECDSA_SIG_set0(s, r, ss) != 1) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        return false;
    }
    unsigned char* out = nullptr;
    const int len = i2d_ECDSA_SIG(s, &out);
    ECDSA_SIG_free(s);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
    return true;
}

bool verify_hmac(const key_set::key& k, jws_alg a, std::string_view input, std::string_view sig) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(digest_of(a), k.secret.data(), static_cast<int>(k.secret.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len))
        return false;
    return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
}

using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// A verification context for k under a, initialised from scratch.
bool init_context(EVP_MD_CTX* ctx, const key_set::key& k, jws_alg a) {
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit(ctx, &pctx, digest_of(a), nullptr, k.pkey) != 1) return false;
    if (is_pss(a) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                      // RFC 7518 3.5: the salt is as long as the hash.
                      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        return false;
    return true;
}

}  // namespace

bool parse_alg(std::string_view name, jws_alg& out) {
    for (const auto& e : k_algs) {
        if (e.name == name) {
            out = e.alg;
            return true;
        }
    }
    return false;
}

void prepare_contexts(key_set::key& k) {
    if (k.pkey == nullptr) return;
    for (std::size_t i = 0; i < k_alg_count; ++i) {
        const auto a = static_cast<jws_alg>(i);
        // EdDSA is one-shot (no digest to copy a state of); HMAC keys have no pkey.
        if ((k.algs & bit(a)) == 0 || a == jws_alg::eddsa) continue;
        md_ctx_ptr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
        if (ctx && init_context(ctx.get(), k, a)) k.ready[i] = ctx.release();
    }
}

bool verify_signature(const key_set::key& k, jws_alg a, std::string_view input,
                      std::string_view sig) {
    if ((k.algs & bit(a)) == 0) return false;
    if ((k_hmac_algs & bit(a)) != 0) return verify_hmac(k, a, input, sig);
    std::string der;
    if (a == jws_alg::es256 || a == jws_alg::es384 || a == jws_alg::es512) {
        if (!ecdsa_to_der(a, sig, der)) return false;
        sig = der;
    }
    md_ctx_ptr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx) return false;
    if (const EVP_MD_CTX* ready = k.ready[static_cast<std::size_t>(a)]) {
        if (EVP_MD_CTX_copy_ex(ctx.get(), ready) != 1) return false;
        // The copy is used once: the final step may consume it instead of duplicating it again.
        EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
    } else if (!init_context(ctx.get(), k, a)) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

}  // namespace sy::auth
