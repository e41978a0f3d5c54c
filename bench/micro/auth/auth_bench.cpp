// auth micro-benchmarks: verifying one token (what a connection pays once, at its handshake)
// per algorithm, and the per-message permission check (what a WebSocket publish pays).
// Budget: ES256 verification under 50 us per connection (docs/auth.md, docs/benchmarks.md).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

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
