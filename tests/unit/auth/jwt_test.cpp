#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "switchyard/auth/jwt.hpp"
#include "token_support.hpp"

namespace sy::auth {
namespace {

using test::make_key;
using test::mint;
using test::public_pem;

constexpr std::int64_t k_now = 1'800'000'000;
const std::string k_secret = "test-secret-made-for-this-run-only";

std::string claims(const std::string& extra = {}) {
    return R"({"sub":"alice","exp":)" + std::to_string(k_now + 60) + extra + "}";
}

std::string header(const std::string& alg, const std::string& kid = {}) {
    std::string h = R"({"alg":")" + alg + R"(","typ":"JWT")";
    if (!kid.empty()) h += R"(,"kid":")" + kid + '"';
    return h + "}";
}

verifier make_verifier(key_set ks, verify_settings s = {}) {
    return verifier(std::make_shared<const key_set>(std::move(ks)), std::move(s));
}

struct alg_case {
    const char* alg;
    const char* type;
    const char* param;
};

class every_algorithm : public ::testing::TestWithParam<alg_case> {};

TEST_P(every_algorithm, VerifiesItsOwnAndRefusesATamperedSignature) {
    const alg_case c = GetParam();
    key_set ks;
    test::pkey_ptr key;
    if (std::string(c.type) == "HMAC") {
        ASSERT_TRUE(ks.add_hmac_secret(k_secret));
    } else {
        key = make_key(c.type, c.param);
        ASSERT_TRUE(key);
        ASSERT_TRUE(ks.add_pem(public_pem(key.get())));
    }
    const verifier v = make_verifier(std::move(ks));
    const std::string token = mint(header(c.alg), claims(), c.alg, key.get(), k_secret);
    auto r = v.verify(token, k_now);
    ASSERT_TRUE(r) << c.alg << ": " << to_string(r.error());
    EXPECT_EQ((*r)->subject(), "alice");
    EXPECT_EQ((*r)->exp(), k_now + 60);

    std::string bad = token;
    const std::size_t dot = bad.rfind('.');
    bad[dot + 3] = bad[dot + 3] == 'A' ? 'B' : 'A';
    auto rb = v.verify(bad, k_now);
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error(), verify_error::bad_signature) << c.alg;

    // Claims changed after signing: same signature, other input.
    const std::string forged = mint(header(c.alg), claims(), c.alg, key.get(), k_secret);
    const std::string other_claims = base64url_encode(R"({"sub":"mallory"})");
    const std::size_t d1 = forged.find('.'), d2 = forged.rfind('.');
    auto rf = v.verify(forged.substr(0, d1 + 1) + other_claims + forged.substr(d2), k_now);
    ASSERT_FALSE(rf);
    EXPECT_EQ(rf.error(), verify_error::bad_signature);
}

INSTANTIATE_TEST_SUITE_P(
    Jws, every_algorithm,
    ::testing::Values(alg_case{"HS256", "HMAC", nullptr}, alg_case{"HS384", "HMAC", nullptr},
                      alg_case{"HS512", "HMAC", nullptr}, alg_case{"RS256", "RSA", nullptr},
                      alg_case{"RS384", "RSA", nullptr}, alg_case{"RS512", "RSA", nullptr},
                      alg_case{"PS256", "RSA", nullptr}, alg_case{"ES256", "EC", "P-256"},
                      alg_case{"ES384", "EC", "P-384"}, alg_case{"EdDSA", "ED25519", nullptr}),
    [](const auto& info) { return std::string(info.param.alg); });

class refusals : public ::testing::Test {
  protected:
    void SetUp() override {
        rsa_ = make_key("RSA");
        key_set ks;
        ASSERT_TRUE(ks.add_pem(public_pem(rsa_.get())));
        verify_settings s;
        s.audience = "switchyard";
        s.issuer = "https://issuer.test";
        s.leeway_s = 5;
        s.max_token_bytes = 4096;
        v_ = std::make_unique<verifier>(std::make_shared<const key_set>(std::move(ks)), s);
    }
    std::string good_claims(const std::string& extra = {}) {
        return R"({"sub":"alice","aud":"switchyard","iss":"https://issuer.test")" + extra + "}";
    }
    verify_error refused(const std::string& token) {
        auto r = v_->verify(token, k_now);
        EXPECT_FALSE(r);
        return r ? verify_error::malformed : r.error();
    }
    test::pkey_ptr rsa_;
    std::unique_ptr<verifier> v_;
};

