#include "switchyard/session/h2_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <optional>
#include <string>

#include "stream_sink.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/proto/http1/request_parser.hpp"

namespace sy::session {

namespace {

constexpr std::size_t k_file_chunk = stream_sink::k_file_chunk;

// RFC 9113 8.2.2: connection-specific fields must not appear in HTTP/2.
bool connection_specific(std::string_view lower_name) {
    return lower_name == "connection" || lower_name == "keep-alive" ||
           lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
           lower_name == "upgrade" || lower_name == "content-length";
}

/// Lower-cased copies of a header_map's names (h2 field names are lower case, RFC 9113 8.2.1)
/// plus views for submit_*; the views point into `store_`, sized before the first view is taken.
class h2_fields {
  public:
    void build(const http::header_map& m) {
        std::size_t n = 0;
        for (auto f : m) n += f.name.size();
        store_.clear();
        store_.reserve(n);
        for (auto f : m) {
            std::size_t at = store_.size();
            for (char c : f.name) store_.push_back(ascii_lower(c));
            std::string_view name(store_.data() + at, f.name.size());
            if (connection_specific(name)) continue;
            fields_.push_back({name, f.value});
        }
    }
    void add(std::string_view name, std::string_view value) { fields_.push_back({name, value}); }
    std::span<const http2::header_field> span() const { return fields_; }

  private:
    std::string store_;
    std::vector<http2::header_field> fields_;
};

}  // namespace

// ---- per-stream state -------------------------------------------------------------------------

struct h2_session::stream {
    http2::stream_id id = 0;
    std::unique_ptr<http::request> req;
    std::shared_ptr<h2_sink> sink;
    std::shared_ptr<h2_tunnel> tunnel;
    std::uint64_t body_bytes = 0;
    bool streaming = false;  // the handler ran at the head; body goes through on_body()
    bool dispatched = false;
    bool refused = false;
    bool request_ended = false;  // the client's END_STREAM arrived
    bool extended_connect = false;
    bool head_request = false;
};

// ---- the response sink: one per stream ----------------------------------------------------------

// The general parts (file pumping, HEAD, trailers after a file, watermarks) are stream_sink's,
// shared with HTTP/3; this class maps them onto nghttp2 and adds the extended CONNECT upgrade.
class h2_sink final : public stream_sink {
  public:
    h2_sink(h2_session* s, http2::stream_id id, bool head_request, bool extended_connect)
        : stream_sink(head_request), session_(s), id_(id), connect_(extended_connect) {}

    void detach() {
        session_ = nullptr;
        stream_sink::detach();
    }
    /// The stream's queue fell to the low watermark (the session checked it) or a file wants
    /// more.
    void drained() { stream_sink::drained(SIZE_MAX); }

  private:
    bool ok() const { return live() && session_ != nullptr && session_->conn_ != nullptr; }
    void out_head(http::response_head& head, bool end_stream) override;
    void out_data(shared_bytes b) override {
        if (!ok()) return;
        (void)session_->h2_.submit_data(id_, std::move(b), false);
        session_->want_flush();
    }
    void out_end(const http::header_map* trailers) override;
    void out_reset() override {
        if (!ok()) return;
        (void)session_->h2_.submit_rst(id_, http2::error_code::internal_error);
        session_->want_flush();
    }
    std::size_t out_queued() const override { return ok() ? session_->h2_.queued_bytes(id_) : 0; }
    std::size_t out_high_watermark() const override {
        return ok() ? session_->conn_->options().high_watermark : 0;
    }
    void out_done(int status) override {
        if (!session_) return;
        if (auto* s = session_->find(id_)) session_->response_done(*s, status);
    }
    http::upgrade_support do_upgrade_support() const override {
        return ok() && connect_ ? http::upgrade_support::extended_connect
                                : http::upgrade_support::none;
    }
    std::shared_ptr<http::byte_tunnel> do_upgrade(http::response_head& head) override;

    h2_session* session_;
    http2::stream_id id_;
    bool connect_;
};

// ---- the tunnel after an extended CONNECT (RFC 8441) --------------------------------------------
//
// DATA frames both ways; END_STREAM is the close (RFC 8441 4: like a TCP FIN). Receive flow
// control: the stream's window is manual (server_session::set_manual_window): bytes handed to
// the reader give their window back; while the tunnel's own output is above the high watermark
// new input waits in `held_` without giving window back, so the peer stops at the stream window
// (the same rule as a connection that stops reading). A peer END_STREAM is answered with ours.

class h2_tunnel final : public http::byte_tunnel, public std::enable_shared_from_this<h2_tunnel> {
  public:
    h2_tunnel(h2_session* s, http2::stream_id id) : session_(s), id_(id) {}

