#include "test_service.hpp"

#include <src/proto/grpc/testing/empty.pb.h>
#include <src/proto/grpc/testing/messages.pb.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace interop {
namespace {

namespace gt = ::grpc::testing;
using sy::grpc::status_code;
using sy::rpc::status;
using out_msg = gt::StreamingOutputCallResponse;

constexpr std::string_view k_echo_initial = "x-grpc-test-echo-initial";
constexpr std::string_view k_echo_trailing = "x-grpc-test-echo-trailing-bin";

// "Echo Metadata": the initial value goes back as a response header, the trailing one (a -bin
// key: base64 on the wire, echoed as received) as a trailer, Trailers-Only answers included.
void echo_metadata(sy::rpc::context& ctx) {
    if (auto v = ctx.metadata(k_echo_initial)) ctx.add_header(k_echo_initial, *v);
    if (auto v = ctx.metadata(k_echo_trailing)) ctx.add_trailer(k_echo_trailing, *v);
}

// "Echo Status": a response_status with a non-zero code is the status the call ends with.
std::optional<status> echo_status(const gt::EchoStatus& s) {
    if (s.code() == 0) return std::nullopt;
    auto code = s.code() > 0 && s.code() <= static_cast<int>(status_code::unauthenticated)
                    ? static_cast<status_code>(s.code())
                    : status_code::unknown;
    return status{code, s.message()};
}

// "CompressedRequest": expect_compressed, when present, must match the message's flag.
std::optional<status> check_compression(const sy::rpc::context& ctx, bool has, bool expected) {
    if (!has || expected == ctx.message_compressed()) return std::nullopt;
    return status{status_code::invalid_argument,
                  expected ? "expected a compressed request" : "expected an uncompressed request"};
}

std::optional<status> check_payload(gt::PayloadType type, std::int32_t size,
                                    const test_service_options& o) {
    if (type != gt::COMPRESSABLE) return status{status_code::invalid_argument, "response_type"};
    if (size < 0) return status{status_code::invalid_argument, "negative response size"};
    if (static_cast<std::uint64_t>(size) > o.max_response_size)
        return status{status_code::resource_exhausted, "response size over --max-response-size"};
    return std::nullopt;
}

gt::Payload zeros(gt::PayloadType type, std::int32_t size) {
    gt::Payload p;
    p.set_type(type);
    p.mutable_body()->assign(static_cast<std::size_t>(size), '\0');
    return p;
}

// The responses of StreamingOutputCall, FullDuplexCall and HalfDuplexCall, sent in order: each
// after its interval_us (a call timer: cancelled with the call), none while the call's output
// is above the session's high watermark (resumed by on_drain). The queue holds a writer handle,
// so it ends the call itself (its end status); the callbacks that hold the queue (timer, drain,
// the stream's on_message/on_end) are all dropped by the call when it ends, whoever ends it.
class response_queue : public std::enable_shared_from_this<response_queue> {
  public:
    response_queue(sy::rpc::writer<out_msg> w, const test_service_options& o, bool held)
        : w_(std::move(w)), opts_(o), held_(held) {}

    /// Queues req's responses, then its echo status if any (later requests are then ignored).
    void add(const gt::StreamingOutputCallRequest& req) {
        if (end_) return;
        for (const gt::ResponseParameters& p : req.response_parameters()) {
            if (auto bad = check_payload(req.response_type(), p.size(), opts_)) return fail(*bad);
            if (steps_.size() >= opts_.max_pending_responses)
                return fail({status_code::resource_exhausted, "too many pending responses"});
            bool compress = !p.has_compressed() || p.compressed().value();
            // Asked for: gzip for the call (only possible before the first response).
            if (p.has_compressed() && compress)
                w_.ctx().set_response_encoding(sy::grpc::compression::gzip);
            steps_.push_back({req.response_type(), p.size(), p.interval_us(), !compress});
        }
        if (auto s = echo_status(req.response_status())) end_ = std::move(s);
        pump();
    }
    /// The client half-closed: OK once the queued responses are out (held queues start now).
    void close() {
        held_ = false;
        if (!end_) end_ = status{};
        pump();
    }

  private:
    struct step {
        gt::PayloadType type;
        std::int32_t size;
        std::int32_t interval_us;
        bool no_compression;
    };

    void fail(const status& s) {
        steps_.clear();
        end_ = s;
        w_.finish(s);
    }