TEST_F(refusals, AcceptsTheGoodToken) {
    EXPECT_TRUE(v_->verify(mint(header("RS256"), good_claims(), "RS256", rsa_.get()), k_now));
    // aud as an array holding ours.
    auto arr = good_claims();
    arr.replace(arr.find(R"("aud":"switchyard")"), 18, R"("aud":["x","switchyard"])");
    EXPECT_TRUE(v_->verify(mint(header("RS256"), arr, "RS256", rsa_.get()), k_now));
}

TEST_F(refusals, AlgNone) {
    const std::string t =
        base64url_encode(header("none")) + "." + base64url_encode(good_claims()) + ".";
    EXPECT_EQ(refused(t), verify_error::alg_refused);
    EXPECT_EQ(refused(base64url_encode(R"({"alg":"NONE"})") + "." +
                      base64url_encode(good_claims()) + "."),
              verify_error::alg_refused);
}

TEST_F(refusals, AlgorithmConfusionRsaKeyAsHmacSecret) {
    // The classic attack: HS256 signed with the RS public key's PEM text as the secret.
    const std::string pem = public_pem(rsa_.get());
    EXPECT_EQ(refused(mint(header("HS256"), good_claims(), "HS256", nullptr, pem)),
              verify_error::alg_refused);
    // An EC algorithm name on an RSA key is refused the same way.
    auto ec = make_key("EC", "P-256");
    EXPECT_EQ(refused(mint(header("ES256"), good_claims(), "ES256", ec.get())),
              verify_error::alg_refused);
}

TEST_F(refusals, UnknownKid) {
    EXPECT_EQ(refused(mint(header("RS256", "other"), good_claims(), "RS256", rsa_.get())),
              verify_error::unknown_kid);
}

TEST_F(refusals, OversizedToken) {
    const std::string pad(5000, 'x');
    EXPECT_EQ(refused(mint(header("RS256"), good_claims(R"(,"pad":")" + pad + "\""), "RS256",
                           rsa_.get())),
              verify_error::too_large);
}

TEST_F(refusals, Malformed) {
    EXPECT_EQ(refused(""), verify_error::malformed);
    EXPECT_EQ(refused("abc"), verify_error::malformed);
    EXPECT_EQ(refused("a.b"), verify_error::malformed);
    EXPECT_EQ(refused("a.b.c.d.e"), verify_error::malformed);
    EXPECT_EQ(refused("!!.??.**"), verify_error::malformed);
    EXPECT_EQ(refused(base64url_encode("not json") + "." + base64url_encode("{}") + ".x"),
              verify_error::malformed);
    // A valid signature over claims that are not an object.
    EXPECT_EQ(refused(mint(header("RS256"), "[1,2]", "RS256", rsa_.get())),
              verify_error::malformed);
    // exp of the wrong type.
    EXPECT_EQ(refused(mint(header("RS256"), good_claims(R"(,"exp":"soon")"), "RS256", rsa_.get())),
              verify_error::malformed);
}

TEST_F(refusals, CritHeader) {
    EXPECT_EQ(
        refused(mint(R"({"alg":"RS256","crit":["exp"]})", good_claims(), "RS256", rsa_.get())),
        verify_error::alg_refused);
}

TEST_F(refusals, TimesWithLeeway) {
    auto at = [&](const std::string& extra) {
        return mint(header("RS256"), good_claims(extra), "RS256", rsa_.get());
    };
    EXPECT_EQ(refused(at(",\"exp\":" + std::to_string(k_now - 5))), verify_error::expired);
    EXPECT_TRUE(v_->verify(at(",\"exp\":" + std::to_string(k_now - 4)), k_now));  // leeway
    EXPECT_EQ(refused(at(",\"nbf\":" + std::to_string(k_now + 6))), verify_error::not_yet_valid);
    EXPECT_TRUE(v_->verify(at(",\"nbf\":" + std::to_string(k_now + 5)), k_now));
    EXPECT_EQ(refused(at(",\"iat\":" + std::to_string(k_now + 60))),
              verify_error::issued_in_future);
    EXPECT_TRUE(v_->verify(at(",\"exp\":1.8e9,\"iat\":1800000004.5"), k_now));
}

TEST_F(refusals, AudienceAndIssuer) {
    EXPECT_EQ(refused(mint(header("RS256"), R"({"aud":"other","iss":"https://issuer.test"})",
                           "RS256", rsa_.get())),
              verify_error::bad_audience);
    EXPECT_EQ(
        refused(mint(header("RS256"), R"({"iss":"https://issuer.test"})", "RS256", rsa_.get())),
        verify_error::bad_audience);
    EXPECT_EQ(refused(mint(header("RS256"), R"({"aud":"switchyard","iss":"https://evil"})", "RS256",
                           rsa_.get())),
              verify_error::bad_issuer);
}

// --- JWKS --------------------------------------------------------------------------------

std::string b64_bn(EVP_PKEY* k, const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(k, name, &bn);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return base64url_encode(out);
}

std::string ec_jwk(EVP_PKEY* k, const std::string& kid, const std::string& crv, std::size_t n) {
    unsigned char buf[200];
    std::size_t len = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len);
    const std::string pt(reinterpret_cast<char*>(buf) + 1, len - 1);  // drop 0x04
    return R"({"kty":"EC","kid":")" + kid + R"(","crv":")" + crv + R"(","x":")" +
           base64url_encode(pt.substr(0, n)) + R"(","y":")" + base64url_encode(pt.substr(n)) +
           R"("})";
}