    void detach() {
        if (!session_) return;
        session_ = nullptr;
        held_.clear();
        on_data_ = nullptr;
        on_drain_ = nullptr;
        on_shutdown_ = nullptr;
        if (auto fn = std::move(on_close_)) fn();
    }
    void deliver(byte_view b, bool end_stream) {
        if (!b.empty()) {
            if (over_ || !held_.empty()) {
                held_.append(b);
            } else {
                hand_over(b);
            }
        }
        if (end_stream) {
            peer_ended_ = true;
            if (held_.empty()) close();
        }
    }
    void drained() {
        if (!over_) return;
        over_ = false;
        if (on_drain_) {
            auto fn = on_drain_;
            fn();
        }
        if (!held_.empty() && !over_ && session_) {
            byte_buffer in = std::move(held_);
            held_ = byte_buffer();
            hand_over(in.readable());
            session_->want_flush();  // the WINDOW_UPDATE for what was just consumed
        }
        if (peer_ended_ && held_.empty()) close();
    }
    void shutdown() {
        if (on_shutdown_) {
            auto fn = on_shutdown_;
            fn();
        }
    }

    http::write_status write(byte_view bytes) override {
        if (!is_open()) return http::write_status::closed;
        (void)session_->h2_.submit_data(id_, bytes, false);
        return after_write();
    }
    http::write_status write(shared_bytes bytes) override {
        if (!is_open()) return http::write_status::closed;
        (void)session_->h2_.submit_data(id_, std::move(bytes), false);
        return after_write();
    }
    void close() override {
        if (!is_open()) return;
        closed_ = true;
        (void)session_->h2_.submit_data(id_, byte_view{}, true);
        session_->want_flush();
        // The stream ends when the peer's END_STREAM comes too; a peer that never sends it is
        // reset after close_timeout (the connection's graceful-close deadline).
        if (!peer_ended_ && session_->conn_) {
            std::weak_ptr<h2_tunnel> w = weak_from_this();
            session_->conn_->owner_loop().add_timer(session_->conn_->options().close_timeout, [w] {
                if (auto t = w.lock()) t->reset();
            });
        }
    }
    void reset() override {
        if (!session_) return;
        closed_ = true;
        (void)session_->h2_.submit_rst(id_, http2::error_code::cancel);
        session_->want_flush();
    }
    bool is_open() const override { return session_ != nullptr && !closed_; }
    std::size_t queued_bytes() const override {
        return session_ ? session_->h2_.queued_bytes(id_) : 0;
    }
    void set_on_data(std::function<void(byte_view)> fn) override { on_data_ = std::move(fn); }
    void set_on_close(std::function<void()> fn) override { on_close_ = std::move(fn); }
    void set_on_drain(std::function<void()> fn) override { on_drain_ = std::move(fn); }
    void set_on_shutdown(std::function<void()> fn) override { on_shutdown_ = std::move(fn); }

  private:
    void hand_over(byte_view b) {
        if (on_data_) {
            auto fn = on_data_;  // the reader may replace or clear its callback
            fn(b);
        }
        if (session_) session_->h2_.consume(id_, b.size());
    }
    http::write_status after_write() {
        session_->want_flush();
        if (session_->h2_.queued_bytes(id_) > session_->conn_->options().high_watermark) {
            over_ = true;
            return http::write_status::above_high_watermark;
        }
        return http::write_status::ok;
    }

