#include "switchyard/rpc/health.hpp"

#include <grpc/health/v1/health.pb.h>

#include <algorithm>
#include <vector>

#include "switchyard/rpc/service.hpp"

namespace sy::rpc {

namespace pb = ::grpc::health::v1;

namespace {

pb::HealthCheckResponse::ServingStatus to_pb(serving_status s) {
    switch (s) {
        case serving_status::serving:
            return pb::HealthCheckResponse::SERVING;
        case serving_status::not_serving:
            return pb::HealthCheckResponse::NOT_SERVING;
        case serving_status::unknown:
            break;
    }
    return pb::HealthCheckResponse::UNKNOWN;
}

pb::HealthCheckResponse reply(pb::HealthCheckResponse::ServingStatus s) {
    pb::HealthCheckResponse r;
    r.set_status(s);
    return r;
}

}  // namespace

health::health() {
    set("", serving_status::serving);
}
health::~health() = default;

void health::set(std::string_view service, serving_status s) {
    std::lock_guard lock(mu_);
    auto it = table_.find(service);
    if (it == table_.end())
        table_.emplace(std::string(service), s);
    else
        it->second = s;
}

bool health::get(std::string_view service, serving_status& out) const {
    std::lock_guard lock(mu_);
    auto it = table_.find(service);
    if (it == table_.end()) return false;
    out = it->second;
    return true;
}

void health::install(http::router& r) {
    service s("grpc.health.v1.Health");
    s.unary<pb::HealthCheckRequest, pb::HealthCheckResponse>(
        "Check",
        [this](const pb::HealthCheckRequest& in, context&) -> result<pb::HealthCheckResponse> {
            serving_status st;
            if (!get(in.service(), st))
                return fail(grpc::status_code::not_found, "unknown service " + in.service());
            return reply(to_pb(st));
        });
    s.server_stream<pb::HealthCheckRequest, pb::HealthCheckResponse>(
        "Watch", [this](const pb::HealthCheckRequest& in, writer<pb::HealthCheckResponse>& w) {
            serving_status st;
            bool known = get(in.service(), st);
            w.write(reply(known ? to_pb(st) : pb::HealthCheckResponse::SERVICE_UNKNOWN));
            // The stream stays open until the client cancels: the cancel callback holds a
            // writer copy (a cycle the call breaks when it ends).
            w.on_cancel([keep = w] {});
        });
    s.install(r);
}

}  // namespace sy::rpc
