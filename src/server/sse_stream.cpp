// SSE through the version-independent response (HTTP/2 and any transport that cannot hand over
// its connection): the head goes out with begin(), each event is a shared-bytes write (one DATA
// frame on h2), the stream ends when the client resets it or the server shuts down.
// The slow-subscriber policy sees the response's high watermark instead of a byte count: above
// it counts as "at the cap" (the h2 session's per-stream queue is what it measures).
//
// Lifetime: the object is owned by the response's abort callback (and by its timers through a
// weak pointer); when the client leaves, the callback runs once, drops the subscription and the
// cycle ends.
#include <memory>

#include "gateway_internal.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::server {

namespace {

class sse_stream final : public hub::subscriber, public std::enable_shared_from_this<sse_stream> {
  public:
    sse_stream(http::response res, hub::hub_shard& shard, core::loop& l,
               session::sse_subscription sub)
        : res_(std::move(res)),
          shard_(&shard),
          loop_(&l),
          sub_(std::move(sub)),
          guard_(shard, sub_.counters) {}

    bool start() {
        if (!res_.begin(200, {{"Content-Type", "text/event-stream"},
                              {"Cache-Control", "no-cache"},
                              {"X-Accel-Buffering", "no"}})) {
            return false;
        }
        if (sub_.counters) sub_.counters->sse_sessions.add();
        res_.write(session::sse_opening(sub_).view());
        auto h = shard_->subscribe(sub_.pattern, this, sub_.start);
        if (!h) {
            res_.end();
            return false;
        }
        handle_ = std::move(h.value());
        std::weak_ptr<sse_stream> weak = shared_from_this();
        res_.on_abort([self = shared_from_this()] { self->stop(); });
        res_.on_drain([weak] {
            if (auto s = weak.lock()) s->drained();
        });
        res_.on_shutdown([weak] {  // the stream ends (END_STREAM) as an HTTP/1.1 one does (FIN)
            if (auto s = weak.lock()) {
                s->stop();
                s->res_.end();
            }
        });
        schedule_heartbeat();
        return true;
    }

    void on_message(const hub::delivery& d) override {
        if (stopped_) return;
        const hub::message& m = d.msg();
        switch (guard_.check(m, queued(), handle_.id())) {
            case session::outflow_guard::verdict::skip:
                return;  // on_drain re-checks and sends the gap
            case session::outflow_guard::verdict::disconnect:
                stop();
                res_.end();
                return;
            case session::outflow_guard::verdict::send:
                break;
        }
        if (auto g = guard_.take_gap()) send_gap(*g);
        res_.write(session::sse_message(d, sub_));
        if (sub_.counters) sub_.counters->deliveries.add();
    }

  private:
    // The response reports only "above the high watermark"; map it to the guard's byte scale.
    std::size_t queued() const { return res_.above_high_watermark() ? std::size_t(1) << 62 : 0; }

    void drained() {
        if (stopped_) return;
        if (guard_.recheck(queued(), handle_.id())) {
            if (auto g = guard_.take_gap()) send_gap(*g);
        }
    }

    void send_gap(const session::pending_gap& g) {
        res_.write(session::sse_gap(g).view());
        if (sub_.counters) sub_.counters->gaps_sent.add();
    }

    void schedule_heartbeat() {
        if (sub_.heartbeat.count() <= 0) return;
        std::weak_ptr<sse_stream> weak = shared_from_this();
        beat_ = loop_->add_timer(sub_.heartbeat, [weak] {
            auto s = weak.lock();
            if (!s || s->stopped_) return;
            if (!s->res_.above_high_watermark()) s->res_.write(session::sse_heartbeat());
            s->schedule_heartbeat();
        });
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        handle_.reset();
        if (loop_->timer_pending(beat_)) loop_->cancel_timer(beat_);
        if (sub_.counters) sub_.counters->sse_closed.add();
    }

    http::response res_;
    hub::hub_shard* shard_;
    core::loop* loop_;
    session::sse_subscription sub_;
    session::outflow_guard guard_;
    hub::subscription_handle handle_;
    core::timer_id beat_{};
    bool stopped_ = false;
};

}  // namespace

void start_sse_stream(http::response& res, hub::hub_shard& shard, core::loop& l,
                      session::sse_subscription sub) {
    auto s = std::make_shared<sse_stream>(res, shard, l, std::move(sub));
    if (!s->start() && !res.headers_sent()) res.send(500, "cannot subscribe\n");
}

}  // namespace sy::server
