// The push core: one hub subscriber loop for every push transport (WebSocket over HTTP/1.1 or an
// h2 stream, SSE over HTTP/1.1 or an h2 response, gRPC Hub.Subscribe).
//
//   push_target   the transport: writes shared bytes, reports queued bytes, ends gracefully,
//                 tells its push_events about drain, server shutdown, peer bytes and its close.
//                 Implementations: tunnel_target (an http::byte_tunnel: the HTTP/1.1 connection
//                 after its upgrade, the h2 extended-CONNECT stream), response_target (an
//                 http::response streamed through its sink, h2 SSE) and the gRPC writer's target
//                 (server/grpc_hub.cpp, rpc/ sits beside session/).
//   push_framer   how messages look on the stream: the message bytes (built once per loop per
//                 protocol through hub::delivery::framed and shared), a gap event, the
//                 heartbeat, the farewell written before an end the server decides.
//   push_stream   subscription handle, slow-subscriber guard (outflow_guard), the drain watch
//                 and heartbeat timers, gap events and push counters, for one target + framer.
//   push_session  owner of target, framer and stream for protocols that receive nothing
//                 (SSE, gRPC); ws_session is the other owner (it also reads WebSocket frames).
//
// Hot path (on_message): guard check against target.queued_bytes(), the framed shared bytes
// from the loop's cache, one target write. No allocation or lock per message.
//
// Lifetime: start_push hands the owner to the target (push_target::open), which keeps it until
// the transport is gone (on_push_closed ran) or the server ended it (finish); the last
// reference is dropped after the current loop turn, never inside a hub callback.
//
// Thread: the target's loop only; the hub shard is that loop's shard.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/base/bytes.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/core/loop.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/session/outflow.hpp"

namespace sy::session {

/// Why a push stream ends when the server ends it.
enum class push_end : std::uint8_t {
    done,           ///< nothing more to say (WebSocket close answered, echo over)
    slow,           ///< the disconnect slow-subscriber policy
    invalid_topic,  ///< the subscription was refused
    shutdown,       ///< the server is going away
    idle,           ///< liveness lost (WebSocket idle timeout)
    protocol,       ///< the peer broke the protocol
    expired,        ///< the subscriber's token expired (WebSocket 3000, SSE error event, gRPC
                    ///< UNAUTHENTICATED)
};

/// What a target reports to the object that owns it. Called on the target's loop.
class push_events {
  public:
    virtual void on_push_drain() = 0;
    /// The server began a graceful shutdown of the transport.
    virtual void on_push_shutdown() = 0;
    /// What the stream served was removed (a route gone after a reload): end as at shutdown.
    virtual void on_push_removed() { on_push_shutdown(); }
    /// The transport is gone (peer left, reset, closed after finish): the last event.
    virtual void on_push_closed() = 0;
    /// Bytes from the peer (lent for the call). Default: ignored (SSE, gRPC server stream).
    virtual void on_push_data(byte_view) {}

  protected:
    ~push_events() = default;
};

class push_target {
  public:
    virtual ~push_target() = default;
    /// Binds the transport's callbacks to *owner and keeps owner alive until the transport is
    /// gone or finish() ran. False when the transport is already gone (owner is dropped).
    virtual bool open(std::shared_ptr<push_events> owner) = 0;
    virtual bool is_open() const = 0;
    /// Queues bytes shared with other subscribers (no copy).
    virtual void write(shared_bytes bytes) = 0;
    /// Queues bytes of this stream only (control frames, gap events): copied or moved.
    virtual void write(byte_buffer&& bytes) = 0;
    /// Output queued in the server for this stream: what the slow-subscriber cap measures.
    virtual std::size_t queued_bytes() const = 0;
    /// Ends the transport gracefully (FIN after flush, END_STREAM, trailers); detail: a
    /// human-readable reason where the transport carries one (gRPC status message).
    virtual void finish(push_end why, std::string_view detail = {}) = 0;
    virtual core::loop& loop() const = 0;
};

class push_framer {
  public:
    virtual ~push_framer() = default;
    /// The message as this stream's bytes: normally d.framed(slot, encoder), built once per loop.
    virtual shared_bytes frame(const hub::delivery& d) = 0;
    /// A gap event (drop-oldest skipped messages).
    virtual byte_buffer gap(const pending_gap& g) = 0;
    /// The heartbeat written while nothing is queued; empty: none.
    virtual shared_bytes heartbeat() { return {}; }
    /// Written before the server ends the stream (WebSocket close frame). Default: nothing.
    virtual void farewell(push_target&, push_end, std::string_view) {}
};

/// Counters one push kind adds to (per loop, push_counters fields); any may be null.
struct push_kind_counters {
    core::counter* opened = nullptr;
    core::counter* closed = nullptr;
};

struct push_subscription {
    std::string pattern;  ///< topic or wildcard pattern
    hub::subscribe_options start;
    millis heartbeat{0};                ///< 0: none (framer.heartbeat() while nothing is queued)
    push_counters* counters = nullptr;  ///< per loop; outlives the stream
    /// What the stream tells the hub it is (push_stream::transport(): sy_hub_subscribers,
    /// the management API's topics).
    hub::subscriber_transport transport = hub::subscriber_transport::other;
    /// Unix seconds at which the subscriber's token expires: the stream ends then
    /// (push_end::expired). 0: never.
    std::int64_t expires_at_s = 0;
};

/// The subscriber loop for one target and framer (see the file comment). The owner forwards the
/// target's events: drain -> drained(), close -> stop().
class push_stream final : public hub::subscriber {
  public:
    push_stream(hub::hub_shard& shard, push_target& t, push_framer& f, push_subscription sub);
    ~push_stream() override;
    push_stream(const push_stream&) = delete;
    push_stream& operator=(const push_stream&) = delete;

