// http::response and the response_sink interface that sessions implement.
//
// Two halves:
//   - response_sink: one object per request, implemented by each session (HTTP/1.1 over a
//     connection, HTTP/2 or HTTP/3 per stream). Its PUBLIC non-virtual methods enforce the
//     response state machine (idle -> streaming -> finished, or aborted at any time) so every
//     session gets the same semantics; the session only implements the PRIVATE do_* hooks and
//     reports transport events with notify_drain() / notify_abort().
//   - response: the handle a handler receives. Copyable and cheap (a shared_ptr): a handler that
//     answers later (long polling, SSE, work on the thread pool) keeps a copy in its callback and
//     the sink stays valid after the handler returns, even after the connection is gone.
//
// Contracts every sink implementation relies on (checked here, not in each session):
//   - do_begin() runs exactly once, before any body call; then any sequence of do_write() and
//     do_send_file(); then exactly one do_end() or do_reset(). Nothing after that.
//   - After notify_abort() (client left, stream reset, connection closed) no do_* hook runs
//     again; every write is a no-op returning write_status::closed and on_abort fires once.
//   - head.content_length set: the body is exactly that many bytes (h1: Content-Length; h2:
//     content-length + DATA). Unset: unknown length (h1: chunked; h2: DATA until END_STREAM).
//   - 1xx, 204 and 304 never carry a body (RFC 9110 6.4.1): the session sends no
//     Content-Length / Transfer-Encoding for them even though send() passes content_length 0.
//   - HEAD requests: the handler answers as for GET (the router maps HEAD to GET); the session
//     sends the head (with the declared length) and drops body bytes, closing any file.
//   - Framing headers (Content-Length, Transfer-Encoding, Connection, Keep-Alive) are owned by
//     the session: set_header()/add_header() ignore them; Date and Server are added by the
//     session too. Header names may have any case; h2/h3 sessions lower-case them.
//   - If every response handle is dropped before the response finished (a handler forgot to
//     answer or threw its callback away), the sink answers 500 if nothing was sent yet, or
//     resets the stream (h1: closes the connection) if the head was already sent.
//
// Thread: loop thread only, including late completion: work finished on the thread pool must
// post back to the owning loop before touching the response (the loop's post() is the only
// thread-safe entry point).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/fd.hpp"
#include "switchyard/http/headers.hpp"

