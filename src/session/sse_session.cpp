#include "switchyard/session/sse_session.hpp"

#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/session/push_format.hpp"

namespace sy::session {

byte_buffer sse_opening(const sse_subscription& sub) {
    byte_buffer first(64);
    if (sub.retry_ms) {
        sse::event_fields f;
        f.retry_ms = sub.retry_ms;
        (void)sse::encode(first, f);
    }
    // An opening comment: the client sees the stream is live (and tests know the subscription
    // exists, since it is registered before this is flushed).
    sse::encode_comment(first, "ok");
    return first;
}

shared_bytes sse_message(const hub::delivery& d, const sse_subscription& sub) {
    if (!sub.event.empty()) return sse_event(d.msg(), sub.envelope, sub.event);
    const bool env = sub.envelope;
    return d.framed(env ? push_slot::sse_envelope : push_slot::sse_raw,
                    [env](const hub::message& msg) { return sse_event(msg, env, {}); });
}

byte_buffer sse_gap(const pending_gap& g) {
    const std::string id = std::to_string(g.to);
    const std::string data = gap_json(g.topic, g.from, g.to, g.lost);
    sse::event_fields f;
    f.id = id;
    f.event = "gap";
    f.data = data;
    byte_buffer out(data.size() + 48);
    (void)sse::encode(out, f);
    return out;
}

const shared_bytes& sse_heartbeat() {
    static thread_local shared_bytes beat = sse::encode_comment_shared("hb");
    return beat;
}

namespace {

class sse_framer final : public push_framer {
  public:
    explicit sse_framer(sse_subscription sub) : sub_(std::move(sub)) {}
    shared_bytes frame(const hub::delivery& d) override { return sse_message(d, sub_); }
    byte_buffer gap(const pending_gap& g) override { return sse_gap(g); }
    shared_bytes heartbeat() override { return sse_heartbeat(); }
    /// The token expired: an "error" event saying so, then the end of the stream (an
    /// EventSource reconnects on its own, with the fresh token its page puts in the URL).
    void farewell(push_target& t, push_end why, std::string_view detail) override {
        if (why != push_end::expired) return;
        sse::event_fields f;
        f.event = "error";
        f.data = detail;
        byte_buffer out(detail.size() + 32);
        (void)sse::encode(out, f);
        t.write(std::move(out));
    }

  private:
    sse_subscription sub_;
};

}  // namespace

bool start_sse(hub::hub_shard& shard, std::unique_ptr<push_target> t, sse_subscription sub,
               std::weak_ptr<push_events>* owner) {
    t->write(sse_opening(sub));  // first, before any history the subscription replays
    push_subscription ps;
    ps.pattern = sub.pattern;
    ps.transport = hub::subscriber_transport::sse;
    ps.start = sub.start;
    ps.heartbeat = sub.heartbeat;
    ps.counters = sub.counters;
    ps.transport = hub::subscriber_transport::sse;
    ps.expires_at_s = sub.expires_at_s;
    push_kind_counters k;
    if (sub.counters) k = {&sub.counters->sse_sessions, &sub.counters->sse_closed};
    return start_push(shard, std::move(t), std::make_unique<sse_framer>(std::move(sub)),
                      std::move(ps), k, owner);
}

}  // namespace sy::session
