// Test-only token minting on OpenSSL (keys are generated when the test runs, none are stored):
// the verifier under test never signs, so these helpers are the independent issuer.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "switchyard/base/text.hpp"

namespace sy::auth::test {

using pkey_ptr = std::shared_ptr<EVP_PKEY>;

inline pkey_ptr make_key(const char* type, const char* param = nullptr) {
    EVP_PKEY* k = nullptr;
    if (std::string(type) == "RSA")
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    else if (std::string(type) == "EC")
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
    else
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
    return pkey_ptr(k, EVP_PKEY_free);
}

inline std::string public_pem(EVP_PKEY* k) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
}

inline const EVP_MD* md_of(const std::string& alg) {
    if (alg.ends_with("384")) return EVP_sha384();
    if (alg.ends_with("512")) return EVP_sha512();
    if (alg == "EdDSA") return nullptr;
    return EVP_sha256();
}

// Signs input as `alg` with key (HMAC: secret). ES*: DER converted to JWS r||s.
inline std::string sign(const std::string& alg, EVP_PKEY* key, const std::string& secret,
                        const std::string& input) {
    if (alg.starts_with("HS")) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        HMAC(md_of(alg), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
        return std::string(reinterpret_cast<char*>(mac), len);
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(ctx, &pctx, md_of(alg), nullptr, key);
    if (alg.starts_with("PS")) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    std::size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (!alg.starts_with("ES")) return sig;
    const std::size_t n = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string out(2 * n, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(out.data() + n),
                 static_cast<int>(n));
    ECDSA_SIG_free(es);
    return out;
}

inline std::string mint(const std::string& header_json, const std::string& claims_json,
                        const std::string& alg, EVP_PKEY* key, const std::string& secret = {}) {
    const std::string input = base64url_encode(header_json) + "." + base64url_encode(claims_json);
    return input + "." + base64url_encode(sign(alg, key, secret, input));
}

}  // namespace sy::auth::test