namespace sy::http {

/// What a body write reports. above_high_watermark: the bytes were queued but the output
/// queue is above its high watermark; stop writing until on_drain fires. closed: the client is
/// gone (or the response already ended); the bytes were dropped.
enum class write_status : std::uint8_t { ok, above_high_watermark, closed };

/// How (if at all) the transport under this response can be taken over for another protocol.
enum class upgrade_support : std::uint8_t {
    none,
    connection_takeover,  ///< HTTP/1.1: 101 Switching Protocols, then the raw connection
    extended_connect,     ///< HTTP/2 (RFC 8441) / HTTP/3 (RFC 9220): the stream is the tunnel
};

/// Owned file descriptor (closed on destruction): the one in base/fd.hpp.
using sy::unique_fd;

/// A byte range of an open file, sent with sendfile(2) where the transport allows it (h1 over
/// plain TCP); TLS and h2 sessions read it in chunks instead.
struct file_body {
    unique_fd fd;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

/// Everything sent before the body. The status is a final status (>= 200) or 101 via upgrade().
struct response_head {
    int status = 200;
    header_map headers;
    std::optional<std::uint64_t> content_length;
};

/// A bidirectional byte stream that replaces the HTTP exchange after an upgrade (WebSocket,
/// CONNECT tunnels). Implemented by the session; callbacks run on the loop thread.
/// Receive flow control is the tunnel's: while its own output is above the high watermark it
/// holds new input (h1: the connection stops reading; h2: the stream's window is not given
/// back, so the peer stops at it) and delivers it once drained, like a connection does.
class byte_tunnel {
  public:
    virtual ~byte_tunnel() = default;
    virtual write_status write(byte_view bytes) = 0;
    virtual write_status write(shared_bytes bytes) = 0;
    /// Queues bytes the caller gives up (a frame built for this tunnel only); the default
    /// copies them, a tunnel over a connection moves the buffer into the queue.
    virtual write_status write_owned(byte_buffer&& bytes) { return write(bytes.readable()); }
    /// Graceful close (h1: FIN after flushing; h2: END_STREAM).
    virtual void close() = 0;
    /// Abortive close (h1: the connection is reset; h2: RST_STREAM CANCEL). on_close follows.
    virtual void reset() { close(); }
    virtual bool is_open() const = 0;
    /// Output written to the tunnel and still queued in the server (h1: the connection's
    /// queue; h2: the stream's queue): what a slow-consumer cap is measured against.
    virtual std::size_t queued_bytes() const { return 0; }
    /// What follows is a stream of small messages (push): the transport may hold its output
    /// briefly while busy and write several in one syscall (h1: the connection's write
    /// coalescing, push.write_delay_us). Default: nothing changes.
    virtual void coalesce_writes() {}
    virtual void set_on_data(std::function<void(byte_view)> fn) = 0;
    virtual void set_on_close(std::function<void()> fn) = 0;
    virtual void set_on_drain(std::function<void()> fn) = 0;
    /// The server began a graceful shutdown of the connection carrying the tunnel (h2: GOAWAY
    /// sent; the connection closes once its streams end): finish and close. Default: never.
    virtual void set_on_shutdown(std::function<void()>) {}
};

using header_list = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class response_sink {
  public:
    enum class phase : std::uint8_t { idle, streaming, finished };

    response_sink() = default;
    response_sink(const response_sink&) = delete;
    response_sink& operator=(const response_sink&) = delete;
    virtual ~response_sink() = default;

    // ---- State ------------------------------------------------------------------------------
    bool is_open() const { return !aborted_; }
    bool aborted() const { return aborted_; }
    phase current_phase() const { return phase_; }
    bool headers_sent() const { return phase_ != phase::idle; }
    bool finished() const { return phase_ == phase::finished; }
    /// The status passed to begin() (0 before).
    int status() const { return status_; }

    // ---- Head -------------------------------------------------------------------------------
    /// Headers for the coming head; ignored once begun (and framing headers are ignored).
    void set_header(std::string_view name, std::string_view value);
    void add_header(std::string_view name, std::string_view value);
    header_map& pending_headers() { return head_.headers; }

    // ---- Body -------------------------------------------------------------------------------
    /// Sends the head. content_length unset means "unknown length, streamed".
    /// Returns false (and does nothing) if already begun, finished or aborted.
    bool begin(int status, std::optional<std::uint64_t> content_length = std::nullopt,
               header_list extra = {});
    write_status write(std::string_view bytes);
    write_status write(byte_view bytes);
    /// Queues refcounted bytes without copying (hub fan-out, pre-framed payloads).
    write_status write(shared_bytes bytes);
    /// Queues a file range (sendfile where possible). The fd is closed once sent or dropped.
    write_status write_file(file_body file);
    /// Finishes the response, optionally with trailers (h1 chunked trailers, h2 trailing
    /// HEADERS; dropped when the session cannot send them, e.g. h1 with Content-Length).
    void end(const header_map* trailers = nullptr);
    /// Aborts a response mid-way: h2/h3 RST_STREAM, h1 closes the connection. Before the head
    /// was sent, prefer send(500, ...).
    void reset();

    // One-shot helpers: begin + body + end.
    void send(int status, std::string_view body = {},
              std::string_view content_type = "text/plain; charset=utf-8");
    void send(int status, shared_bytes body, std::string_view content_type);
    void send_file(int status, file_body file, std::string_view content_type);
    void redirect(int status, std::string_view location);

    // ---- Flow control and lifetime -------------------------------------------------------------
    /// True when the queued output is above the session's high watermark.
    bool above_high_watermark() const { return !aborted_ && do_above_high_watermark(); }
    /// Body bytes written and still queued in the server for this response (h1: the
    /// connection's output queue; h2: the stream's queue): what a slow-consumer cap measures.
    std::size_t queued_bytes() const { return aborted_ ? 0 : do_queued_bytes(); }
    /// fn runs each time queued output falls below the low watermark after write() reported
    /// above_high_watermark. Replaces any previous callback.
    void on_drain(std::function<void()> fn) { on_drain_ = std::move(fn); }
    /// fn runs once when the client goes away before the response finished (runs immediately if
    /// that already happened). Replaces any previous callback.
    void on_abort(std::function<void()> fn);
    /// fn runs once when the server begins a graceful shutdown (SIGTERM) while this response is
    /// unfinished, or at once if the shutdown already began: a response that waits for an event
    /// (long poll, stream) answers now, with its protocol's "going away" (503 + Retry-After,
    /// gRPC UNAVAILABLE, end of stream). Without a callback the response may take the rest of
    /// limits.shutdown_grace_ms to finish. Replaces any previous callback.
    void on_shutdown(std::function<void()> fn);
    /// The server's graceful shutdown has begun (on_shutdown callbacks fired or fire at once).
    bool shutting_down() const { return shutting_down_; }

    // ---- Upgrade (WebSocket etc.) --------------------------------------------------------------
    upgrade_support upgrade_kind() const {
        return aborted_ || phase_ != phase::idle ? upgrade_support::none : do_upgrade_support();
    }
    /// Sends the upgrade head (h1: `status` should be 101 with Upgrade headers; extended CONNECT:
    /// 200) with the pending headers and returns the tunnel, or nullptr if unsupported / already
    /// begun. The response counts as finished afterwards.
    std::shared_ptr<byte_tunnel> upgrade(int status, header_list extra = {});

    // ---- Handle bookkeeping (used by http::response) --------------------------------------------
    void retain_handle() { ++handles_; }
    void release_handle();

  protected:
    /// Session: the output queue fell below the low watermark.
    void notify_drain();
    /// Session: the client left / stream reset / connection closed. Idempotent.
    void notify_abort();
    /// Session: the connection carrying this response began a graceful shutdown (see
    /// on_shutdown). Idempotent; also before the handler ran (its on_shutdown then fires at once).
    void notify_shutdown();
    /// Session: makes a finished (or aborted) sink ready for the next exchange, so a session
    /// can reuse one sink object instead of allocating one per request. Only when no response
    /// handle refers to it any more.
    void recycle();

  private:
    virtual void do_begin(response_head& head) = 0;
    virtual write_status do_write(byte_view bytes) = 0;
    virtual write_status do_write(shared_bytes bytes) = 0;
    virtual write_status do_send_file(file_body file) = 0;
    virtual void do_end(const header_map* trailers) = 0;
    virtual void do_reset() = 0;
    virtual bool do_above_high_watermark() const = 0;
    virtual std::size_t do_queued_bytes() const = 0;
    virtual upgrade_support do_upgrade_support() const { return upgrade_support::none; }
    virtual std::shared_ptr<byte_tunnel> do_upgrade(response_head& /*head*/) { return nullptr; }

    bool writable() const { return !aborted_ && phase_ == phase::streaming; }

    response_head head_;
    std::function<void()> on_drain_;
    std::function<void()> on_abort_;
    std::function<void()> on_shutdown_;
    std::uint32_t handles_ = 0;
    int status_ = 0;
    phase phase_ = phase::idle;
    bool aborted_ = false;
    bool shutting_down_ = false;
};

/// The handler's handle on its response: a shared reference to the session's sink. Copy it
/// into any callback that completes the response later. All calls forward to response_sink (see
/// there for the semantics). When the last handle goes away unfinished, the sink answers 500 or
/// resets (see the file comment).
class response {
  public:
    response() = default;
    explicit response(std::shared_ptr<response_sink> sink) : sink_(std::move(sink)) {
        if (sink_) sink_->retain_handle();
    }
    response(const response& o) : sink_(o.sink_) {
        if (sink_) sink_->retain_handle();
    }
    response(response&& o) noexcept : sink_(std::move(o.sink_)) {}
    response& operator=(response o) noexcept {
        std::swap(sink_, o.sink_);
        return *this;
    }
    ~response() {
        if (sink_) sink_->release_handle();
    }

