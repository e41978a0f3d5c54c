// auth.jwks_url's refresh schedule (server/jwks.hpp, docs/auth.md).
#include "jwks.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "switchyard/base/log.hpp"
#include "switchyard/base/metrics.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

namespace {

using built = result<std::shared_ptr<const auth::policy>, std::string>;

// Shared by the policies it builds (their unknown-kid callback), loop 0's schedule, the pool's
// jobs and the metrics family. The schedule fields are loop 0's alone; the atomics any thread's.
class jwks_refresher : public std::enable_shared_from_this<jwks_refresher> {
  public:
    explicit jwks_refresher(runtime& rt) : rt_(rt), cfg_(rt.config().auth) {}

    // Any thread but a loop: fetch, then the policy with the static keys and the fetched ones.
    built build() {
        fetch_options o;
        o.timeout_ms = cfg_.jwks_timeout_ms;
        o.max_bytes = cfg_.jwks_max_bytes;
        o.ca_file = cfg_.jwks_ca_file;
        auto text = fetch_url(cfg_.jwks_url, o);
        if (!text) return unexpected(text.error());
        std::weak_ptr<jwks_refresher> self = weak_from_this();
        try {
            return make_auth_policy(cfg_, *text, [self] {
                if (auto r = self.lock()) r->unknown_kid();
            });
        } catch (const std::exception& e) {  // config_error: a bad document, a vanished file
            return unexpected(std::string(e.what()));
        }
    }

    // Main thread, before run(): the first key set, retried until jwks_startup_wait_s passed.
    std::shared_ptr<const auth::policy> first() {
        const auto give_up =
            std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.jwks_startup_wait_s);
        for (;;) {
            built b = build();
            count(b.has_value());
            if (b) return std::move(*b);
            if (std::chrono::steady_clock::now() >= give_up)
                throw config_error(fmt::format("auth.jwks_url: {}: {} (no key set after {} s)",
                                               cfg_.jwks_url, b.error(), cfg_.jwks_startup_wait_s));
            log::warn("auth.jwks_url: {}: {}; retrying", cfg_.jwks_url, b.error());
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }

    // Loop 0's start: the periodic refresh.
    void start(loop_state& l0) {
        l0_ = &l0;
        loop0_.store(l0.loop, std::memory_order_release);
        arm_periodic();
    }

    // Any loop (the policy's callback): asks loop 0 for a fetch; one post in flight at most.
    void unknown_kid() {
        core::loop* l = loop0_.load(std::memory_order_acquire);
        if (l == nullptr || kid_asked_.exchange(true, std::memory_order_acq_rel)) return;
        l->post([self = shared_from_this()] {
            self->kid_asked_.store(false, std::memory_order_release);
            self->on_kid_request();
        });
    }

    void collect(metrics::emitter& e) const {
        e.add({"ok"}, ok_.load(std::memory_order_relaxed));
        e.add({"error"}, failed_.load(std::memory_order_relaxed));
    }

  private:
    void count(bool ok) { (ok ? ok_ : failed_).fetch_add(1, std::memory_order_relaxed); }

    void arm_periodic() {
        const auto every = millis(static_cast<std::int64_t>(cfg_.jwks_refresh_s) * 1000);
        l0_->loop->add_timer(every, [self = shared_from_this()] {
            self->fetch();
            self->arm_periodic();
        });
    }

    // Loop 0: at most one fetch per jwks_min_refresh_s for unknown kids; a request inside that
    // window is served at its end (one timer), not dropped.
    void on_kid_request() {
        const std::int64_t gap = static_cast<std::int64_t>(cfg_.jwks_min_refresh_s) * 1000;
        const std::int64_t wait = last_fetch_ms_ + gap - l0_->loop->now_ms();
        if (wait <= 0) {
            fetch();
            return;
        }
        if (kid_timer_armed_) return;
        kid_timer_armed_ = true;
        l0_->loop->add_timer(millis(wait), [self = shared_from_this()] {
            self->kid_timer_armed_ = false;
            self->fetch();
        });
    }

    // Loop 0: one fetch at a time, on the pool; its result is handled back on loop 0.
    void fetch() {
        if (in_flight_) return;
        in_flight_ = true;
        last_fetch_ms_ = l0_->loop->now_ms();
        auto self = shared_from_this();
        auto sent = rt_.pool().submit(
            *l0_->loop, [self] { return self->build(); },
            [self](built b) { self->on_built(std::move(b)); });
        if (!sent) {
            in_flight_ = false;
            count(false);
            log::warn("auth.jwks_url: the thread pool is full; keeping the current keys");
        }
    }

    void on_built(built b) {
        in_flight_ = false;
        last_fetch_ms_ = l0_->loop->now_ms();
        count(b.has_value());
        if (!b) {
            log::warn("auth.jwks_url: {}: {}; keeping the current keys", cfg_.jwks_url, b.error());
            return;
        }
        std::shared_ptr<const auth::policy> p = std::move(*b);
        const auth::verifier* v = p->token_verifier();
        log::info("auth.jwks_url: {} key(s) in use", v ? v->keys().size() : 0);
        rt_.for_each_loop([p](loop_state& ls) { ls.auth = p; }, [] {});
    }

    runtime& rt_;
    const auth_config& cfg_;
    std::atomic<core::loop*> loop0_{nullptr};
    std::atomic<bool> kid_asked_{false};
    std::atomic<std::uint64_t> ok_{0};
    std::atomic<std::uint64_t> failed_{0};
    // Loop 0 only.
    loop_state* l0_ = nullptr;
    bool in_flight_ = false;
    bool kid_timer_armed_ = false;
    std::int64_t last_fetch_ms_ = 0;
};

}  // namespace

void install_jwks_refresh(runtime& rt) {
    const auth_config& cfg = rt.config().auth;
    if (cfg.jwks_url.empty()) return;
    auto r = std::make_shared<jwks_refresher>(rt);
    rt.metrics().add({"sy_auth_jwks_fetch_total",
                      metrics::kind::counter,
                      "auth.jwks_url fetches by result (error: the previous keys stay in use).",
                      {"result"}},
                     [r](metrics::emitter& e) { r->collect(e); });
    rt.set_auth_policy(r->first());
    rt.on_loop_start([r](loop_state& ls) {
        if (ls.index == 0) r->start(ls);
    });
}

}  // namespace sy::server
