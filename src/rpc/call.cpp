#include "switchyard/rpc/call.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "switchyard/core/loop.hpp"
#include "switchyard/proto/grpc/metadata.hpp"
#include "switchyard/rpc/call_stats.hpp"

namespace sy::rpc {

namespace {

constexpr std::string_view accept_encodings = "identity,gzip";

// The client's grpc-accept-encoding lists gzip (absent: it accepts what it sends itself).
bool accepts_gzip(const http::request& req, grpc::compression sent) {
    auto v = req.header("grpc-accept-encoding");
    if (!v) return sent == grpc::compression::gzip;
    return v->find("gzip") != std::string_view::npos;
}

void set_fields(http::response& res, const grpc::field_list& fields) {
    for (const grpc::field& f : fields) res.set_header(f.name, f.value);
}

}  // namespace

void reply_trailers_only(http::response& res, const status& s) {
    if (res.headers_sent() || res.closed()) return;
    set_fields(res, grpc::trailers_only(s.code, s.message));
    res.begin(200, {}, std::uint64_t{0});
    res.end();
}

std::shared_ptr<call> call::accept(http::request& req, http::response res, const call_options& opts,
                                   method_kind kind, core::loop* loop) {
    // PROTOCOL-HTTP2.md: "If Content-Type does not begin with application/grpc, gRPC servers
    // SHOULD respond with HTTP status of 415". Sub-types we cannot decode get a gRPC status.
    auto ct = grpc::classify_content_type(req.header("content-type").value_or(""));
    if (ct == grpc::content_type_kind::not_grpc) {
        res.send(415, "Unsupported Media Type: expected application/grpc\n");
        return nullptr;
    }
    // A refused call is counted with the status it gets (415 is not a gRPC status).
    auto refuse = [&](const status& s) {
        count_call(opts.method_id, s.code);
        reply_trailers_only(res, s);
    };
    if (ct == grpc::content_type_kind::grpc_other) {
        refuse({grpc::status_code::unimplemented, "only application/grpc+proto"});
        return nullptr;
    }
    grpc::compression in = grpc::compression::identity;
    if (auto enc = req.header("grpc-encoding")) {
        auto parsed = grpc::parse_encoding(*enc);
        if (!parsed) {
            res.set_header("grpc-accept-encoding", accept_encodings);
            refuse({grpc::status_code::unimplemented,
                    "unsupported grpc-encoding " + std::string(*enc)});
            return nullptr;
        }
        in = *parsed;
    }
    std::optional<std::chrono::nanoseconds> timeout;
    if (auto t = req.header("grpc-timeout")) {
        auto parsed = grpc::parse_timeout(*t);
        if (!parsed) {
            refuse({grpc::status_code::internal, "malformed grpc-timeout"});
            return nullptr;
        }
        timeout = *parsed;
        if (opts.max_deadline.count() > 0 && *timeout > opts.max_deadline)
            timeout = opts.max_deadline;
    }
    auto c = std::make_shared<call>(req, std::move(res), opts, kind);
    c->in_encoding_ = in;
    c->gzip_accepted_ = accepts_gzip(req, in);
    if (in == grpc::compression::gzip && c->gzip_accepted_)
        c->out_encoding_ = grpc::compression::gzip;
    c->loop_ = loop ? loop : core::loop::current();
    // limits.max_body (request::max_body) bounds each request message, as it bounds a body.
    c->dec_ = grpc::decoder({.max_message_size = static_cast<std::size_t>(std::min<std::uint64_t>(
                                 opts.max_receive_message_size, req.max_body())),
                             .max_inflated_size = opts.max_inflated_size,
                             .encoding = in});
    std::weak_ptr<call> weak = c;
    c->res_.on_abort([weak] {
        if (auto self = weak.lock()) self->on_transport_abort();
    });
    if (timeout) c->start_deadline(*timeout);
    if (kind != method_kind::unary) {
        c->res_.on_shutdown([weak] {
            if (auto self = weak.lock()) self->on_server_shutdown();
        });
    }
    return c;
}

call::call(http::request& req, http::response res, const call_options& opts, method_kind kind)
    : req_(&req),
      res_(std::move(res)),
      opts_(opts),
      kind_(kind),
      path_(req.path()),
      peer_(req.remote_address()) {}

call::~call() {
    // Every handle is gone and nobody answered: the handler lost the call.
    if (!finished_ && !cancelled_)
        finish({grpc::status_code::internal, "handler dropped the call"});
    if (loop_ && deadline_timer_.valid()) loop_->cancel_timer(deadline_timer_);
}

void call::start_deadline(std::chrono::nanoseconds timeout) {
    if (!loop_) return;
    deadline_ns_ = loop_->now_ns() + timeout.count();
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout);
    std::weak_ptr<call> weak = weak_from_this();
    deadline_timer_ = loop_->add_timer(ms, [weak] {
        if (auto self = weak.lock()) self->on_deadline();
    });
}