    h2_session* session_;
    http2::stream_id id_;
    std::function<void(byte_view)> on_data_;
    std::function<void()> on_close_;
    std::function<void()> on_drain_;
    std::function<void()> on_shutdown_;
    byte_buffer held_;  // input received while over the high watermark (window not returned)
    bool closed_ = false;
    bool over_ = false;
    bool peer_ended_ = false;
};

// ---- h2_sink ----------------------------------------------------------------------------------

void h2_sink::out_head(http::response_head& head, bool end_stream) {
    if (!ok()) return;
    h2_fields f;
    f.build(head.headers);
    char len_buf[24];
    if (head.content_length) {
        auto [p, ec] = std::to_chars(len_buf, len_buf + sizeof len_buf, *head.content_length);
        f.add("content-length", std::string_view(len_buf, static_cast<std::size_t>(p - len_buf)));
    }
    if (const auto& alt = session_->ctx_.options().alt_svc;
        !alt.empty() && !head.headers.contains("alt-svc"))
        f.add("alt-svc", alt);
    f.add("date", session_->ctx_.date().value());
    // Nothing can follow: END_STREAM on the HEADERS frame itself.
    auto r = session_->h2_.submit_response(id_, head.status, f.span(), end_stream);
    if (!r) {
        log::debug("h2 stream {}: response refused: {}", id_, http2::to_string(r.error()));
        (void)session_->h2_.submit_rst(id_, http2::error_code::internal_error);
    }
    session_->want_flush();
}

void h2_sink::out_end(const http::header_map* trailers) {
    if (!ok()) return;
    if (trailers && !trailers->empty()) {
        h2_fields f;
        f.build(*trailers);
        (void)session_->h2_.submit_trailers(id_, f.span());
    } else {
        (void)session_->h2_.submit_data(id_, byte_view{}, true);
    }
    session_->want_flush();
}

std::shared_ptr<http::byte_tunnel> h2_sink::do_upgrade(http::response_head& head) {
    if (!ok()) return nullptr;
    auto* s = session_->find(id_);
    if (!s) return nullptr;
    h2_fields f;
    f.build(head.headers);
    const int status = head.status == 0 || head.status == 101 ? 200 : head.status;
    if (!session_->h2_.submit_response(id_, status, f.span(), false)) return nullptr;
    s->tunnel = std::make_shared<h2_tunnel>(session_, id_);
    session_->h2_.set_manual_window(id_);  // from on_request: before any DATA of the tunnel
    session_->ctx_.counters().upgrades.add();
    session_->response_done(*s, status);
    session_->want_flush();
    return s->tunnel;
}

// ---- the session
// ----------------------------------------------------------------------------------

namespace {
http2::server_settings settings_for(http_context& ctx) {
    http2::server_settings s;
    s.counters = &ctx.counters().h2;
    const auto& lim = ctx.options().limits;
    s.max_header_list_size = std::max<std::uint32_t>(4096, lim.max_head_bytes);
    return s;
}
}  // namespace

h2_session::h2_session(http_context& ctx, std::string_view remote, h2_start start)
    : ctx_(ctx), h2_(*this, settings_for(ctx)), remote_(remote), start_(start) {}

h2_session::~h2_session() {
    abort_all();
}

bool h2_session::adopt_upgrade(http::request&& req, std::string_view http2_settings) {
    const bool head = req.method() == http::method::head;
    if (!h2_.upgrade_h2c(http2_settings, head)) return false;
    auto s = std::make_unique<stream>();
    s->id = 1;
    s->req = std::make_unique<http::request>(std::move(req));
    s->req->set_version(http::http_version::http2);
    s->head_request = head;
    s->request_ended = true;  // HTTP/1.1 delivered the whole body
    streams_[1] = std::move(s);
    return true;
}

void h2_session::on_open(net::connection& c) {
    conn_ = &c;
    c.clear_read_deadline();
    c.set_idle_timeout(ctx_.options().idle_timeout);
    if (start_ == h2_start::preface_consumed) {
        auto r = h2_.feed(as_bytes(http1::k_h2_preface));
        (void)r;
    }
    if (auto* s = find(1); s && start_ == h2_start::upgraded) {
        ctx_.counters().h2c_switches.add();
        run_handler(*s);
    }
    want_flush();
}

void h2_session::on_data(net::connection& c, byte_buffer& in) {
    in_feed_ = true;
    auto r = h2_.feed(in.readable());
    in_feed_ = false;
    in.consume(in.size());
    if (r.outcome == http2::feed_outcome::fatal) {
        log::debug("h2 from {}: {}", remote_, http2::to_string(r.err));
        c.close(net::close_mode::immediate);
        return;
    }
    if (r.outcome == http2::feed_outcome::goaway_queued) {
        log::debug("h2 from {}: {} (GOAWAY)", remote_, http2::to_string(r.err));
    }
    flush();  // answers produced synchronously leave with this turn's write
}

void h2_session::on_drain(net::connection&) {
    want_flush();
}

void h2_session::on_peer_closed(net::connection& c) {
    abort_all();
    c.close(net::close_mode::graceful, net::close_reason::peer_closed);
}

net::timeout_action h2_session::on_timeout(net::connection& c, net::timeout_kind k) {
    if (k == net::timeout_kind::idle) {
        if (!streams_.empty()) return net::timeout_action::keep;
        h2_.goaway();
        flush();
        c.close(net::close_mode::graceful, net::close_reason::idle_timeout);
        return net::timeout_action::keep;
    }
    return net::timeout_action::close;
}

void h2_session::on_close(net::connection&, net::close_reason) {
    abort_all();
    conn_ = nullptr;
}

void h2_session::begin_shutdown(net::connection& c) {
    draining_ = true;
    h2_.goaway();  // NO_ERROR, the last stream id processed (RFC 9113 6.8)
    // Every stream in flight hears of it: tunnels (WebSocket over h2) finish their own way
    // (close 1001, END_STREAM), responses through their on_shutdown (gRPC UNAVAILABLE, SSE end,
    // long poll 503) or by finishing; the connection closes when the last stream is gone.
    // Copied first: a callback may end its stream, which erases it from streams_.
    std::vector<std::shared_ptr<h2_tunnel>> tunnels;
    std::vector<std::shared_ptr<h2_sink>> sinks;
    for (auto& [id, s] : streams_) {
        if (s->tunnel) tunnels.push_back(s->tunnel);
        if (s->sink) sinks.push_back(s->sink);
    }
    for (auto& t : tunnels) t->shutdown();
    for (auto& k : sinks) k->shutdown();
    flush();
    if (streams_.empty()) c.close(net::close_mode::graceful);
}

void h2_session::abort_all() {
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [id, s] : streams) {
        if (s->sink) s->sink->detach();
        if (s->tunnel) s->tunnel->detach();
    }
}