TEST(Jwks, EveryKeyTypeAndKidSelection) {
    auto rsa = make_key("RSA"), ec = make_key("EC", "P-256"), ed = make_key("ED25519");
    unsigned char raw[64];
    std::size_t raw_len = sizeof raw;
    EVP_PKEY_get_raw_public_key(ed.get(), raw, &raw_len);
    const std::string jwks = R"({"keys":[{"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":")" +
                             b64_bn(rsa.get(), OSSL_PKEY_PARAM_RSA_N) + R"(","e":")" +
                             b64_bn(rsa.get(), OSSL_PKEY_PARAM_RSA_E) + R"("},)" +
                             ec_jwk(ec.get(), "e1", "P-256", 32) +
                             R"(,{"kty":"OKP","kid":"d1","crv":"Ed25519","x":")" +
                             base64url_encode(std::string(reinterpret_cast<char*>(raw), raw_len)) +
                             R"("},{"kty":"oct","kid":"h1","k":")" + base64url_encode(k_secret) +
                             R"("},{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]})";
    key_set ks;
    auto added = ks.add_jwks(jwks);
    ASSERT_TRUE(added) << added.error();
    EXPECT_EQ(ks.size(), 4U);
    const verifier v = make_verifier(std::move(ks));
    EXPECT_TRUE(v.verify(mint(header("RS256", "r1"), claims(), "RS256", rsa.get()), k_now));
    EXPECT_TRUE(v.verify(mint(header("ES256", "e1"), claims(), "ES256", ec.get()), k_now));
    EXPECT_TRUE(v.verify(mint(header("EdDSA", "d1"), claims(), "EdDSA", ed.get()), k_now));
    EXPECT_TRUE(v.verify(mint(header("HS256", "h1"), claims(), "HS256", nullptr, k_secret), k_now));
    // The JWK's "alg" narrows the key: PS256 with r1 is refused though RSA could do it.
    auto ps = v.verify(mint(header("PS256", "r1"), claims(), "PS256", rsa.get()), k_now);
    ASSERT_FALSE(ps);
    EXPECT_EQ(ps.error(), verify_error::alg_refused);
    // A kid names the key: r1 (RS256) is not tried with ES256, nor is e1 searched instead.
    auto wrong = v.verify(mint(header("ES256", "r1"), claims(), "ES256", ec.get()), k_now);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error(), verify_error::alg_refused);
    auto unknown = v.verify(mint(header("ES256", "zz"), claims(), "ES256", ec.get()), k_now);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error(), verify_error::unknown_kid);
}

// A coordinate with leading zero bytes dropped (PyJWT 2.6 writes them so) is the same point.
TEST(Jwks, EcCoordinatesWithoutLeadingZerosAreAccepted) {
    for (int i = 0; i < 4096; ++i) {  // about 1 key in 128 has a coordinate starting with 0x00
        auto ec = make_key("EC", "P-256");
        unsigned char buf[80];
        std::size_t len = 0;
        EVP_PKEY_get_octet_string_param(ec.get(), OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len);
        ASSERT_EQ(len, 65U);
        if (buf[1] != 0 && buf[33] != 0) continue;
        std::string x(reinterpret_cast<char*>(buf) + 1, 32),
            y(reinterpret_cast<char*>(buf) + 33, 32);
        while (!x.empty() && x[0] == '\0') x.erase(0, 1);
        while (!y.empty() && y[0] == '\0') y.erase(0, 1);
        key_set ks;
        auto added =
            ks.add_jwks(R"({"keys":[{"kty":"EC","kid":"e1","crv":"P-256","x":")" +
                        base64url_encode(x) + R"(","y":")" + base64url_encode(y) + R"("}]})");
        ASSERT_TRUE(added) << added.error();
        const verifier v = make_verifier(std::move(ks));
        EXPECT_TRUE(v.verify(mint(header("ES256", "e1"), claims(), "ES256", ec.get()), k_now));
        return;
    }
    FAIL() << "no key with a leading zero coordinate in 4096";
}