bool call::schedule(std::chrono::microseconds delay, std::function<void()> fn) {
    if (finished_ || cancelled_ || !loop_ || !fn) return false;
    // The id is only known after add_timer_at returns: the callback finds it through a shared
    // slot to drop it from timers_ when it fires.
    auto id = std::make_shared<core::timer_id>();
    std::weak_ptr<call> weak = weak_from_this();
    *id = loop_->add_timer_at(
        loop_->now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count(),
        [weak, id, fn = std::move(fn)] {
            auto self = weak.lock();
            if (!self) return;
            std::erase(self->timers_, *id);
            if (!self->finished_ && !self->cancelled_) fn();
        });
    timers_.push_back(*id);
    return true;
}

bool call::set_response_encoding(grpc::compression c) {
    if (started_ || finished_ || cancelled_) return out_encoding_ == c;
    if (c == grpc::compression::gzip && !gzip_accepted_) return false;
    out_encoding_ = c;
    return true;
}

std::optional<std::string_view> call::metadata(std::string_view key) const {
    if (!req_) return std::nullopt;
    return req_->header(key);
}

void call::add_header(std::string_view name, std::string_view value) {
    if (!started_ && !finished_) res_.add_header(name, value);
}

void call::add_trailer(std::string_view name, std::string_view value) {
    if (!finished_) trailers_.emplace_back(name, value);
}

void call::on_cancel(std::function<void()> fn) {
    if (cancelled_) {
        if (fn) fn();
        return;
    }
    if (!finished_) on_cancel_ = std::move(fn);
}

bool call::begin_response() {
    if (started_) return true;
    if (res_.closed() || res_.headers_sent()) return false;
    set_fields(res_, grpc::response_headers(out_encoding_));
    res_.set_header("grpc-accept-encoding", accept_encodings);
    started_ = res_.begin(200);
    return started_;
}

bool call::send_prefixed(std::string& framed, write_options o) {
    if (finished_ || cancelled_ || framed.size() < 5) return false;
    std::size_t n = framed.size() - 5;
    if (out_encoding_ == grpc::compression::gzip && !o.no_compression &&
        n >= opts_.min_compress_size) {
        scratch_.clear();
        byte_view payload(reinterpret_cast<const std::uint8_t*>(framed.data()) + 5, n);
        if (!grpc::gzip_compress(payload, scratch_)) {
            finish({grpc::status_code::internal, "compression failed"});
            return false;
        }
        framed.resize(5 + scratch_.size());
        std::memcpy(framed.data() + 5, scratch_.data(), scratch_.size());
        n = scratch_.size();
        auto p = grpc::encode_prefix(static_cast<std::uint32_t>(n), true);
        std::memcpy(framed.data(), p.data(), p.size());
    } else {
        auto p = grpc::encode_prefix(static_cast<std::uint32_t>(n), false);
        std::memcpy(framed.data(), p.data(), p.size());
    }
    if (!begin_response()) return false;
    ++sent_;
    return res_.write(std::string_view(framed)) != http::write_status::closed;
}

bool call::send_message(byte_view msg, write_options o) {
    std::string framed(5 + msg.size(), '\0');
    if (!msg.empty()) std::memcpy(framed.data() + 5, msg.data(), msg.size());
    return send_prefixed(framed, o);
}

bool call::send_framed(shared_bytes framed) {
    if (finished_ || cancelled_ || out_encoding_ != grpc::compression::identity) return false;
    if (!begin_response()) return false;
    ++sent_;
    return res_.write(std::move(framed)) != http::write_status::closed;
}

bool call::above_high_watermark() const {
    return !finished_ && !cancelled_ && res_.above_high_watermark();
}

std::size_t call::queued_bytes() const {
    return finished_ || cancelled_ ? 0 : res_.queued_bytes();
}

void call::on_drain(std::function<void()> fn) {
    if (finished_ || cancelled_) return;
    std::weak_ptr<call> weak = weak_from_this();
    res_.on_drain([weak, fn = std::move(fn)] {
        auto self = weak.lock();
        if (self && !self->finished_ && fn) fn();
    });
}