h2_session::stream* h2_session::find(http2::stream_id id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

std::unique_ptr<http::request> h2_session::take_request() {
    if (free_requests_.empty()) return std::make_unique<http::request>();
    auto r = std::move(free_requests_.back());
    free_requests_.pop_back();
    return r;
}

// ---- output -------------------------------------------------------------------------------------

void h2_session::want_flush() {
    if (!conn_ || in_feed_ || before_sleep_scheduled()) return;  // on_data flushes after feed
    conn_->owner_loop().schedule_before_sleep(*this);
}

void h2_session::before_sleep() {
    flush();
}

void h2_session::flush() {
    if (!conn_ || !conn_->is_open()) return;
    // A slow reader: leave the frames queued per stream until the connection drains.
    if (conn_->above_high_watermark()) return;
    byte_buffer out;
    h2_.pull_output(out);
    if (!out.empty()) conn_->write(std::move(out));
    if (!drained_.empty()) {
        auto ids = std::move(drained_);
        drained_.clear();
        for (auto id : ids) {
            stream* s = find(id);
            if (!s) continue;
            if (s->sink) s->sink->drained();
            if (s->tunnel) s->tunnel->drained();
        }
        if (h2_.wants_write() && conn_ && !conn_->above_high_watermark()) want_flush();
    }
    if (conn_ && conn_->is_open() && (h2_.should_close() || (draining_ && streams_.empty()))) {
        conn_->close(net::close_mode::graceful);
    }
}

void h2_session::on_data_drained(http2::stream_id id, std::size_t queued) {
    stream* s = find(id);
    if (!s) return;
    const bool file = s->sink && s->sink->file_pending();
    const bool waiting = (s->sink && s->sink->waiting()) || s->tunnel;
    if (!waiting) return;
    if (queued <= conn_->options().low_watermark || (file && queued < 2 * k_file_chunk)) {
        if (drained_.empty() || drained_.back() != id) drained_.push_back(id);
    }
}

// ---- requests
// -------------------------------------------------------------------------------------

void h2_session::refuse(stream& s, int status, std::string_view body) {
    s.refused = true;
    ctx_.counters().by_status[status].add();
    http2::header_field hdrs[] = {{"content-type", "text/plain; charset=utf-8"}};
    if (h2_.submit_response(s.id, status, hdrs, body.empty())) {
        if (!body.empty()) (void)h2_.submit_data(s.id, as_bytes(body), true);
    }
    stop_request(s);
    want_flush();
}

void h2_session::stop_request(stream& s) {
    // The response is (or will be) complete while the client may still be sending a body that
    // nobody reads: its stream window is no longer given back, and RST_STREAM(NO_ERROR) follows
    // the response's END_STREAM (RFC 9113 8.1), so the client stops and the connection stays
    // usable. Tunnels end their own way (END_STREAM both ways).
    if (s.request_ended || s.tunnel) return;
    h2_.set_manual_window(s.id);
    (void)h2_.submit_rst(s.id, http2::error_code::no_error);
}

bool h2_session::body_too_large(stream& s, std::uint64_t bytes) {
    if (bytes <= s.req->max_body()) return false;
    refuse(s, 413, "request body too large\n");
    return true;
}

void h2_session::on_request(const http2::request_head& head) {
    auto s = std::make_unique<stream>();
    s->id = head.id;
    s->req = take_request();
    http::request& req = *s->req;
    req.reset();
    // RFC 8441 4: extended CONNECT reaches the router as GET + "upgrade: <protocol>".
    s->extended_connect = head.method == "CONNECT" && !head.protocol.empty();
    req.set_method(s->extended_connect ? std::string_view("GET") : head.method);
    s->head_request = req.method() == http::method::head;
    stream& st = *s;
    streams_[head.id] = std::move(s);
    ctx_.counters().requests.add();
    st.request_ended = head.end_stream;
    req.set_max_body(ctx_.options().limits.max_body_bytes);
    if (head.path.empty()) {
        refuse(st, 400, "missing :path\n");
        return;
    }
    if (auto t = req.set_target(head.path); !t) {
        refuse(st, http::status_for(t.error()), http::describe(t.error()));
        return;
    }
    const request_fields rf = add_request_fields(req, head.headers, head.authority);
    const auto& content_length = rf.content_length;  // nghttp2 checked its syntax and the DATA sum
    if (rf.grpc) {
        st.streaming = true;
        grpc_seen_ = true;
    }
    if (st.extended_connect) {
        req.add_header("upgrade", head.protocol);
        req.add_header("connection", "upgrade");
        st.streaming = true;
    }
    req.set_remote_address(remote_);
    req.set_version(http::http_version::http2);
    // A declared body above the limit: 413 now, before any of it is read (as HTTP/1.1 does).
    if (!st.streaming && content_length && body_too_large(st, *content_length)) return;
    if (st.streaming) {
        req.set_streaming_body();
        if (head.end_stream) req.deliver_body_end();
        run_handler(st);
    } else if (head.end_stream) {
        run_handler(st);
    }
}

void h2_session::run_handler(stream& s) {
    s.dispatched = true;
    s.sink = std::make_shared<h2_sink>(this, s.id, s.head_request, s.extended_connect);
    if (draining_) s.sink->shutdown();  // a stream GOAWAY still lets in (id <= last id)
    http::response res(s.sink);
    ctx_.router().dispatch(*s.req, res);
}

void h2_session::on_data(http2::stream_id id, byte_view bytes, bool end_stream) {
    stream* s = find(id);
    if (!s) return;
    if (end_stream) s->request_ended = true;
    if (s->refused) return;
    if (s->tunnel) {
        s->tunnel->deliver(bytes, end_stream);
        return;
    }
    if (s->streaming) {
        if (!bytes.empty()) s->req->deliver_body_chunk(bytes);
        if (end_stream) s->req->deliver_body_end();
        return;
    }
    if (!bytes.empty()) {
        s->body_bytes += bytes.size();
        if (body_too_large(*s, s->body_bytes)) return;  // no content-length, or it lied
        s->req->append_body(bytes);
    }
    if (end_stream) body_done(*s);
}

void h2_session::on_trailers(http2::stream_id id, std::span<const http2::header_field>) {
    stream* s = find(id);
    if (!s) return;
    s->request_ended = true;
    if (!s->refused) body_done(*s);
}

void h2_session::body_done(stream& s) {
    if (s.streaming) {
        s.req->deliver_body_end();
    } else if (!s.dispatched) {
        run_handler(s);
    }
}

void h2_session::on_stream_reset(http2::stream_id id, http2::error_code) {
    stream* s = find(id);
    if (!s) return;
    if (s->sink) s->sink->detach();
    if (s->tunnel) s->tunnel->detach();
}

void h2_session::on_stream_close(http2::stream_id id, http2::error_code) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto s = std::move(it->second);
    streams_.erase(it);
    if (s->sink) s->sink->detach();  // no-op for a finished response (on_abort only if unfinished)
    if (s->tunnel) s->tunnel->detach();
    if (s->req && free_requests_.size() < 16) free_requests_.push_back(std::move(s->req));
    if (draining_ && streams_.empty()) want_flush();
}

void h2_session::response_done(stream& s, int status) {
    if (status > 0 && status < 600) ctx_.counters().by_status[status].add();
    stop_request(s);  // a handler that answered before the body ended (gRPC RESOURCE_EXHAUSTED)
    if (ctx_.options().access_log && s.req) {
        log::info("{} {} {} {} h2", remote_, s.req->method_name(), s.req->target(), status);
    }
}

}  // namespace sy::session
