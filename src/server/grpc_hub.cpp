#include "switchyard/server/grpc_hub.hpp"

#include <switchyard/v1/hub.pb.h>

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <optional>

#include "switchyard/core/loop.hpp"
#include "switchyard/hub/hub.hpp"
#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/rpc/health.hpp"
#include "switchyard/rpc/service.hpp"
#include "switchyard/server/auth.hpp"
#include "switchyard/session/push_format.hpp"
#include "switchyard/session/push_stream.hpp"

namespace sy::server {

namespace {

namespace pb = ::switchyard::v1;
using grpc::status_code;

pb::Event to_event(const hub::message& m) {
    pb::Event e;
    if (m.is_gap()) {
        pb::Gap* g = e.mutable_gap();
        g->set_topic(m.topic);
        g->set_from(m.gap_from);
        g->set_to(m.gap_to);
    } else {
        pb::Message* msg = e.mutable_message();
        msg->set_id(m.id);
        msg->set_epoch(m.epoch);
        msg->set_topic(m.topic);
        msg->set_payload(std::string(m.payload.view()));
        msg->set_content_type(m.content_type);
        msg->set_time_ms(m.time_ms);
    }
    return e;
}

// The Event as one uncompressed length-prefixed gRPC message, built once per loop per message
// (hub::delivery framing cache) and shared by every identity-encoded Subscribe call.
shared_bytes frame_event(const hub::message& m) {
    pb::Event e = to_event(m);
    std::size_t n = e.ByteSizeLong();
    shared_bytes out = shared_bytes::allocate(5 + n);
    auto prefix = grpc::encode_prefix(static_cast<std::uint32_t>(n), false);
    std::memcpy(out.mutable_data(), prefix.data(), prefix.size());
    e.SerializeWithCachedSizesToArray(out.mutable_data() + 5);
    return out;
}

rpc::status topic_status(hub::topic_error e) {
    return {status_code::invalid_argument, "invalid topic: " + std::string(hub::to_string(e))};
}

// The gap event of a drop-oldest run (messages from..to skipped for this subscriber).
byte_buffer frame_gap(const session::pending_gap& g) {
    pb::Event e;
    pb::Gap* gap = e.mutable_gap();
    gap->set_topic(g.topic);
    gap->set_from(g.from);
    gap->set_to(g.to);
    std::size_t n = e.ByteSizeLong();
    byte_buffer out(5 + n);
    auto prefix = grpc::encode_prefix(static_cast<std::uint32_t>(n), false);
    out.append(byte_view(prefix.data(), prefix.size()));
    std::string body = e.SerializeAsString();
    out.append(as_bytes(std::string_view(body)));
    return out;
}

// Subscribe's Events on the push core: identity-framed Events, cached per loop.
class event_framer final : public session::push_framer {
  public:
    shared_bytes frame(const hub::delivery& d) override {
        return d.framed(session::push_slot::grpc_event, frame_event);
    }
    byte_buffer gap(const session::pending_gap& g) override { return frame_gap(g); }
};

// The gRPC writer of one Subscribe call as a push target. Writes are identity-framed messages:
// shared as they are for an identity response, re-encoded (gzip) per call otherwise.
// The call's cancel (client gone, deadline, server shutdown: UNAVAILABLE) is the close.
class writer_target final : public session::push_target {
  public:
    writer_target(rpc::writer<pb::Event> w, core::loop& l) : w_(std::move(w)), loop_(&l) {}