void call::finish(const status& s) {
    if (finished_ || cancelled_) return;
    finished_ = true;
    count_call(opts_.method_id, s.code);
    if (!res_.closed()) {
        if (!started_ && !res_.headers_sent()) {
            // Trailers-Only: nothing was sent, the status travels in the only HEADERS.
            for (auto& [n, v] : trailers_) res_.add_header(n, v);
            reply_trailers_only(res_, s);
        } else {
            http::header_map trailers;
            for (const grpc::field& f : grpc::response_trailers(s.code, s.message))
                trailers.add(f.name, f.value);
            for (auto& [n, v] : trailers_) trailers.add(n, v);
            res_.end(&trailers);
        }
    }
    release();
}

void call::set_receiver(std::function<void(byte_view)> on_message,
                        std::function<void()> on_half_close) {
    on_message_ = std::move(on_message);
    on_half_close_ = std::move(on_half_close);
}

void call::start_reading() {
    if (finished_ || cancelled_ || !req_) return;
    self_ = shared_from_this();
    std::weak_ptr<call> weak = self_;
    req_->on_body(
        [weak](byte_view chunk) {
            if (auto self = weak.lock()) self->on_body_chunk(chunk);
        },
        [weak] {
            if (auto self = weak.lock()) self->on_body_end();
        });
}

void call::on_body_chunk(byte_view chunk) {
    while (!chunk.empty() && !finished_ && !cancelled_) {
        grpc::message msg;
        grpc::decode_result r = dec_.feed(chunk, msg);
        chunk = chunk.subspan(r.consumed);
        if (r.out == grpc::outcome::need_more) return;
        if (r.out == grpc::outcome::error) {
            grpc::error e = dec_.last_error();
            finish({grpc::status_for(e), describe(e)});
            return;
        }
        ++received_;
        message_compressed_ = msg.compressed;
        // Moved out while it runs: it may end the call, which drops the receivers.
        auto fn = std::move(on_message_);
        if (!fn) continue;
        fn(msg.payload);
        if (!finished_ && !cancelled_ && !on_message_) on_message_ = std::move(fn);
    }
}

std::string call::describe(grpc::error e) const {
    // grpc-go's wording, so clients' logs read the same against either server.
    if (e == grpc::error::message_too_large)
        return "grpc: received message larger than max (" + std::to_string(dec_.declared_length()) +
               " vs. " + std::to_string(dec_.max_message_size()) + ")";
    return std::string(to_string(e));
}

void call::on_body_end() {
    if (finished_ || cancelled_) return;
    if (dec_.state() != grpc::decode_state::prefix || dec_.offset() != 0) {
        finish({grpc::status_code::internal, "request stream ended inside a message"});
        return;
    }
    auto half_close = std::move(on_half_close_);
    on_message_ = nullptr;
    // The typed handles own the call from here on (see the file comment).
    auto keep = std::move(self_);
    if (half_close) half_close();
}

void call::on_transport_abort() {
    if (finished_) return;
    cancel();
}

void call::on_deadline() {
    deadline_timer_ = {};
    end_early({grpc::status_code::deadline_exceeded, "deadline exceeded"});
}

void call::end_early(const status& s) {
    if (finished_ || cancelled_) return;
    auto fn = std::move(on_cancel_);
    auto keep = shared_from_this();
    finish(s);
    // The handler's view: the call was cancelled (writes fail, on_cancel runs).
    cancelled_ = true;
    if (fn) fn();
}

void call::on_server_shutdown() {
    end_early({grpc::status_code::unavailable, "server shutting down"});
}

void call::cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    if (!finished_) count_call(opts_.method_id, grpc::status_code::cancelled);  // the client left
    auto fn = std::move(on_cancel_);
    auto keep = shared_from_this();
    release();
    if (fn) fn();
}

void call::release() {
    if (loop_ && deadline_timer_.valid()) {
        loop_->cancel_timer(deadline_timer_);
        deadline_timer_ = {};
    }
    // Cancelling destroys the callbacks, which may hold the last handle: keep the call alive
    // (null when release() runs from the destructor, where nothing else can drop it).
    auto alive = weak_from_this().lock();
    auto timers = std::move(timers_);
    timers_.clear();
    for (core::timer_id id : timers) loop_->cancel_timer(id);
    req_ = nullptr;
    // Moved to locals first: destroying a callback may drop the last handle of a writer, whose
    // destructor calls back into finish() (a no-op by now) while these members are untouched.
    auto on_cancel = std::move(on_cancel_);
    auto on_message = std::move(on_message_);
    auto on_half_close = std::move(on_half_close_);
    auto on_release = std::move(on_release_);
    res_.on_abort(nullptr);
    res_.on_drain(nullptr);
    res_.on_shutdown(nullptr);
    if (on_release) on_release();
    auto self = std::move(self_);
}

}  // namespace sy::rpc