    void pump() {
        if (waiting_ || held_) return;
        while (!steps_.empty()) {
            if (w_.finished() || w_.cancelled()) return;
            const step& s = steps_.front();
            if (s.interval_us > 0 && !slept_) {
                waiting_ = true;
                w_.ctx().schedule(std::chrono::microseconds(s.interval_us),
                                  [self = shared_from_this()] {
                                      self->waiting_ = false;
                                      self->slept_ = true;
                                      self->pump();
                                  });
                return;
            }
            if (w_.above_high_watermark()) {
                waiting_ = true;
                w_.on_drain([self = shared_from_this()] {
                    self->waiting_ = false;
                    self->pump();
                });
                return;
            }
            out_msg m;
            *m.mutable_payload() = zeros(s.type, s.size);
            sy::rpc::write_options wo{.no_compression = s.no_compression};
            steps_.pop_front();
            slept_ = false;
            if (!w_.write(m, wo)) return;
        }
        if (end_) w_.finish(*end_);
    }

    sy::rpc::writer<out_msg> w_;
    test_service_options opts_;
    std::deque<step> steps_;
    std::optional<status> end_;
    bool held_;             // HalfDuplexCall: nothing goes out before the client half-closes
    bool waiting_ = false;  // a timer or a drain callback will resume pump()
    bool slept_ = false;    // the front step's interval has passed
};

void add_unary_methods(sy::rpc::service& s, const test_service_options& o) {
    s.unary<gt::Empty, gt::Empty>(
        "EmptyCall", [](const gt::Empty&, sy::rpc::context& ctx) -> sy::rpc::result<gt::Empty> {
            echo_metadata(ctx);
            return gt::Empty{};
        });
    s.unary<gt::SimpleRequest, gt::SimpleResponse>(
        "UnaryCall",
        [o](const gt::SimpleRequest& req,
            sy::rpc::context& ctx) -> sy::rpc::result<gt::SimpleResponse> {
            echo_metadata(ctx);
            if (auto bad = check_compression(ctx, req.has_expect_compressed(),
                                             req.expect_compressed().value()))
                return sy::unexpected<status>(*bad);
            if (auto s = echo_status(req.response_status())) return sy::unexpected<status>(*s);
            if (auto bad = check_payload(req.response_type(), req.response_size(), o))
                return sy::unexpected<status>(*bad);
            if (req.has_response_compressed())
                ctx.set_response_encoding(req.response_compressed().value()
                                              ? sy::grpc::compression::gzip
                                              : sy::grpc::compression::identity);
            gt::SimpleResponse resp;
            *resp.mutable_payload() = zeros(req.response_type(), req.response_size());
            return resp;
        });
}

void add_streaming_methods(sy::rpc::service& s, const test_service_options& o) {
    using in_req = gt::StreamingInputCallRequest;
    using in_resp = gt::StreamingInputCallResponse;
    using out_req = gt::StreamingOutputCallRequest;
    s.server_stream<out_req, out_msg>("StreamingOutputCall",
                                      [o](const out_req& req, sy::rpc::writer<out_msg>& w) {
                                          echo_metadata(w.ctx());
                                          auto q = std::make_shared<response_queue>(w, o, false);
                                          q->add(req);
                                          q->close();
                                      });
    s.client_stream<in_req, in_resp>(
        "StreamingInputCall", [](sy::rpc::stream<in_req, in_resp>& st) {
            echo_metadata(st.ctx());
            auto total = std::make_shared<std::uint64_t>(0);
            st.on_message([st, total](const in_req& r) mutable {
                if (auto bad = check_compression(st.ctx(), r.has_expect_compressed(),
                                                 r.expect_compressed().value())) {
                    st.finish(*bad);
                    return;
                }
                *total += r.payload().body().size();
            });
            st.on_end([st, total]() mutable {
                in_resp resp;
                constexpr std::uint64_t max = std::numeric_limits<std::int32_t>::max();
                resp.set_aggregated_payload_size(static_cast<std::int32_t>(std::min(*total, max)));
                st.write(resp);
                st.finish();
            });
        });
    // FullDuplexCall serves each request at once; HalfDuplexCall holds them until half-close.
    for (bool held : {false, true}) {
        s.bidi<out_req, out_msg>(held ? "HalfDuplexCall" : "FullDuplexCall",
                                 [o, held](sy::rpc::stream<out_req, out_msg>& st) {
                                     echo_metadata(st.ctx());
                                     auto q = std::make_shared<response_queue>(st, o, held);
                                     st.on_message([q](const out_req& r) { q->add(r); });
                                     st.on_end([q] { q->close(); });
                                 });
    }
}

}  // namespace

sy::rpc::service make_test_service(const test_service_options& o) {
    sy::rpc::service s("grpc.testing.TestService");
    add_unary_methods(s, o);
    add_streaming_methods(s, o);
    return s;
}

}  // namespace interop
