// JWT (RFC 7519) verification on OpenSSL 3 EVP, JSON read with RapidJSON.
//
// The key decides the algorithm, never the token: every key in a key_set has the algorithms its
// type allows (an HMAC secret HS256/384/512; an RSA key RS256/384/512 and PS256/384/512; a P-256
// key ES256, a P-384 key ES384; an Ed25519 key EdDSA), narrowed to one when a JWKS entry names
// its "alg". A token whose "alg" no candidate key allows is refused (so "alg": "none" and an RS
// public key used as an HMAC secret are refused), as is a "kid" that names no key, a "crit"
// header, and a token longer than verify_settings::max_token_bytes.
//
// Thread: a key_set is built on one thread (start-up, or a JWKS refresh on the pool) and then
// only read; verify() is const and may run on every loop at once (one EVP context per call).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/auth/principal.hpp"
#include "switchyard/base/result.hpp"

namespace sy::auth {

enum class verify_error : std::uint8_t {
    malformed,         // not three base64url parts of JSON objects, or a claim of the wrong type
    too_large,         // longer than max_token_bytes
    alg_refused,       // "none", an algorithm no candidate key allows, or a "crit" header
    unknown_kid,       // "kid" names no key of the set (a JWKS URL is fetched again)
    bad_signature,     // no candidate key verifies the signature
    expired,           // now >= exp + leeway
    not_yet_valid,     // now < nbf - leeway
    issued_in_future,  // iat > now + leeway
    bad_audience,      // audience set and not in "aud"
    bad_issuer,        // issuer set and "iss" differs
};
std::string_view to_string(verify_error e);

struct verify_settings {
    std::string audience;  // empty: "aud" not checked
    std::string issuer;    // empty: "iss" not checked
    std::int64_t leeway_s = 0;
    std::size_t max_token_bytes = 8192;
};

/// An immutable-after-load set of verification keys.
class key_set {
  public:
    key_set();
    ~key_set();
    key_set(key_set&&) noexcept;
    key_set& operator=(key_set&&) noexcept;

    /// An HMAC secret (HS256/384/512). Empty secrets are refused.
    result<void, std::string> add_hmac_secret(std::string_view secret, std::string kid = {});
    /// Every public key (or certificate) in PEM text; the error names what failed.
    result<void, std::string> add_pem(std::string_view pem, std::string kid = {});
    /// A JWKS document (RFC 7517 5): RSA, EC P-256/P-384, OKP Ed25519 and oct keys. Entries with
    /// "use" other than "sig" are skipped; a malformed entry fails the whole document.
    result<void, std::string> add_jwks(std::string_view json);

    std::size_t size() const;
    bool has_kid(std::string_view kid) const;

    struct key;  // defined in src/auth (EVP_PKEY or secret, kid, allowed algorithms)
    const std::vector<std::unique_ptr<key>>& keys() const { return keys_; }

  private:
    std::vector<std::unique_ptr<key>> keys_;
};

/// Reads a file whole (PEM, JWKS or a secret); throws nothing, the error names the path.
result<std::string, std::string> read_file(const std::string& path);

/// Checks a compact JWS and turns its claims into a principal. Three claim styles fill the one
/// model: the `switchyard` claim ({"publish": [...], "subscribe": [...], "admin": bool}),
/// Mercure's `mercure` claim ({"publish": [...], "subscribe": [...]}; the selector "*" is every
/// topic, other selectors count when they are hub patterns), and RabbitMQ's OAuth 2 `scope`
/// (a string or an array: rabbitmq.read:VHOST/RES[/KEY] subscribes, rabbitmq.write publishes,
/// on the hub when RES is "*" or "amq.topic"; rabbitmq.tag:administrator is admin).
class verifier {
  public:
    verifier(std::shared_ptr<const key_set> keys, verify_settings s);

    /// now_s: Unix seconds. The principal's exp is the token's (0 without one).
    result<principal_ptr, verify_error> verify(std::string_view token, std::int64_t now_s) const;

    const verify_settings& settings() const { return settings_; }
    const key_set& keys() const { return *keys_; }

  private:
    std::shared_ptr<const key_set> keys_;
    verify_settings settings_;
};

}  // namespace sy::auth