    bool open(std::shared_ptr<session::push_events> owner) override {
        if (w_.finished() || w_.cancelled()) return false;
        ev_ = owner.get();
        keep_ = std::move(owner);
        w_.on_drain([this] {
            if (ev_) ev_->on_push_drain();
        });
        w_.on_cancel([this] { gone(); });  // the call drops it when it ends: no cycle
        return ev_ != nullptr;
    }
    bool is_open() const override { return ev_ && !w_.finished() && !w_.cancelled(); }
    void write(shared_bytes b) override {
        rpc::context& c = w_.ctx();
        if (c.response_encoding() == grpc::compression::identity) {
            c.send_framed(std::move(b));
        } else if (b.size() >= 5) {
            c.send_message(byte_view(b.data() + 5, b.size() - 5));
        }
    }
    void write(byte_buffer&& b) override {
        if (b.size() >= 5) w_.ctx().send_message(b.readable().subspan(5));
    }
    std::size_t queued_bytes() const override { return w_.ctx().queued_bytes(); }
    void finish(session::push_end why, std::string_view detail) override {
        if (!ev_) return;
        session::push_events* ev = ev_;
        ev_ = nullptr;
        w_.finish(status_of(why, detail));
        ev->on_push_closed();
        release();
    }
    core::loop& loop() const override { return *loop_; }

  private:
    static rpc::status status_of(session::push_end why, std::string_view detail) {
        switch (why) {
            case session::push_end::slow:
                return {status_code::resource_exhausted, std::string(detail)};
            case session::push_end::invalid_topic:
                return {status_code::invalid_argument, std::string(detail)};
            case session::push_end::shutdown:
                return {status_code::unavailable, "server shutting down"};
            case session::push_end::expired:
                return {status_code::unauthenticated, "token expired"};
            default:
                return {};
        }
    }
    void gone() {
        if (!ev_) return;
        session::push_events* ev = ev_;
        ev_ = nullptr;
        ev->on_push_closed();
        release();
    }
    void release() {
        if (keep_) loop_->defer([k = std::move(keep_)] {});
        keep_ = nullptr;
    }

