#include "switchyard/session/http1_session.hpp"

#include <charconv>
#include <vector>

#include "switchyard/base/log.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/session/h1_tunnel.hpp"
#include "switchyard/session/h2_session.hpp"

namespace sy::session {

using http1::outcome;

// ---- the response sink: one per exchange --------------------------------------------------------

class h1_sink final : public http::response_sink {
  public:
    h1_sink(http1_session* s, net::connection* c, bool keep_alive, bool head_request,
            std::uint8_t version_minor) {
        start(s, c, keep_alive, head_request, version_minor);
    }

    /// (Re)starts the sink for one exchange.
    void start(http1_session* s, net::connection* c, bool keep_alive, bool head_request,
               std::uint8_t version_minor) {
        session_ = s;
        conn_ = c;
        keep_alive_ = keep_alive;
        head_request_ = head_request;
        minor_ = version_minor;
        chunked_ = no_body_ = false;
        status_ = 0;
    }
    void reuse() { recycle(); }

    /// The session is going away (connection closed): the client is gone.
    void detach() {
        session_ = nullptr;
        conn_ = nullptr;
        notify_abort();
    }
    void drained() { notify_drain(); }
    /// The server began a graceful shutdown: the handler's on_shutdown answers now.
    void shutdown() { notify_shutdown(); }
    bool keep_alive() const { return keep_alive_; }
    /// The answer's head has been written (its status is known).
    bool begun() const { return status_ != 0; }

  private:
    bool live() const { return conn_ != nullptr && conn_->is_open(); }
    http::write_status status_now() const {
        if (!live()) return http::write_status::closed;
        return conn_->above_high_watermark() ? http::write_status::above_high_watermark
                                             : http::write_status::ok;
    }
    void chunk_header(std::size_t n) {
        char buf[24];
        auto [p, ec] = std::to_chars(buf, buf + 16, n, 16);
        *p++ = '\r';
        *p++ = '\n';
        conn_->write(std::string_view(buf, static_cast<std::size_t>(p - buf)));
    }

    void do_begin(http::response_head& head) override;
    http::write_status do_write(byte_view bytes) override;
    http::write_status do_write(shared_bytes bytes) override;
    http::write_status do_send_file(http::file_body file) override;
    void do_end(const http::header_map* trailers) override;
    void do_reset() override {
        if (live()) conn_->close(net::close_mode::abort);
    }
    bool do_above_high_watermark() const override {
        return live() && conn_->above_high_watermark();
    }
    std::size_t do_queued_bytes() const override { return live() ? conn_->queued_bytes() : 0; }
    http::upgrade_support do_upgrade_support() const override {
        return live() && minor_ == 1 ? http::upgrade_support::connection_takeover
                                     : http::upgrade_support::none;
    }
    std::shared_ptr<http::byte_tunnel> do_upgrade(http::response_head& head) override;

