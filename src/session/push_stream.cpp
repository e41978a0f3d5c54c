#include "switchyard/session/push_stream.hpp"

#include <algorithm>
#include <chrono>

namespace sy::session {

namespace {

constexpr millis watch_interval{20};  // re-check of a queue over its cap while it drains

/// The owner reference a target keeps, dropped after the current turn (never inside a hub
/// callback or a transport callback that is still on the stack).
void release_later(core::loop& l, std::shared_ptr<push_events>& keep) {
    if (keep) l.defer([k = std::move(keep)] {});
    keep = nullptr;
}

class tunnel_target_impl final : public push_target {
  public:
    tunnel_target_impl(std::shared_ptr<http::byte_tunnel> t, core::loop& l)
        : t_(std::move(t)), loop_(&l) {}
    ~tunnel_target_impl() override {
        if (ev_) detach();  // the owner is going away first: nothing may call it any more
    }

    bool open(std::shared_ptr<push_events> owner) override {
        if (!t_ || !t_->is_open()) return false;
        ev_ = owner.get();
        keep_ = std::move(owner);
        t_->coalesce_writes();
        // The tunnel clears its other callbacks before on_close runs; on_close is the last.
        t_->set_on_data([this](byte_view b) { ev_->on_push_data(b); });
        t_->set_on_drain([this] { ev_->on_push_drain(); });
        t_->set_on_shutdown([this] { ev_->on_push_shutdown(); });
        t_->set_on_close([this] {
            push_events* ev = ev_;
            detach();
            ev->on_push_closed();
            release_later(*loop_, keep_);
        });
        return true;
    }
    bool is_open() const override { return ev_ && t_->is_open(); }
    void write(shared_bytes b) override { (void)t_->write(std::move(b)); }
    void write(byte_buffer&& b) override { (void)t_->write_owned(std::move(b)); }
    std::size_t queued_bytes() const override { return t_->queued_bytes(); }
    // The owner stays until the tunnel's close (the queue flushes first; h2: the peer's
    // END_STREAM or the reset after the close timeout).
    void finish(push_end, std::string_view) override { t_->close(); }
    core::loop& loop() const override { return *loop_; }

  private:
    void detach() {
        ev_ = nullptr;
        t_->set_on_data(nullptr);
        t_->set_on_drain(nullptr);
        t_->set_on_shutdown(nullptr);
        t_->set_on_close(nullptr);
    }

    std::shared_ptr<http::byte_tunnel> t_;
    core::loop* loop_;
    push_events* ev_ = nullptr;
    std::shared_ptr<push_events> keep_;
};

class response_target_impl final : public push_target {
  public:
    response_target_impl(http::response res, core::loop& l) : res_(std::move(res)), loop_(&l) {}

    bool open(std::shared_ptr<push_events> owner) override {
        if (res_.closed()) return false;
        ev_ = owner.get();
        keep_ = std::move(owner);
        // The sink drops these callbacks when the response ends or aborts.
        res_.on_drain([this] {
            if (ev_) ev_->on_push_drain();
        });
        res_.on_abort([this] { gone(); });  // at once if the client already left
        res_.on_shutdown([this] {           // the stream ends (END_STREAM) as h1's does (FIN)
            if (ev_) ev_->on_push_shutdown();
        });
        return ev_ != nullptr;
    }
    bool is_open() const override { return ev_ && !res_.closed(); }
    void write(shared_bytes b) override { (void)res_.write(std::move(b)); }
    void write(byte_buffer&& b) override { (void)res_.sink().write(b.readable()); }
    std::size_t queued_bytes() const override { return res_.queued_bytes(); }
    void finish(push_end, std::string_view) override {
        if (!ev_) return;
        push_events* ev = ev_;
        ev_ = nullptr;
        res_.end();  // no abort follows an end: the owner hears of its close from here
        ev->on_push_closed();
        release_later(*loop_, keep_);
    }
    core::loop& loop() const override { return *loop_; }

  private:
    void gone() {
        if (!ev_) return;
        push_events* ev = ev_;
        ev_ = nullptr;
        ev->on_push_closed();
        release_later(*loop_, keep_);
    }