    bool valid() const { return sink_ != nullptr; }
    response_sink& sink() { return *sink_; }
    const response_sink& sink() const { return *sink_; }

    // Head
    response& set_header(std::string_view name, std::string_view value) {
        sink_->set_header(name, value);
        return *this;
    }
    response& add_header(std::string_view name, std::string_view value) {
        sink_->add_header(name, value);
        return *this;
    }

    // One-shot
    void send(int status, std::string_view body = {},
              std::string_view content_type = "text/plain; charset=utf-8") {
        sink_->send(status, body, content_type);
    }
    void send(int status, shared_bytes body, std::string_view content_type) {
        sink_->send(status, std::move(body), content_type);
    }
    void send_json(int status, std::string_view json) {
        sink_->send(status, json, "application/json");
    }
    void send_file(int status, file_body file, std::string_view content_type) {
        sink_->send_file(status, std::move(file), content_type);
    }
    void redirect(int status, std::string_view location) { sink_->redirect(status, location); }

    // Streaming
    bool begin(int status, header_list headers = {},
               std::optional<std::uint64_t> content_length = std::nullopt) {
        return sink_->begin(status, content_length, headers);
    }
    write_status write(std::string_view chunk) { return sink_->write(chunk); }
    write_status write(shared_bytes chunk) { return sink_->write(std::move(chunk)); }
    write_status write_file(file_body file) { return sink_->write_file(std::move(file)); }
    void end(const header_map* trailers = nullptr) { sink_->end(trailers); }
    void reset() { sink_->reset(); }

    // Lifetime and flow
    bool closed() const { return !sink_->is_open(); }
    bool finished() const { return sink_->finished(); }
    bool headers_sent() const { return sink_->headers_sent(); }
    bool above_high_watermark() const { return sink_->above_high_watermark(); }
    std::size_t queued_bytes() const { return sink_->queued_bytes(); }
    void on_abort(std::function<void()> fn) { sink_->on_abort(std::move(fn)); }
    void on_drain(std::function<void()> fn) { sink_->on_drain(std::move(fn)); }
    void on_shutdown(std::function<void()> fn) { sink_->on_shutdown(std::move(fn)); }

    // Upgrade
    upgrade_support upgrade_kind() const { return sink_->upgrade_kind(); }
    std::shared_ptr<byte_tunnel> upgrade(int status, header_list headers = {}) {
        return sink_->upgrade(status, headers);
    }

  private:
    std::shared_ptr<response_sink> sink_;
};

}  // namespace sy::http