    http1_session* session_ = nullptr;
    net::connection* conn_ = nullptr;
    bool keep_alive_ = true;
    bool head_request_ = false;
    bool chunked_ = false;
    bool no_body_ = false;
    std::uint8_t minor_ = 1;
    int status_ = 0;
};

void h1_sink::do_begin(http::response_head& head) {
    if (!live()) return;
    status_ = head.status;
    if (session_ && session_->draining_) keep_alive_ = false;
    byte_buffer& out = session_->ctx_.scratch();
    out.clear();
    http1::response_writer w(out);
    w.status(head.status, {}, 1);
    for (auto f : head.headers) w.header(f.name, f.value);
    if (const auto& alt = session_->ctx_.options().alt_svc;
        !alt.empty() && !head.headers.contains("alt-svc"))
        w.header("alt-svc", alt);
    w.date(session_->ctx_.date());
    const bool bodyless_status = head.status == 204 || head.status == 304 || head.status < 200;
    no_body_ = head_request_ || bodyless_status;
    if (!head.content_length && !bodyless_status && minor_ == 0) {
        keep_alive_ = false;  // HTTP/1.0 has no chunked coding: the body ends at close
    }
    if (!keep_alive_) {
        w.connection(true);
    } else if (minor_ == 0) {
        w.connection(false);  // "Connection: keep-alive" for a persistent 1.0 exchange
    }
    if (head.content_length) {
        if (bodyless_status) {
            w.end_head();
        } else {
            w.content_length(*head.content_length);
        }
    } else if (bodyless_status || !keep_alive_) {
        w.end_head();
    } else {
        w.begin_chunked();  // a HEAD response declares the same framing as GET would
        chunked_ = !head_request_;
    }
    // Copied into the connection's output tail: pipelined responses coalesce into one buffer.
    conn_->write(out.readable());
    out.clear();
}

http::write_status h1_sink::do_write(byte_view bytes) {
    if (!live()) return http::write_status::closed;
    if (no_body_ || bytes.empty()) return status_now();
    if (chunked_) chunk_header(bytes.size());
    conn_->write(bytes);
    if (chunked_) conn_->write(std::string_view("\r\n"));
    return status_now();
}

http::write_status h1_sink::do_write(shared_bytes bytes) {
    if (!live()) return http::write_status::closed;
    if (no_body_ || bytes.empty()) return status_now();
    if (chunked_) chunk_header(bytes.size());
    conn_->write(std::move(bytes));
    if (chunked_) conn_->write(std::string_view("\r\n"));
    return status_now();
}

http::write_status h1_sink::do_send_file(http::file_body file) {
    if (!live()) return http::write_status::closed;
    if (no_body_ || file.length == 0) return status_now();
    if (chunked_) chunk_header(file.length);
    conn_->write_file(file.fd.release(), static_cast<off_t>(file.offset), file.length, true);
    if (chunked_) conn_->write(std::string_view("\r\n"));
    return status_now();
}

void h1_sink::do_end(const http::header_map* trailers) {
    if (live() && chunked_) {
        byte_buffer out(64);
        std::vector<http1::header> t;
        if (trailers) {
            for (auto f : *trailers) t.push_back({f.name, f.value});
        }
        http1::write_last_chunk(out, t);
        conn_->write(std::move(out));
    }
    if (session_) session_->response_done(status_);
}

std::shared_ptr<http::byte_tunnel> h1_sink::do_upgrade(http::response_head& head) {
    if (!live()) return nullptr;
    byte_buffer out(256);
    http1::response_writer w(out);
    const int status = head.status == 0 ? 101 : head.status;
    w.status(status, {}, 1);
    for (auto f : head.headers) w.header(f.name, f.value);
    w.end_head();
    conn_->write(std::move(out));
    status_ = status;
    auto tunnel = std::make_shared<h1_tunnel>(*conn_);
    net::connection* c = conn_;
    if (session_) session_->response_upgraded(status);
    // The session is replaced by the tunnel; it is destroyed at the end of the turn.
    // 101 is a WebSocket upgrade here (the only one the server answers); a 200 tunnel is an SSE
    // stream delimited by the close.
    c->set_handler(
        std::make_unique<h1_tunnel_handler>(tunnel, status == 101 ? "WebSocket" : "SSE"));
    return tunnel;
}

// ---- the session
// ---------------------------------------------------------------------------------

http1_session::http1_session(http_context& ctx, std::string_view remote) : ctx_(ctx) {
    remote_len_ = static_cast<std::uint8_t>(std::min(remote.size(), remote_.size()));
    std::copy_n(remote.data(), remote_len_, remote_.data());
}

http1_session::~http1_session() {
    if (sink_) sink_->detach();
}

void http1_session::on_open(net::connection& c) {
    conn_ = &c;
    c.set_linger_only_if_unread(true);
    c.set_idle_timeout(ctx_.options().idle_timeout);
    // The first head's clock starts now, not at its first byte: a connection that never sends
    // a byte is closed after header_timeout (on_timeout), not held for the idle timeout.
    c.set_read_deadline(ctx_.options().header_timeout);
}

void http1_session::on_data(net::connection& c, byte_buffer& in) {
    if (first_bytes_) {
        // RFC 9113 3.3: prior knowledge. The preface's start line "PRI * HTTP/2.0" is no
        // HTTP/1.x request, so a connection that begins with it is HTTP/2: the h2 session checks
        // the rest of the preface, and a bad one gets GOAWAY(PROTOCOL_ERROR) (RFC 9113 3.4), as
        // over TLS. Checked here rather than by the parser because pooled parsers do not know
        // they start a new connection.
        const auto v = as_string_view(in.readable());
        constexpr auto line = http1::k_h2_preface.substr(0, 16);
        if (v.size() < line.size() && line.substr(0, v.size()) == v) return;  // wait for more
        first_bytes_ = false;
        if (v.substr(0, line.size()) == line) {
            switch_to_h2(c, h2_start::preface_expected);
            return;
        }
    }
    in_on_data_ = true;
    // An event may be pending with no input left (end of a bodiless message), so the loop runs
    // until the parser needs more bytes, not until the buffer is empty.
    while (c.is_open() &&
           (phase_ == phase::idle || phase_ == phase::head || phase_ == phase::body)) {
        if (!step(c, in)) break;
    }
    in_on_data_ = false;
    if (phase_ == phase::idle && x_ && in.empty()) release_exchange();
}

// Parses one event. Returns false when more input is needed or the session stopped parsing.
bool http1_session::step(net::connection& c, byte_buffer& in) {
    if (phase_ == phase::idle && in.empty()) return false;
    if (!x_) x_ = ctx_.acquire_exchange();
    if (phase_ == phase::idle) {
        phase_ = phase::head;
        // Later heads get the whole header_timeout from their first byte; the first one keeps
        // the deadline set at on_open (bytes trickled in late get no extra time).
        if (!fresh_) c.set_read_deadline(ctx_.options().header_timeout);
        fresh_ = false;
    }
    auto r = x_->parser.feed(in.readable());
    if (r.out == outcome::error) {
        in.consume(in.size());
        fail(c, r.err);
        return false;
    }
    if (r.out == outcome::need_more) {
        in.consume(r.consumed);
        return false;
    }
    switch (r.ev) {
        case http1::event::head:
            if (!on_head(c)) {
                in.consume(in.size());
                return false;
            }
            break;
        case http1::event::body:
            x_->request.append_body(r.body);
            c.set_read_deadline(ctx_.options().body_timeout);
            break;
        case http1::event::end:
            in.consume(r.consumed);
            c.clear_read_deadline();
            dispatch(c);
            return phase_ == phase::idle;
        case http1::event::h2_preface:
            // HTTP/2 with prior knowledge (RFC 9113 3.3): the rest of the input is HTTP/2.
            in.consume(r.consumed);
            switch_to_h2(c, h2_start::preface_consumed);
            return false;
        case http1::event::none:
            break;
    }
    in.consume(r.consumed);
    return true;
}

bool http1_session::on_head(net::connection& c) {
    const auto& h = x_->parser.head();
    auto& req = x_->request;
    req.reset();
    req.set_method(h.method_name);
    if (auto t = req.set_target(h.target); !t) {
        reply_and_close(c, http::status_for(t.error()), http::describe(t.error()));
        return false;
    }
    for (const auto& f : h.headers) req.add_header(f.name, f.value);
    req.set_remote_address(std::string_view(remote_.data(), remote_len_));
    req.set_max_body(ctx_.options().limits.max_body_bytes);  // the parser enforces it (413)
    req.set_version(h.version_minor == 0 ? http::http_version::http1_0
                                         : http::http_version::http1_1);
    keep_alive_ = h.keep_alive && !draining_;
    h2c_upgrade_ = h2c_allowed_ && h.upgrade_h2c && h.connection_upgrade &&
                   !h.http2_settings.empty() && h.version_minor == 1;
    if (h.body == http1::body_kind::none) {
        c.clear_read_deadline();
    } else {
        phase_ = phase::body;
        c.set_read_deadline(ctx_.options().body_timeout);
        if (h.expect_continue) {
            byte_buffer out(32);
            http1::write_continue(out);
            c.write(std::move(out));
        }
    }
    return true;
}

void http1_session::dispatch(net::connection& c) {
    if (h2c_upgrade_ && switch_to_h2c(c)) return;
    phase_ = phase::handler;
    auto& req = x_->request;
    const bool is_head = req.method() == http::method::head;
    const std::uint8_t minor = req.version() == http::http_version::http1_0 ? 0 : 1;
    if (x_->sink && x_->sink.use_count() == 1) {
        sink_ = std::static_pointer_cast<h1_sink>(x_->sink);
        sink_->reuse();
        sink_->start(this, &c, keep_alive_, is_head, minor);
    } else {
        sink_ = std::make_shared<h1_sink>(this, &c, keep_alive_, is_head, minor);
        x_->sink = sink_;
    }
    if (draining_) sink_->shutdown();  // a pipelined request read after begin_shutdown
    ctx_.counters().requests.add();
    {
        http::response res(sink_);
        ctx_.router().dispatch(req, res);
    }
    // If the handler answered synchronously, response_done() already ran.
}

void http1_session::response_done(int status) {
    if (status > 0 && status < 600) ctx_.counters().by_status[status].add();
    if (ctx_.options().access_log && x_) {
        log::info("{} {} {} {}", std::string_view(remote_.data(), remote_len_),
                  x_->request.method_name(), x_->request.target(), status);
    }
    const bool keep = sink_ && sink_->keep_alive() && !draining_;
    sink_.reset();
    if (!keep) {
        phase_ = phase::closing;
        if (conn_) conn_->close(net::close_mode::graceful);
        return;
    }
    phase_ = phase::idle;
    if (!in_on_data_ && conn_) {
        // Completed later (long poll, pool): parse what pipelined meanwhile.
        conn_->resume_reading();
    }
}

// A takeover is counted under the status it sent: 101 for WebSocket, 200 for an SSE stream
// (which takes the connection over without switching protocols).
void http1_session::response_upgraded(int status) {
    ctx_.counters().upgrades.add();
    if (status > 0 && status < 600) ctx_.counters().by_status[status].add();
    sink_.reset();
    phase_ = phase::upgraded;
}

void http1_session::fail(net::connection& c, http1::error e) {
    ctx_.counters().parse_errors[static_cast<std::size_t>(e)].add();
    const auto reply = http1::reply_for(e);
    ctx_.counters().by_status[reply.status].add();
    log::debug("http1 {} from {}: {} at offset {} in state {}", to_string(e),
               std::string_view(remote_.data(), remote_len_), reply.status,
               x_ ? x_->parser.diag().offset : 0,
               x_ ? http1::to_string(x_->parser.diag().state) : "-");
    byte_buffer out(256);
    http1::write_error_response(out, e, ctx_.date());
    c.write(std::move(out));
    phase_ = phase::closing;
    c.close(net::close_mode::graceful);
}

void http1_session::reply_and_close(net::connection& c, int status, std::string_view body) {
    ctx_.counters().by_status[status].add();
    byte_buffer out(256);
    http1::write_simple_response(out, status, "text/plain; charset=utf-8", body, ctx_.date(), true);
    c.write(std::move(out));
    phase_ = phase::closing;
    c.close(net::close_mode::graceful);
}

void http1_session::on_drain(net::connection&) {
    if (sink_) sink_->drained();
}

void http1_session::on_peer_closed(net::connection& c) {
    // With nothing in flight there is nothing more to do.
    if (phase_ != phase::handler) return c.close(net::close_mode::graceful);
    // The client left before its answer began (a long poll, GET /jobs/next): like nginx's 499
    // "client closed request", the exchange is abandoned now, so the asynchronous producer sees
    // the response closed and keeps what it would have sent (a job goes back to its queue at
    // once). An answer already under way is still written: a half-closed client may read it.
    if (sink_ && !sink_->begun())
        c.close(net::close_mode::immediate, net::close_reason::peer_closed);
}

net::timeout_action http1_session::on_timeout(net::connection& c, net::timeout_kind k) {
    if (k == net::timeout_kind::idle && phase_ == phase::handler) return net::timeout_action::keep;
    if (k == net::timeout_kind::read && phase_ == phase::idle && fresh_) {
        // Nothing (or only part of an h2 preface) arrived within header_timeout of the accept:
        // closed without a 408, as nginx does for client_header_timeout on a connection that
        // sent nothing. There is no request to answer, and a client that opened the
        // connection ahead of use (a browser's preconnect) must not read a stray response.
        ctx_.counters().header_timeouts.add();
        return net::timeout_action::close;
    }
    if (k == net::timeout_kind::read && (phase_ == phase::head || phase_ == phase::body)) {
        auto& counters = ctx_.counters();
        (phase_ == phase::head ? counters.header_timeouts : counters.body_timeouts).add();
        reply_and_close(c, 408, "request timeout\n");
        return net::timeout_action::keep;  // the graceful close flushes the 408
    }
    return net::timeout_action::close;
}

void http1_session::on_close(net::connection&, net::close_reason) {
    if (sink_) {
        auto s = std::move(sink_);
        s->detach();
    }
    conn_ = nullptr;
    release_exchange();
}

void http1_session::begin_shutdown(net::connection& c) {
    draining_ = true;
    if (phase_ == phase::idle || phase_ == phase::head) {
        c.close(net::close_mode::graceful);
        return;
    }
    // Otherwise the response in flight ends with Connection: close (keep_alive_ is checked at
    // begin) or, if its head already left, the connection closes after it. A handler waiting
    // for an event (long poll, GET /jobs/next) answers now through on_shutdown.
    if (auto s = sink_) s->shutdown();
}

void http1_session::release_exchange() {
    if (x_) ctx_.release_exchange(std::move(x_));
}

void http1_session::switch_to_h2(net::connection& c, h2_start start) {
    phase_ = phase::upgraded;
    ctx_.counters().h2c_switches.add();
    release_exchange();
    c.set_handler(
        std::make_unique<h2_session>(ctx_, std::string_view(remote_.data(), remote_len_), start));
}

// RFC 7540 3.2: "Upgrade: h2c" on a complete request; the request becomes h2 stream 1 and is
// answered over HTTP/2 after the 101. A bad HTTP2-Settings value: served as HTTP/1.1.
bool http1_session::switch_to_h2c(net::connection& c) {
    auto settings = x_->request.header("http2-settings");
    if (!settings || draining_) return false;
    auto h2 = std::make_unique<h2_session>(ctx_, std::string_view(remote_.data(), remote_len_),
                                           h2_start::upgraded);
    if (!h2->adopt_upgrade(std::move(x_->request), *settings)) return false;
    c.write(std::string_view(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"));
    ctx_.counters().by_status[101].add();
    phase_ = phase::upgraded;
    release_exchange();
    c.set_handler(std::move(h2));  // h2_session::on_open answers stream 1
    return true;
}

void shutdown_connection(net::connection& c) {
    if (auto* g = dynamic_cast<graceful_shutdown*>(c.handler())) {
        g->begin_shutdown(c);
    } else {
        c.close(net::close_mode::graceful);
    }
}

}  // namespace sy::session
