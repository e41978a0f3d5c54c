// rpc::call: one gRPC call served over the version-independent HTTP layer (http::request with a
// streaming body, http::response with trailers). It never knows whether HTTP/2 or HTTP/1.1
// carries it; the session under the response does the framing (HEADERS/DATA/trailing HEADERS).
//
// What this layer does (grpc/doc/PROTOCOL-HTTP2.md):
//   - Request checks, answered "Trailers-Only" (HTTP 200, grpc-status in the only HEADERS):
//     content-type not application/grpc[+proto] -> HTTP 415 (the spec's SHOULD) for non-gRPC
//     types, UNIMPLEMENTED for application/grpc+json and other sub-types; unknown
//     grpc-encoding -> UNIMPLEMENTED (with grpc-accept-encoding); bad grpc-timeout -> INTERNAL.
//   - Length-prefixed messages in both directions (proto/grpc codec): gzip requests are
//     inflated; responses are gzip-compressed when the client sent gzip itself, or when the
//     handler asks for it (set_response_encoding) and the client's grpc-accept-encoding lists
//     gzip; one message can still go uncompressed (write_options::no_compression).
//   - grpc-timeout: a loop timer ends the call with DEADLINE_EXCEEDED and marks it cancelled.
//   - Cancellation: the client resetting the stream (or closing the connection) aborts the
//     response; the call becomes cancelled() and on_cancel callbacks run once.
//   - Server shutdown (SIGTERM, http::response::on_shutdown): a streaming call (server, client
//     or bidi streaming: they can wait for ever) ends at once with UNAVAILABLE "server shutting
//     down" and becomes cancelled(), as at a deadline; a unary call is left to finish within
//     limits.shutdown_grace_ms (its connection has sent GOAWAY and closes after it).
//   - finish(status): grpc-status / grpc-message trailers after the messages, or Trailers-Only
//     when nothing was sent yet.
//
// Ownership: calls are std::shared_ptr. While the request body is being read the call holds a
// reference to itself; after the client half-closes, the typed handles (writer, stream,
// unary_reply in service.hpp) keep it alive. Callbacks registered on the HTTP request/response
// hold weak references only, so nothing leaks if every handle goes away. Every callback is
// cleared when the call ends (that breaks cycles through handler-captured handles).
//
// Thread: everything on the loop thread that received the request. Blocking work goes to the
// thread pool and posts back before touching the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/core/timer_queue.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/proto/grpc/status.hpp"

namespace sy::core {
class loop;
}

namespace sy::rpc {

/// A gRPC status: code plus an optional human-readable message (sent percent-encoded).
struct status {
    grpc::status_code code = grpc::status_code::ok;
    std::string message;

    status() = default;
    status(grpc::status_code c, std::string m = {}) : code(c), message(std::move(m)) {}  // NOLINT
    bool ok() const { return code == grpc::status_code::ok; }
};

/// What a unary handler returns: the response message or a status.
template <typename T>
using result = sy::result<T, status>;

/// `return rpc::fail(grpc::status_code::not_found, "no such todo");` (grpc::error is the codec
/// enum)
inline sy::unexpected<status> fail(grpc::status_code c, std::string message = {}) {
    return sy::unexpected<status>(status{c, std::move(message)});
}

enum class method_kind : std::uint8_t { unary, server_streaming, client_streaming, bidi_streaming };

struct call_options {
    std::size_t max_receive_message_size = 4 * 1024 * 1024;
    std::size_t max_inflated_size = 4 * 1024 * 1024;
    /// Responses to gzip clients: messages below this size go uncompressed (flag 0).
    std::size_t min_compress_size = 256;
    /// Upper bound for client deadlines (0: none). A longer grpc-timeout is clamped.
    std::chrono::milliseconds max_deadline{0};
    /// The method's id for the call counters (rpc/call_stats.hpp; 0: unknown). service::install
    /// sets it per method.
    unsigned method_id = 0;
};

/// Per-message send options (grpc++'s WriteOptions).
struct write_options {
    /// Send this message with the compressed flag 0 even when the call's responses are gzip
    /// (the interop case server_compressed_streaming; a payload known not to compress).
    bool no_compression = false;
};

class call : public std::enable_shared_from_this<call> {
  public:
    /// Checks the request (content-type, grpc-encoding, grpc-timeout). On failure answers it
    /// (Trailers-Only or 415) and returns nullptr. On success the call exists but reads nothing
    /// until start_reading(). `loop` (for the deadline timer) defaults to core::loop::current();
    /// nullptr there means "no deadline enforcement" (unit tests without a loop).
    static std::shared_ptr<call> accept(http::request& req, http::response res,
                                        const call_options& opts, method_kind kind,
                                        core::loop* loop = nullptr);
    call(http::request& req, http::response res, const call_options& opts, method_kind kind);
    ~call();
    call(const call&) = delete;
    call& operator=(const call&) = delete;

