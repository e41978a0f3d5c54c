// key_set: HMAC secrets, PEM public keys and JWKS documents turned into EVP keys, each with the
// algorithms its type allows.
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "json_member.hpp"
#include "key_internal.hpp"
#include "switchyard/base/text.hpp"

namespace sy::auth {

namespace {

using bn_ptr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

std::string group_of(EVP_PKEY* pkey) {
    char name[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
        1)
        return {};
    return std::string(name, len);
}

result<void, std::string> add_key(std::vector<std::unique_ptr<key_set::key>>& keys, EVP_PKEY* pkey,
                                  std::string kid, std::uint16_t only) {
    auto k = std::make_unique<key_set::key>();
    k->pkey = pkey;  // owned from here on, freed with k on every path
    k->algs = algs_for(pkey);
    if (only != 0) k->algs &= only;
    if (k->algs == 0) return unexpected(std::string("key type or size not usable for JWS"));
    k->kid = std::move(kid);
    prepare_contexts(*k);
    keys.push_back(std::move(k));
    return {};
}

// A member of a JWK as base64url-decoded bytes; empty when absent or not a string.
std::string b64_member(const rapidjson::Value& jwk, const char* name) {
    const rapidjson::Value* v = member(jwk, name);
    std::string out;
    if (!v || !v->IsString()) return out;
    if (!base64url_decode({v->GetString(), v->GetStringLength()}, out)) out.clear();
    return out;
}

std::string str_member(const rapidjson::Value& jwk, const char* name) {
    const rapidjson::Value* v = member(jwk, name);
    if (!v || !v->IsString()) return {};
    return {v->GetString(), v->GetStringLength()};
}

EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* pkey = nullptr;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

EVP_PKEY* rsa_from_jwk(const rapidjson::Value& jwk) {
    const std::string n = b64_member(jwk, "n"), e = b64_member(jwk, "e");
    if (n.empty() || e.empty()) return nullptr;
    bn_ptr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                          static_cast<int>(n.size()), nullptr),
                BN_free);
    bn_ptr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                          static_cast<int>(e.size()), nullptr),
                BN_free);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    EVP_PKEY* pkey = nullptr;
    if (bld && bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
        pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

EVP_PKEY* ec_from_jwk(const rapidjson::Value& jwk) {
    const std::string crv = str_member(jwk, "crv");
    const char* group = crv == "P-256"   ? "prime256v1"
                        : crv == "P-384" ? "secp384r1"
                        : crv == "P-521" ? "secp521r1"
                                         : nullptr;
    const std::size_t size = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
    std::string x = b64_member(jwk, "x"), y = b64_member(jwk, "y");
    if (!group || x.empty() || y.empty() || x.size() > size || y.size() > size) return nullptr;
    // RFC 7518 6.2.1.2 wants the full coordinate size, but some issuers (PyJWT 2.6, Debian's)
    // drop leading zero bytes, about 1 key in 128 for P-256: the value is the same, so pad it.
    x.insert(0, size - x.size(), '\0');
    y.insert(0, size - y.size(), '\0');
    std::string point = "\x04" + x + y;  // SEC 1 2.3.3 uncompressed point
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    EVP_PKEY* pkey = nullptr;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
        pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

EVP_PKEY* okp_from_jwk(const rapidjson::Value& jwk) {
    const std::string crv = str_member(jwk, "crv");
    const std::string x = b64_member(jwk, "x");
    const int type = crv == "Ed25519" ? EVP_PKEY_ED25519 : crv == "Ed448" ? EVP_PKEY_ED448 : 0;
    if (type == 0 || x.empty()) return nullptr;
    return EVP_PKEY_new_raw_public_key(type, nullptr,
                                       reinterpret_cast<const unsigned char*>(x.data()), x.size());
}

result<void, std::string> add_jwk(key_set& set, std::vector<std::unique_ptr<key_set::key>>& keys,
                                  const rapidjson::Value& jwk) {
    if (!jwk.IsObject()) return unexpected(std::string("a key is not an object"));
    const std::string kty = str_member(jwk, "kty"), kid = str_member(jwk, "kid");
    const std::string use = str_member(jwk, "use"), alg_name = str_member(jwk, "alg");
    if (!use.empty() && use != "sig") return {};  // encryption keys are not ours
    std::uint16_t only = 0;
    if (!alg_name.empty()) {
        jws_alg a{};
        if (!parse_alg(alg_name, a)) return unexpected("key " + kid + ": alg " + alg_name);
        only = bit(a);
    }
    if (kty == "oct") {
        const std::string k = b64_member(jwk, "k");
        if (only != 0 && (only & k_hmac_algs) == 0) return unexpected("key " + kid + ": alg");
        return set.add_hmac_secret(k, kid);
    }
    EVP_PKEY* pkey = kty == "RSA"   ? rsa_from_jwk(jwk)
                     : kty == "EC"  ? ec_from_jwk(jwk)
                     : kty == "OKP" ? okp_from_jwk(jwk)
                                    : nullptr;
    if (!pkey) return unexpected("key " + kid + ": unusable " + kty + " key");
    auto r = add_key(keys, pkey, kid, only);
    if (!r) return unexpected("key " + kid + ": " + r.error());
    return {};
}

}  // namespace

std::uint16_t algs_for(EVP_PKEY* pkey) {
    switch (EVP_PKEY_get_base_id(pkey)) {
        case EVP_PKEY_RSA:
            // RFC 7518 3.3: 2048 bits or more.
            return EVP_PKEY_get_bits(pkey) >= 2048 ? k_rsa_algs : 0;
        case EVP_PKEY_RSA_PSS:
            return EVP_PKEY_get_bits(pkey) >= 2048
                       ? bit(jws_alg::ps256) | bit(jws_alg::ps384) | bit(jws_alg::ps512)
                       : 0;
        case EVP_PKEY_EC: {
            const std::string g = group_of(pkey);
            if (g == "prime256v1" || g == "P-256") return bit(jws_alg::es256);
            if (g == "secp384r1" || g == "P-384") return bit(jws_alg::es384);
            if (g == "secp521r1" || g == "P-521") return bit(jws_alg::es512);
            return 0;
        }
        case EVP_PKEY_ED25519:
        case EVP_PKEY_ED448:
            return bit(jws_alg::eddsa);
        default:
            return 0;
    }
}

key_set::key_set() = default;
key_set::~key_set() = default;
key_set::key_set(key_set&&) noexcept = default;
key_set& key_set::operator=(key_set&&) noexcept = default;

std::size_t key_set::size() const {
    return keys_.size();
}

bool key_set::has_kid(std::string_view kid) const {
    for (const auto& k : keys_) {
        if (k->kid == kid) return true;
    }
    return false;
}

result<void, std::string> key_set::add_hmac_secret(std::string_view secret, std::string kid) {
    if (secret.empty()) return unexpected(std::string("empty HMAC secret"));
    auto k = std::make_unique<key>();
    k->secret.assign(secret);
    k->kid = std::move(kid);
    k->algs = k_hmac_algs;
    keys_.push_back(std::move(k));
    return {};
}

result<void, std::string> key_set::add_pem(std::string_view pem, std::string kid) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return unexpected(std::string("out of memory"));
    std::size_t added = 0;
    std::string err;
    while (err.empty()) {
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* data = nullptr;
        long len = 0;
        if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) break;
        const unsigned char* p = data;
        EVP_PKEY* pkey = nullptr;
        const std::string_view type = name;
        if (type == "PUBLIC KEY") {
            pkey = d2i_PUBKEY(nullptr, &p, len);
        } else if (type == "CERTIFICATE") {
            if (X509* cert = d2i_X509(nullptr, &p, len)) {
                pkey = X509_get_pubkey(cert);
                X509_free(cert);
            }
        } else if (type == "RSA PUBLIC KEY") {
            pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
        } else {
            err = "PEM block \"" + std::string(type) + "\" is not a public key or certificate";
        }
        if (err.empty() && !pkey) err = "unreadable PEM block \"" + std::string(type) + "\"";
        if (pkey) {
            auto r = add_key(keys_, pkey, kid, 0);
            if (!r) err = r.error();
            ++added;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    BIO_free(bio);
    if (!err.empty()) return unexpected(std::move(err));
    if (added == 0) return unexpected(std::string("no PEM public key found"));
    return {};
}

result<void, std::string> key_set::add_jwks(std::string_view json) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) return unexpected(std::string("not JSON"));
    const rapidjson::Value* list = member(doc, "keys");
    if (!list || !list->IsArray()) return unexpected(std::string("no \"keys\" array"));
    for (const auto& jwk : list->GetArray()) {
        auto r = add_jwk(*this, keys_, jwk);
        if (!r) return r;
    }
    return {};
}

result<std::string, std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return unexpected("cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace sy::auth
