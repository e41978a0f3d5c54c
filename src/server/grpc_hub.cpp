#include "switchyard/server/grpc_hub.hpp"

#include <switchyard/v1/hub.pb.h>

#include <cstring>
#include <memory>

#include "switchyard/hub/hub.hpp"
#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/rpc/health.hpp"
#include "switchyard/rpc/service.hpp"
#include "switchyard/session/push_format.hpp"

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

grpc::status topic_status(hub::topic_error e) {
    return {status_code::invalid_argument, "invalid topic: " + std::string(hub::to_string(e))};
}

// One Subscribe call: a hub subscriber writing Events to the call. Owned by the call's cancel
// callback (so it lives exactly as long as the call); destroyed on the loop that made it, which
// unsubscribes.
class grpc_subscriber : public hub::subscriber,
                        public std::enable_shared_from_this<grpc_subscriber> {
  public:
    grpc_subscriber(grpc::writer<pb::Event> w, hub::hub_shard* shard)
        : w_(std::move(w)), shard_(shard) {}

    void on_message(const hub::delivery& d) override {
        auto keep = shared_from_this();  // finishing the call may drop the last reference
        if (w_.finished() || w_.cancelled()) return;
        const hub::message& m = d.msg();
        if (!m.is_gap() && w_.above_high_watermark() && !slow(m)) return;
        grpc::context& c = w_.ctx();
        if (c.response_encoding() == grpc::compression::identity)
            c.send_framed(d.framed(session::push_slot::grpc_event, frame_event));
        else
            w_.write(to_event(m));
    }

    hub::subscription_handle handle;

  private:
    // The output is above the high watermark: apply the topic's slow-subscriber policy.
    // Returns true when the message should still be queued.
    bool slow(const hub::message& m) {
        hub::slow_policy p = m.policy ? m.policy->slow : hub::slow_policy::drop_oldest;
        switch (p) {
            case hub::slow_policy::drop_oldest:
                shard_->count_drop();
                return false;
            case hub::slow_policy::disconnect:
                shard_->count_disconnect();
                handle.reset();
                w_.finish({status_code::resource_exhausted, "subscriber too slow"});
                return false;
            case hub::slow_policy::block_publisher:
                if (handle) {
                    shard_->set_over_cap(handle.id(), m.topic, true);
                    std::weak_ptr<grpc_subscriber> weak = weak_from_this();
                    w_.on_drain([weak, topic = m.topic] {
                        auto self = weak.lock();
                        if (self && self->handle)
                            self->shard_->set_over_cap(self->handle.id(), topic, false);
                    });
                }
                return true;
        }
        return false;
    }

    grpc::writer<pb::Event> w_;
    hub::hub_shard* shard_;
};

hub::hub_shard* current_shard(sy::app& a) {
    server::runtime* rt = a.runtime();
    if (!rt) return nullptr;
    loop_state* ls = rt->current_loop();
    return ls ? ls->shard : nullptr;
}

void publish(sy::app& a, const pb::PublishRequest& in, grpc::unary_reply<pb::PublishReply> reply) {
    hub::hub_shard* shard = current_shard(a);
    if (!shard) {
        reply.fail({status_code::unavailable, "hub not running"});
        return;
    }
    shard->publish(
        in.topic(), in.content_type(), shared_bytes::copy_of(in.payload()),
        [reply](result<hub::publish_ack, hub::publish_error> r) {
            if (!r) {
                bool over = r.error() == hub::publish_error::rejected_over_cap;
                reply.fail({over ? status_code::resource_exhausted : status_code::invalid_argument,
                            std::string(hub::to_string(r.error()))});
                return;
            }
            pb::PublishReply out;
            out.set_id(r->id);
            out.set_subscribers(r->reached);
            reply(out);
        });
}

void subscribe(sy::app& a, const pb::SubscribeRequest& in, grpc::writer<pb::Event>& w) {
    hub::hub_shard* shard = current_shard(a);
    if (!shard) {
        w.finish({status_code::unavailable, "hub not running"});
        return;
    }
    hub::subscribe_options opts;
    if (in.start_case() == pb::SubscribeRequest::kSince)
        opts = hub::subscribe_options::after(in.since());
    else if (in.start_case() == pb::SubscribeRequest::kNewest && in.newest())
        opts = hub::subscribe_options::from_newest();
    auto sub = std::make_shared<grpc_subscriber>(w, shard);
    auto h = shard->subscribe(in.pattern(), sub.get(), opts);
    if (!h) {
        w.finish(topic_status(h.error()));
        return;
    }
    sub->handle = std::move(*h);
    // The cancel callback owns the subscriber: client gone or deadline -> unsubscribe.
    w.on_cancel([sub] { sub->handle.reset(); });
}

void stats(sy::app& a, const pb::StatsRequest& in, grpc::unary_reply<pb::TopicStats> reply) {
    hub::hub_shard* shard = current_shard(a);
    if (!shard) {
        reply.fail({status_code::unavailable, "hub not running"});
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

void install_grpc_hub(sy::app& a) {
    grpc::service s("switchyard.v1.Hub");
    s.unary_async<pb::PublishRequest, pb::PublishReply>(
        "Publish", [&a](const pb::PublishRequest& in, grpc::unary_reply<pb::PublishReply> r) {
            publish(a, in, std::move(r));
        });
    s.server_stream<pb::SubscribeRequest, pb::Event>(
        "Subscribe",
        [&a](const pb::SubscribeRequest& in, grpc::writer<pb::Event>& w) { subscribe(a, in, w); });
    s.unary_async<pb::StatsRequest, pb::TopicStats>(
        "Stats", [&a](const pb::StatsRequest& in, grpc::unary_reply<pb::TopicStats> r) {
            stats(a, in, std::move(r));
        });
    s.install(a.router());
    // One health table for the process; it lives as long as the router (the program).
    static grpc::health health;
    health.set("switchyard.v1.Hub", grpc::serving_status::serving);
    health.install(a.router());
}

}  // namespace sy::server