TEST(Jwks, RefusesBadDocuments) {
    key_set ks;
    EXPECT_FALSE(ks.add_jwks("not json"));
    EXPECT_FALSE(ks.add_jwks(R"({"nokeys":[]})"));
    EXPECT_FALSE(ks.add_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})"));
    EXPECT_FALSE(ks.add_jwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"RS256"}]})"));
    EXPECT_FALSE(ks.add_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
    EXPECT_FALSE(ks.add_pem("no pem here"));
    EXPECT_FALSE(ks.add_hmac_secret(""));
}

TEST(Jwks, SmallRsaKeysAreRefused) {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024});
    key_set ks;
    EXPECT_FALSE(ks.add_pem(public_pem(k)));
    EVP_PKEY_free(k);
}

// --- claim styles ------------------------------------------------------------------------

principal_ptr verified(const std::string& claims_json) {
    key_set ks;
    EXPECT_TRUE(ks.add_hmac_secret(k_secret));
    const verifier v = make_verifier(std::move(ks));
    auto r = v.verify(mint(header("HS256"), claims_json, "HS256", nullptr, k_secret), k_now);
    EXPECT_TRUE(r) << (r ? "" : to_string(r.error()));
    return r ? *r : nullptr;
}

TEST(Claims, SwitchyardClaim) {
    auto p = verified(R"({"sub":"u1","switchyard":{"publish":["chat.{sub}.>"],
        "subscribe":["news.*","chat.>"],"admin":true}})");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->admin());
    EXPECT_TRUE(p->may(action::publish, "chat.u1.out"));
    EXPECT_FALSE(p->may(action::publish, "chat.u2.out"));
    EXPECT_TRUE(p->may(action::subscribe, "news.eu"));
    EXPECT_FALSE(p->may(action::subscribe, "news.eu.sport"));
    EXPECT_EQ(p->exp(), 0);  // no exp claim: no expiry
}

TEST(Claims, MercureClaim) {
    auto p = verified(R"({"sub":"m","mercure":{"publish":["books.1"],"subscribe":["*"]}})");
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->admin());
    EXPECT_TRUE(p->may(action::publish, "books.1"));
    EXPECT_FALSE(p->may(action::publish, "books.2"));
    EXPECT_TRUE(p->may(action::subscribe, "anything.at.all"));
    EXPECT_TRUE(p->may_pattern(action::subscribe, ">"));
    // URI-template selectors are not hub patterns: they grant nothing here.
    auto q = verified(R"({"mercure":{"subscribe":["https://example.com/books/{id}"]}})");
    ASSERT_TRUE(q);
    EXPECT_TRUE(q->patterns(action::subscribe).empty());
}

TEST(Claims, RabbitMqScopes) {
    auto p =
        verified(R"({"sub":"svc","scope":"rabbitmq.read:*/* rabbitmq.write:%2F/amq.topic/orders.* )"
                 R"(rabbitmq.configure:*/q.* rabbitmq.tag:administrator other.scope"})");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->admin());
    EXPECT_TRUE(p->may(action::subscribe, "any.topic"));
    // vhost "%2F" is not "/": that write grant does not reach the hub.
    EXPECT_FALSE(p->may(action::publish, "orders.eu"));
    ASSERT_EQ(p->scopes().size(), 3U);
    EXPECT_EQ(p->scopes()[2].what, scope_grant::kind::configure);
    EXPECT_EQ(p->scopes()[2].resource, "q.*");
    ASSERT_EQ(p->tags().size(), 1U);
    EXPECT_EQ(p->tags()[0], "administrator");

    auto w = verified(R"({"scope":["rabbitmq.write:*/amq.topic/orders.*"]})");
    ASSERT_TRUE(w);
    EXPECT_TRUE(w->may(action::publish, "orders.eu"));
    EXPECT_TRUE(w->may(action::publish, "orders.eu.x"));
    EXPECT_FALSE(w->may(action::publish, "invoices.eu"));
    EXPECT_FALSE(w->may(action::subscribe, "orders.eu"));
    EXPECT_FALSE(w->admin());
}

TEST(Claims, WrongShapesAreMalformed) {
    key_set ks;
    ASSERT_TRUE(ks.add_hmac_secret(k_secret));
    const verifier v = make_verifier(std::move(ks));
    for (const char* c :
         {R"({"sub":7})", R"({"switchyard":[]})", R"({"switchyard":{"publish":"a","admin":"yes"}})",
          R"({"mercure":{"subscribe":[1]}})", R"({"scope":{"a":1}})"}) {
        auto r = v.verify(mint(header("HS256"), c, "HS256", nullptr, k_secret), k_now);
        ASSERT_FALSE(r) << c;
        EXPECT_EQ(r.error(), verify_error::malformed) << c;
    }
}

}  // namespace
}  // namespace sy::auth