    http::response res_;
    core::loop* loop_;
    push_events* ev_ = nullptr;
    std::shared_ptr<push_events> keep_;
};

}  // namespace

std::unique_ptr<push_target> tunnel_target(std::shared_ptr<http::byte_tunnel> t, core::loop& l) {
    return std::make_unique<tunnel_target_impl>(std::move(t), l);
}

std::unique_ptr<push_target> response_target(http::response res, core::loop& l) {
    return std::make_unique<response_target_impl>(std::move(res), l);
}

// ---- push_stream ------------------------------------------------------------------------------

push_stream::push_stream(hub::hub_shard& shard, push_target& t, push_framer& f,
                         push_subscription sub)
    : shard_(&shard),
      target_(&t),
      framer_(&f),
      sub_(std::move(sub)),
      guard_(shard, sub_.counters) {}

push_stream::~push_stream() {
    stop();
}

bool push_stream::start() {
    if (ended_) return false;  // ended while opening (shutdown already under way)
    // Resumes from local history may call on_message before subscribe() returns.
    auto h = shard_->subscribe(sub_.pattern, this, sub_.start);
    if (!h) {
        end(push_end::invalid_topic, "invalid topic: " + std::string(hub::to_string(h.error())));
        return false;
    }
    handle_ = std::move(h.value());
    if (ended_) {  // a history resume tripped the disconnect policy
        handle_.reset();
        return false;
    }
    arm_heartbeat();
    arm_expiry();
    return true;
}

void push_stream::on_message(const hub::delivery& d) {
    if (ended_ || !target_->is_open()) return;
    const hub::message& m = d.msg();
    switch (guard_.check(m, target_->queued_bytes(), handle_.id())) {
        case outflow_guard::verdict::skip:
            arm_watch();
            return;
        case outflow_guard::verdict::disconnect:
            end(push_end::slow, "subscriber too slow");
            return;
        case outflow_guard::verdict::send:
            break;
    }
    if (guard_.has_gap()) send_gap();
    if (m.is_gap() && sub_.counters) sub_.counters->gaps_sent.add();
    target_->write(framer_->frame(d));
    if (sub_.counters) sub_.counters->deliveries.add();
    if (guard_.waiting()) arm_watch();
}

void push_stream::drained() {
    if (ended_) return;
    if (guard_.recheck(target_->queued_bytes(), handle_.id())) send_gap();
}

void push_stream::send_gap() {
    auto g = guard_.take_gap();
    if (!g || !target_->is_open()) return;
    target_->write(framer_->gap(*g));
    if (sub_.counters) sub_.counters->gaps_sent.add();
}

void push_stream::end(push_end why, std::string_view detail) {
    if (ended_) return;
    stop();
    if (!target_->is_open()) return;
    framer_->farewell(*target_, why, detail);
    target_->finish(why, detail);
}

void push_stream::stop() {
    ended_ = true;
    handle_.reset();  // here, not only in the destructor: the hub may be gone by then (shutdown)
    core::loop& l = target_->loop();
    if (l.timer_pending(watch_)) l.cancel_timer(watch_);
    if (l.timer_pending(beat_)) l.cancel_timer(beat_);
    if (l.timer_pending(expiry_)) l.cancel_timer(expiry_);
    watch_ = {};
    beat_ = {};
    expiry_ = {};
}

void push_stream::arm_watch() {
    core::loop& l = target_->loop();
    if (ended_ || !target_->is_open() || l.timer_pending(watch_)) return;
    watch_ = l.add_timer(watch_interval, [this] {
        watch_ = {};
        if (ended_ || !target_->is_open()) return;
        if (guard_.recheck(target_->queued_bytes(), handle_.id())) send_gap();
        if (guard_.waiting()) arm_watch();
    });
}

void push_stream::arm_heartbeat() {
    if (sub_.heartbeat.count() <= 0 || ended_) return;
    beat_ = target_->loop().add_timer(sub_.heartbeat, [this] {
        beat_ = {};
        if (ended_ || !target_->is_open()) return;
        if (target_->queued_bytes() == 0) {
            shared_bytes b = framer_->heartbeat();
            if (!b.empty()) target_->write(std::move(b));
        }
        arm_heartbeat();
    });
}

void push_stream::set_expiry(std::int64_t expires_at_s) {
    sub_.expires_at_s = expires_at_s;
    core::loop& l = target_->loop();
    if (l.timer_pending(expiry_)) l.cancel_timer(expiry_);
    expiry_ = {};
    arm_expiry();
}

// The token's exp is wall-clock time (Unix seconds); the timer runs on the loop's monotonic clock,
// so the delay is taken from the wall clock once, here.
void push_stream::arm_expiry() {
    if (sub_.expires_at_s == 0 || ended_) return;
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
    const std::int64_t left_ms = std::max<std::int64_t>(0, sub_.expires_at_s * 1000 - now_ms);
    expiry_ = target_->loop().add_timer(millis(left_ms), [this] {
        expiry_ = {};
        end(push_end::expired, "token expired");
    });
}

// ---- push_session -----------------------------------------------------------------------------

push_session::push_session(hub::hub_shard& shard, std::unique_ptr<push_target> t,
                           std::unique_ptr<push_framer> f, push_subscription sub,
                           push_kind_counters k)
    : target_(std::move(t)),
      framer_(std::move(f)),
      stream_(shard, *target_, *framer_, std::move(sub)),
      kind_(k) {
    if (kind_.opened) kind_.opened->add();
}

push_session::~push_session() {
    if (!closed_) on_push_closed();
}

void push_session::on_push_closed() {
    if (closed_) return;
    closed_ = true;
    stream_.stop();
    if (kind_.closed) kind_.closed->add();
}

bool start_push(hub::hub_shard& shard, std::unique_ptr<push_target> t,
                std::unique_ptr<push_framer> f, push_subscription sub, push_kind_counters k,
                std::weak_ptr<push_events>* owner) {
    push_target& target = *t;
    auto s = std::make_shared<push_session>(shard, std::move(t), std::move(f), std::move(sub), k);
    if (owner) *owner = s;
    if (!target.open(s)) return false;
    return s->stream().start();
}

}  // namespace sy::session
