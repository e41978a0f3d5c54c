// h2_session: HTTP/2 over one connection (TLS with ALPN "h2", cleartext with prior knowledge, or
// after an HTTP/1.1 "Upgrade: h2c"). Joins the sans-IO http2::server_session (proto/http2), the
// version-independent HTTP layer (http::request, router, response_sink) and a net::connection.
//
// One http::request and one response sink per stream: the same router and handlers as HTTP/1.1
// (request::version() says http2, for logging only). Streams run concurrently; a handler that
// answers later (long poll, SSE, thread pool) keeps its response handle as with HTTP/1.1.
//
// Request bodies: buffered up to limits.max_body and the handler runs at END_STREAM, like
// HTTP/1.1; a body above it (declared in content-length, or counted as DATA arrives) gets a
// complete 413 at once, then RST_STREAM(NO_ERROR). "application/grpc*" requests and CONNECT
// (RFC 8441) stream instead: the handler runs on the head and reads the body with
// request::on_body() (gRPC applies limits.max_body to each message). Whenever a response ends
// before the request body did, the rest of the body is refused the same way (RFC 9113 8.1).
//
// Output and backpressure: handlers' bytes queue per stream inside http2::server_session; frames
// are pulled into the connection's output queue once per loop turn (before the loop sleeps), and
// only while the connection is below its high watermark (a slow reader stops the pull; on_drain
// resumes it), so buffered output is bounded by what handlers queued, and each handler sees
// write_status::above_high_watermark once ITS stream queues more than the connection's high
// watermark; its on_drain fires when that stream falls to the low watermark.
//
// Files (static files over h2): read in 64 KiB chunks as the stream drains (no sendfile).
//
// Extended CONNECT (RFC 8441): a CONNECT with :protocol reaches the router as method GET with an
// "upgrade: <protocol>" header (so WebSocket routes match); upgrade_kind() is extended_connect,
// and upgrade(200) turns the stream into an http::byte_tunnel (DATA frames both ways).
//
// Shutdown: begin_shutdown() sends GOAWAY (last processed stream id), lets the streams in flight
// finish, then closes. Idle timeout: with no stream open, GOAWAY and close.
//
// Thread: the connection's loop only.
#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/core/loop.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/proto/http2/server_session.hpp"
#include "switchyard/session/http_context.hpp"
#include "switchyard/session/shutdown.hpp"

namespace sy::session {

class h2_sink;
class h2_tunnel;

/// How the connection became HTTP/2.
enum class h2_start : std::uint8_t {
    preface_expected,  ///< TLS ALPN h2: the client preface is the first input
    preface_consumed,  ///< prior knowledge: the HTTP/1.1 parser already consumed the preface
    upgraded,          ///< "Upgrade: h2c": adopt_upgrade() gives stream 1, the preface follows
};

class h2_session final : public net::connection_handler,
                         public graceful_shutdown,
                         private http2::server_observer,
                         private core::before_sleep_hook {
  public:
    h2_session(http_context& ctx, std::string_view remote_address, h2_start start);
    ~h2_session() override;

    /// h2c upgrade: call before installing the session (set_handler). Takes the HTTP/1.1
    /// request (head and complete body) as stream 1 and the HTTP2-Settings value; the caller
    /// has written "101 Switching Protocols". False: bad HTTP2-Settings (answer 400 instead).
    bool adopt_upgrade(http::request&& req, std::string_view http2_settings);

    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_drain(net::connection& c) override;
    void on_peer_closed(net::connection& c) override;
    net::timeout_action on_timeout(net::connection& c, net::timeout_kind k) override;
    void on_close(net::connection& c, net::close_reason r) override;
    void begin_shutdown(net::connection& c) override;
    /// "gRPC" once a stream of the connection was a gRPC call, "h2" otherwise.
    std::string_view protocol() const override { return grpc_seen_ ? "gRPC" : "h2"; }

    const http2::session_stats& stats() const { return h2_.stats(); }

  private:
    friend class h2_sink;
    friend class h2_tunnel;
    struct stream;

    // http2::server_observer
    void on_request(const http2::request_head& head) override;
    void on_data(http2::stream_id id, byte_view bytes, bool end_stream) override;
    void on_trailers(http2::stream_id id, std::span<const http2::header_field>) override;
    void on_stream_reset(http2::stream_id id, http2::error_code) override;
    void on_stream_close(http2::stream_id id, http2::error_code) override;
    void on_data_drained(http2::stream_id id, std::size_t queued) override;
    // core::before_sleep_hook: one pull of frames per loop turn.
    void before_sleep() override;

    void want_flush();
    void flush();
    void run_handler(stream& s);
    void body_done(stream& s);
    void refuse(stream& s, int status, std::string_view body);
    void stop_request(stream& s);
    /// limits.max_body (request::max_body()) against `bytes` declared or received: 413 beyond.
    bool body_too_large(stream& s, std::uint64_t bytes);
    void response_done(stream& s, int status);
    stream* find(http2::stream_id id);
    void abort_all();
    std::unique_ptr<http::request> take_request();

    http_context& ctx_;
    net::connection* conn_ = nullptr;
    http2::server_session h2_;
    std::unordered_map<http2::stream_id, std::unique_ptr<stream>> streams_;
    bool grpc_seen_ = false;  // a gRPC call arrived (protocol(): introspection only)
    std::vector<std::unique_ptr<http::request>> free_requests_;
    std::vector<http2::stream_id> drained_;  // streams whose sinks get on_drain after the pull
    std::string remote_;
    h2_start start_;
    bool draining_ = false;
    bool in_feed_ = false;
};

}  // namespace sy::session
