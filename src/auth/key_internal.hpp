// Private to src/auth: the key record behind key_set and the JWS algorithm table.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/auth/jwt.hpp"

namespace sy::auth {

/// JWS algorithms (RFC 7518 3.1, RFC 8037 3.1). One bit each in key::algs.
enum class jws_alg : std::uint8_t {
    hs256,
    hs384,
    hs512,
    rs256,
    rs384,
    rs512,
    ps256,
    ps384,
    ps512,
    es256,
    es384,
    es512,
    eddsa,
};
inline constexpr std::uint16_t bit(jws_alg a) {
    return static_cast<std::uint16_t>(1U << static_cast<unsigned>(a));
}
inline constexpr std::uint16_t k_hmac_algs =
    bit(jws_alg::hs256) | bit(jws_alg::hs384) | bit(jws_alg::hs512);
inline constexpr std::uint16_t k_rsa_algs = bit(jws_alg::rs256) | bit(jws_alg::rs384) |
                                            bit(jws_alg::rs512) | bit(jws_alg::ps256) |
                                            bit(jws_alg::ps384) | bit(jws_alg::ps512);

/// "HS256" -> jws_alg; false for "none" and every name not in the table.
bool parse_alg(std::string_view name, jws_alg& out);

inline constexpr std::size_t k_alg_count = 13;

struct key_set::key {
    std::string kid;
    std::string secret;        // HMAC keys
    EVP_PKEY* pkey = nullptr;  // every other key (owned)
    std::uint16_t algs = 0;    // what this key may verify: decided by the key, never the token
    /// Per algorithm of algs (RSA, PSS, ECDSA): a context EVP_DigestVerifyInit set up once, at
    /// load. verify_signature copies it instead of initialising one per token (OpenSSL 3's init
    /// fetches the digest and builds the key's provider context each time). Only read after
    /// prepare_contexts, so any number of loops may copy it at once.
    std::array<EVP_MD_CTX*, k_alg_count> ready{};

    key() = default;
    key(const key&) = delete;
    key& operator=(const key&) = delete;
    ~key() {
        for (EVP_MD_CTX* c : ready) EVP_MD_CTX_free(c);
        EVP_PKEY_free(pkey);
    }
};

/// Fills k.ready for its algorithms (after algs is final); a context that cannot be made is left
/// null and verify_signature initialises one per call instead.
void prepare_contexts(key_set::key& k);

/// The algorithms a public key's type allows (0: a type or size JWS does not use).
std::uint16_t algs_for(EVP_PKEY* pkey);

/// Verifies sig over input with k under a (a in k.algs). Constant time for HMAC.
bool verify_signature(const key_set::key& k, jws_alg a, std::string_view input,
                      std::string_view sig);

}  // namespace sy::auth