    rpc::writer<pb::Event> w_;
    core::loop* loop_;
    session::push_events* ev_ = nullptr;
    std::shared_ptr<session::push_events> keep_;
};

hub::hub_shard* current_shard(app& a) {
    server::runtime* rt = a.runtime();
    if (!rt) return nullptr;
    loop_state* ls = rt->current_loop();
    return ls ? ls->shard : nullptr;
}

/// A refused publish as a gRPC status: over cap is RESOURCE_EXHAUSTED, a sys.* topic (the
/// server's own) PERMISSION_DENIED, anything else about the request INVALID_ARGUMENT.
status_code status_of(hub::publish_error e) {
    if (e == hub::publish_error::rejected_over_cap) return status_code::resource_exhausted;
    if (e == hub::publish_error::reserved_topic) return status_code::permission_denied;
    if (e == hub::publish_error::log_unavailable) return status_code::unavailable;
    return status_code::invalid_argument;
}

/// The gate for a Hub call ([auth]; the `authorization` metadata is the request's header, read
/// by the identity filter): UNAUTHENTICATED for no or a bad token, PERMISSION_DENIED for a valid
/// one without the permission. A topic the hub would refuse is left to the hub's answer.
std::optional<rpc::status> refused(const rpc::call& c, auth::action act, std::string_view topic,
                                   bool valid) {
    if (!valid) return std::nullopt;
    const http::request* req = c.request();
    const int s =
        req ? authorize_status(*req, act, topic) : authorize_status(nullptr, false, act, topic);
    if (s == 0) return std::nullopt;
    if (s == 401) {
        const std::string_view why = req ? req->token_refused() : std::string_view{};
        return rpc::status{status_code::unauthenticated,
                           std::string(why.empty() ? "token required" : why)};
    }
    return rpc::status{status_code::permission_denied,
                       fmt::format("not permitted to {} {}", auth::to_string(act), topic)};
}

void publish(app& a, const pb::PublishRequest& in, rpc::unary_reply<pb::PublishReply> reply) {
    hub::hub_shard* shard = current_shard(a);
    if (!shard) {
        reply.fail({status_code::unavailable, "hub not running"});
        return;
    }
    if (auto no = refused(reply.ctx(), auth::action::publish, in.topic(),
                          hub::validate_topic(in.topic()).has_value())) {
        reply.fail(*no);
        return;
    }
    shard->publish(
        in.topic(), in.content_type(), shared_bytes::copy_of(in.payload()),
        [reply](result<hub::publish_ack, hub::publish_error> r) {
            if (!r) {
                reply.fail({status_of(r.error()), std::string(hub::to_string(r.error()))});
                return;
            }
            pb::PublishReply out;
            out.set_id(r->id);
            out.set_subscribers(r->reached);
            out.set_epoch(r->epoch);
            reply(out);
        });
}

void subscribe(app& a, const pb::SubscribeRequest& in, rpc::writer<pb::Event>& w) {
    hub::hub_shard* shard = current_shard(a);
    core::loop* l = core::loop::current();
    if (!shard || !l) {
        w.finish({status_code::unavailable, "hub not running"});
        return;
    }
    if (auto no = refused(w.ctx(), auth::action::subscribe, in.pattern(),
                          hub::validate_pattern(in.pattern()).has_value())) {
        w.finish(*no);
        return;
    }
    session::push_subscription sub;
    sub.pattern = in.pattern();
    sub.transport = hub::subscriber_transport::grpc;
    if (const http::request* req = w.ctx().request(); req && req->principal())
        sub.expires_at_s = current_policy().deadline_of(*req->principal());
    if (in.start_case() == pb::SubscribeRequest::kSince)
        sub.start = hub::subscribe_options::after(in.since(), in.epoch());
    else if (in.start_case() == pb::SubscribeRequest::kNewest && in.newest())
        sub.start = hub::subscribe_options::from_newest();
    // The same push core as WebSocket and SSE: slow-subscriber policy against the call's queued
    // bytes, gap events for drop-oldest, one shared frame per loop per message.
    session::start_push(*shard, std::make_unique<writer_target>(w, *l),
                        std::make_unique<event_framer>(), std::move(sub));
}

void stats(app& a, const pb::StatsRequest& in, rpc::unary_reply<pb::TopicStats> reply) {
    hub::hub_shard* shard = current_shard(a);
    if (!shard) {
        reply.fail({status_code::unavailable, "hub not running"});
        return;
    }
    if (auto no = refused(reply.ctx(), auth::action::subscribe, in.topic(),
                          hub::validate_topic(in.topic()).has_value())) {
        reply.fail(*no);
        return;
    }
    shard->stats(in.topic(),
                 [reply, topic = in.topic()](result<hub::topic_stats, hub::topic_error> r) {
                     if (!r) {
                         reply.fail(topic_status(r.error()));
                         return;
                     }
                     pb::TopicStats out;
                     out.set_topic(topic);
                     out.set_last_id(r->last_id);
                     out.set_history_count(r->history_count);
                     out.set_subscribers(r->subscribers);
                     out.set_publishes(r->publishes);
                     out.set_deliveries(r->deliveries);
                     out.set_over_cap(r->over_cap);
                     reply(out);
                 });
}

}  // namespace

void install_grpc_hub(app& a) {
    rpc::service s("switchyard.v1.Hub");
    s.unary_async<pb::PublishRequest, pb::PublishReply>(
        "Publish", [&a](const pb::PublishRequest& in, rpc::unary_reply<pb::PublishReply> r) {
            publish(a, in, std::move(r));
        });
    s.server_stream<pb::SubscribeRequest, pb::Event>(
        "Subscribe",
        [&a](const pb::SubscribeRequest& in, rpc::writer<pb::Event>& w) { subscribe(a, in, w); });
    s.unary_async<pb::StatsRequest, pb::TopicStats>(
        "Stats", [&a](const pb::StatsRequest& in, rpc::unary_reply<pb::TopicStats> r) {
            stats(a, in, std::move(r));
        });
    s.install(a.router());
    // One health table for the process; it lives as long as the router (the program).
    static rpc::health health;
    health.set("switchyard.v1.Hub", rpc::serving_status::serving);
    health.install(a.router());
}

}  // namespace sy::server