    // ---- Request metadata (the request is valid until the call ends) -----------------------
    /// "/package.Service/Method".
    const std::string& method_path() const { return path_; }
    /// First value of a request header ("authorization", "x-user"); nullopt after the call
    /// ended or if absent.
    std::optional<std::string_view> metadata(std::string_view key) const;
    const http::request* request() const { return req_; }
    std::string peer() const { return peer_; }
    method_kind kind() const { return kind_; }
    /// Absolute deadline on the loop's monotonic clock (ns), if the client sent grpc-timeout.
    std::optional<std::int64_t> deadline_ns() const { return deadline_ns_; }
    /// The compression used for responses.
    grpc::compression response_encoding() const { return out_encoding_; }
    /// Chooses the responses' compression; only before the response headers went out (the
    /// grpc-encoding header names it). gzip is taken only when the client's grpc-accept-encoding
    /// lists it (absent: what the client sent itself). Returns whether `c` is now the response
    /// encoding. Messages under call_options::min_compress_size still go uncompressed.
    bool set_response_encoding(grpc::compression c);
    /// The request message being delivered (or, after half-close, the last one) arrived with the
    /// compressed flag set: what a server checks for the interop "expect_compressed" requests.
    bool message_compressed() const { return message_compressed_; }

    // ---- Response metadata (before the first message / finish) --------------------------------
    void add_header(std::string_view name, std::string_view value);
    void add_trailer(std::string_view name, std::string_view value);

    // ---- State ------------------------------------------------------------------------------
    bool finished() const { return finished_; }
    /// The client went away (RST_STREAM, connection closed) or the deadline passed.
    bool cancelled() const { return cancelled_; }
    /// fn runs once if the call is cancelled (runs at once if it already was). Replaces the
    /// previous callback. Not run when the handler finishes the call itself.
    void on_cancel(std::function<void()> fn);
    /// fn runs on the call's loop after `delay` unless the call ends first: every pending timer
    /// is cancelled (and its callback, with any handle it holds, destroyed) when the call
    /// finishes or is cancelled. For paced streams (the interop interval_us). Returns false
    /// (fn dropped) once the call is over or without a loop (unit tests without one).
    bool schedule(std::chrono::microseconds delay, std::function<void()> fn);

    // ---- Sending ----------------------------------------------------------------------------
    /// Sends one serialized message. `framed` holds 5 free bytes followed by the message (the
    /// prefix is filled in here, avoiding a copy); it may be modified. Sends the response
    /// headers first if needed. Returns false (nothing sent) once the call is over.
    bool send_prefixed(std::string& framed, write_options o = {});
    /// Sends one serialized message (copies).
    bool send_message(byte_view msg, write_options o = {});
    /// Sends bytes that are already a length-prefixed message (shared by many calls: hub
    /// fan-out). Only for identity responses: check response_encoding() first.
    bool send_framed(shared_bytes framed);
    /// Output above the session's high watermark: stop writing until on_drain.
    bool above_high_watermark() const;
    /// Response bytes queued in the server for this call (0 once it is over): what a
    /// slow-subscriber cap measures (http::response::queued_bytes).
    std::size_t queued_bytes() const;
    void on_drain(std::function<void()> fn);
    /// Ends the call: trailers (or Trailers-Only). No-op once finished or cancelled.
    void finish(const status& s);

    // ---- Receiving (typed layer side) --------------------------------------------------------
    /// on_message gets each decoded message (valid during the call only); on_half_close runs
    /// when the client ended its stream with no partial message pending. Set both before
    /// start_reading(). Either may finish the call.
    void set_receiver(std::function<void(byte_view)> on_message,
                      std::function<void()> on_half_close);
    /// fn runs once when the call ends (finish or cancel), after its own callbacks were dropped:
    /// the typed layer drops handler callbacks there.
    void on_release(std::function<void()> fn) { on_release_ = std::move(fn); }
    /// Registers the request body callbacks (messages buffered meanwhile are delivered now).
    void start_reading();

    // Counters for tests and metrics.
    std::uint64_t messages_received() const { return received_; }
    std::uint64_t messages_sent() const { return sent_; }

  private:
    bool begin_response();
    void on_body_chunk(byte_view chunk);
    void on_body_end();
    std::string describe(grpc::error e) const;  // grpc-message for a codec error
    void on_transport_abort();
    void on_deadline();
    void on_server_shutdown();
    /// The server ends the call (deadline, shutdown): finish(s), then cancelled() for the handler.
    void end_early(const status& s);
    void cancel();
    void release();
    void start_deadline(std::chrono::nanoseconds timeout);

    http::request* req_;
    http::response res_;
    call_options opts_;
    method_kind kind_;
    std::string path_;
    std::string peer_;
    grpc::decoder dec_;
    grpc::compression in_encoding_ = grpc::compression::identity;
    grpc::compression out_encoding_ = grpc::compression::identity;
    std::function<void(byte_view)> on_message_;
    std::function<void()> on_half_close_;
    std::function<void()> on_cancel_;
    std::function<void()> on_release_;
    std::vector<std::pair<std::string, std::string>> trailers_;
    std::shared_ptr<call> self_;  // held while the request body is being read
    std::optional<std::int64_t> deadline_ns_;
    core::loop* loop_ = nullptr;
    core::timer_id deadline_timer_{};
    std::vector<core::timer_id> timers_;  // schedule(): pending, cancelled at release()
    std::vector<std::uint8_t> scratch_;
    std::uint64_t received_ = 0, sent_ = 0;
    bool started_ = false;             // response headers sent
    bool gzip_accepted_ = false;       // the client's grpc-accept-encoding allows gzip responses
    bool message_compressed_ = false;  // the last delivered request message was compressed
    bool finished_ = false;
    bool cancelled_ = false;
};

using context = call;

/// Answers a request that is not a served call: Trailers-Only with `s` (HTTP 200).
void reply_trailers_only(http::response& res, const status& s);

}  // namespace sy::rpc
