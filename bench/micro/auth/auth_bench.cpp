// auth micro-benchmarks: verifying one token (what a connection pays once, at its handshake)
// per algorithm, and the per-message permission check (what a WebSocket publish pays).
// Budget: ES256 verification under 50 us per connection (docs/auth.md, docs/benchmarks.md).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "switchyard/auth/jwt.hpp"
#include "switchyard/auth/policy.hpp"
#include "token_support.hpp"

namespace {

using namespace sy::auth;

constexpr std::int64_t k_now = 1'800'000'000;
const char* k_claims =
    R"({"sub":"alice","exp":1800000600,"switchyard":{"subscribe":["chat.>","news.*"],)"
    R"("publish":["chat.{sub}"]}})";

void bench_alg(benchmark::State& state, const char* alg, const char* type, const char* param) {
    key_set ks;
    test::pkey_ptr key;
    const std::string secret = "bench-secret-0123456789abcdef";
    if (std::string(type) == "HMAC") {
        (void)ks.add_hmac_secret(secret);
    } else {
        key = test::make_key(type, param);
        (void)ks.add_pem(test::public_pem(key.get()));
    }
    const verifier v(std::make_shared<const key_set>(std::move(ks)), {});
    const std::string header = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
    const std::string token = test::mint(header, k_claims, alg, key.get(), secret);
    for (auto _ : state) {
        auto r = v.verify(token, k_now);
        if (!r) state.SkipWithError("verify failed");
        benchmark::DoNotOptimize(r);
    }
}

void BM_VerifyES256(benchmark::State& s) {
    bench_alg(s, "ES256", "EC", "P-256");
}
void BM_VerifyHS256(benchmark::State& s) {
    bench_alg(s, "HS256", "HMAC", nullptr);
}
void BM_VerifyRS256(benchmark::State& s) {
    bench_alg(s, "RS256", "RSA", nullptr);
}
void BM_VerifyEdDSA(benchmark::State& s) {
    bench_alg(s, "EdDSA", "ED25519", nullptr);
}
BENCHMARK(BM_VerifyES256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyHS256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyRS256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyEdDSA)->Unit(benchmark::kMicrosecond);

// What ES256 costs below our code: OpenSSL's P-256 verify of a DER signature, with the context
// initialised per call (what verify_signature did before key::ready) and copied from one made at
// load (what it does now). The difference is OpenSSL 3's per-init digest fetch and key import.
struct p256_case {
    test::pkey_ptr key = test::make_key("EC", "P-256");
    std::string msg = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
    std::vector<unsigned char> der;
    p256_case() {
        EVP_MD_CTX* c = EVP_MD_CTX_new();
        std::size_t len = 0;
        EVP_DigestSignInit(c, nullptr, EVP_sha256(), nullptr, key.get());
        EVP_DigestSign(c, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size());
        der.resize(len);
        EVP_DigestSign(c, der.data(), &len, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size());
        der.resize(len);
        EVP_MD_CTX_free(c);
    }
    bool verify(EVP_MD_CTX* c) const {
        return EVP_DigestVerify(c, der.data(), der.size(),
                                reinterpret_cast<const unsigned char*>(msg.data()),
                                msg.size()) == 1;
    }
};

void BM_P256InitPerVerify(benchmark::State& state) {
    const p256_case p;
    for (auto _ : state) {
        EVP_MD_CTX* c = EVP_MD_CTX_new();
        EVP_DigestVerifyInit(c, nullptr, EVP_sha256(), nullptr, p.key.get());
        if (!p.verify(c)) state.SkipWithError("verify failed");
        EVP_MD_CTX_free(c);
    }
}
BENCHMARK(BM_P256InitPerVerify)->Unit(benchmark::kMicrosecond);

void BM_P256CopyPrepared(benchmark::State& state) {
    const p256_case p;
    EVP_MD_CTX* ready = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ready, nullptr, EVP_sha256(), nullptr, p.key.get());
    for (auto _ : state) {
        EVP_MD_CTX* c = EVP_MD_CTX_new();
        EVP_MD_CTX_copy_ex(c, ready);
        EVP_MD_CTX_set_flags(c, EVP_MD_CTX_FLAG_FINALISE);
        if (!p.verify(c)) state.SkipWithError("verify failed");
        EVP_MD_CTX_free(c);
    }
    EVP_MD_CTX_free(ready);
}
BENCHMARK(BM_P256CopyPrepared)->Unit(benchmark::kMicrosecond);

// The per-message check: one sublist lookup on the principal's compiled grants.
void BM_AllowedPerMessage(benchmark::State& state) {
    policy_settings ps;
    ps.enabled = true;
    ps.anonymous.subscribe = {"public.>"};
    const policy pol(nullptr, ps);
    principal::grants g;
    g.publish = {"chat.{sub}", "news.*", "orders.eu.>"};
    auto p = principal::make("alice", 0, g);
    for (auto _ : state) {
        benchmark::DoNotOptimize(pol.allowed(p.get(), action::publish, "orders.eu.created"));
    }
}
BENCHMARK(BM_AllowedPerMessage);

}  // namespace

BENCHMARK_MAIN();