    /// Subscribes (history resumes may deliver before this returns) and arms the heartbeat.
    /// A refused pattern ends the stream (push_end::invalid_topic) and returns false.
    bool start();
    void on_message(const hub::delivery& d) override;
    hub::subscriber_transport transport() const override { return sub_.transport; }
    /// The target's queue drained: clears block marks, sends a pending gap.
    void drained();
    /// Farewell + finish + stop: the server ends the stream.
    void end(push_end why, std::string_view detail = {});
    /// Unsubscribes and cancels the timers (transport gone, or ending). Idempotent.
    void stop();
    bool ended() const { return ended_; }
    const push_subscription& subscription() const { return sub_; }
    /// A fresh token (WebSocket refresh): the stream now ends at expires_at_s (0: never).
    void set_expiry(std::int64_t expires_at_s);

  private:
    void send_gap();
    void arm_watch();
    void arm_heartbeat();
    void arm_expiry();

    hub::hub_shard* shard_;
    push_target* target_;
    push_framer* framer_;
    push_subscription sub_;
    outflow_guard guard_;
    hub::subscription_handle handle_;
    core::timer_id watch_{};
    core::timer_id beat_{};
    core::timer_id expiry_{};
    bool ended_ = false;
};

/// Owner of a target, its framer and its stream, for push protocols that read nothing from the
/// peer (SSE, gRPC): shutdown ends the stream, the target's close stops it.
class push_session final : public push_events {
  public:
    push_session(hub::hub_shard& shard, std::unique_ptr<push_target> t,
                 std::unique_ptr<push_framer> f, push_subscription sub, push_kind_counters k);
    ~push_session();
    push_session(const push_session&) = delete;
    push_session& operator=(const push_session&) = delete;

    void on_push_drain() override { stream_.drained(); }
    void on_push_shutdown() override { stream_.end(push_end::shutdown); }
    void on_push_closed() override;

    push_target& target() { return *target_; }
    push_stream& stream() { return stream_; }

  private:
    std::unique_ptr<push_target> target_;
    std::unique_ptr<push_framer> framer_;
    push_stream stream_;
    push_kind_counters kind_;
    bool closed_ = false;
};

/// The one entry of the push core: opens t, starts a push_session of f over it. The target is
/// past its head (HTTP status sent). False when the transport was gone or the pattern refused
/// (the stream is then ended). owner (optional) gets the session, to end it later from the same
/// loop (on_push_shutdown: a route removed by a reload).
bool start_push(hub::hub_shard& shard, std::unique_ptr<push_target> t,
                std::unique_ptr<push_framer> f, push_subscription sub, push_kind_counters k = {},
                std::weak_ptr<push_events>* owner = nullptr);

/// A target over a byte tunnel: the HTTP/1.1 connection after its upgrade (h1_tunnel) or an h2
/// extended-CONNECT stream. finish() is the tunnel's graceful close.
std::unique_ptr<push_target> tunnel_target(std::shared_ptr<http::byte_tunnel> t, core::loop& l);
/// A target over a streamed response whose head is sent (HTTP/2 SSE): finish() ends the body.
std::unique_ptr<push_target> response_target(http::response res, core::loop& l);

}  // namespace sy::session
