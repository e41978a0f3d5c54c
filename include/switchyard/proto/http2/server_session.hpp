// Sans-IO HTTP/2 server session (RFC 9113) on libnghttp2.
//
// Usage (one session per connection, owned by the connection's loop):
//   sy::http2::server_session s(my_observer, {.max_concurrent_streams = 100});
//   // on readable:
//   auto r = s.feed(input.readable(), now);  input.consume(input.size());
//   // events arrive synchronously inside feed(): on_request, on_data, ...
//   //   observer: s.submit_response(id, 200, {{"content-type", "text/plain"}}, false);
//   //             s.submit_data(id, sy::as_bytes("hello"), true);
//   // once per loop turn:
//   s.pull_output(out);  flush(out);
//   if (r.outcome != feed_outcome::ok || s.should_close()) close after flushing;
//
// Contract:
// - Input: feed() processes every byte it is given (nghttp2 keeps partial frames internally),
//   so the caller may always drop the input. The client preface must be the first bytes fed
//   (prior knowledge, TLS ALPN "h2", or after an h2c upgrade).
// - Events fire synchronously inside feed() (and on_data_drained / on_stream_close also inside
//   pull_output()). Views in events (headers, pseudo headers, DATA bytes) are valid only during
//   the callback: DATA bytes point into the caller's input, header views into nghttp2 buffers.
//   Observer callbacks may call submit_*() on this session; they must not call feed() or
//   pull_output() (re-entrancy), nor destroy the session.
// - Output: nothing is written anywhere until pull_output(), which appends every frame that can
//   be sent now (respecting the peer's flow-control windows) to the caller's buffer.
// - Backpressure: response DATA waits in a per-stream queue of segments until the peer's window
//   allows it (the data source returns NGHTTP2_ERR_DEFERRED when the queue is empty and is
//   resumed by submit_data()). queued_bytes(id) tells how much waits; the session never drops or
//   limits it on its own: the HTTP layer applies its high watermark (stop producing above it,
//   resume on on_data_drained()). shared_bytes segments are not copied until written into the
//   output buffer, so fan-out payloads are shared until then.
// - Request body flow control: the session consumes received DATA automatically (window
//   updates are sent as bytes are delivered), except on streams given to set_manual_window():
//   there the stream's window comes back only through consume(id, n), so a tunnel whose reader
//   is busy stops its peer at the stream window (64 KiB by default) while the connection window
//   is still returned at once (other streams keep flowing). Otherwise, a caller that needs
//   receive backpressure should stop calling feed() (TCP then pushes back).
// - Errors: feed() reports goaway_queued for the errors the session detects itself (floods, an
//   invalid client preface, a lower stream id never used) and for those nghttp2 reports through
//   its error callback; a few connection errors nghttp2 handles silently (it just queues
//   GOAWAY), and those show up once pull_output() sends the GOAWAY: last_error() turns to
//   error::protocol and should_close() to true. So the loop is: feed, pull_output, flush, then
//   close once should_close() (the GOAWAY is out); close at once only on fatal.
//   Stream states follow RFC 9113 5.1 as nghttp2 implements them: closed streams are kept (at
//   most max_concurrent_streams), so DATA/HEADERS on a half-closed (remote) or closed stream,
//   or after the peer's RST_STREAM, is a connection error STREAM_CLOSED (GOAWAY; RFC 9113 5.4.1
//   lets a stream error be treated so), while frames after our own RST_STREAM are ignored.
// - Limits: oversize request headers (> max_header_list_size) get a 431 response with
//   END_STREAM and no on_request event; rapid-reset / SETTINGS / PING floods queue GOAWAY
//   ENHANCE_YOUR_CALM and feed() reports goaway_queued with the error.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/http2/common.hpp"

namespace sy::http2 {

struct server_settings {
    std::uint32_t max_concurrent_streams = 100;
    std::uint32_t initial_window_size = 65535;  // per stream, advertised
    /// Connection-level receive window (WINDOW_UPDATE on stream 0 at start when > 65535).
    std::uint32_t connection_window_size = 1 << 20;
    std::uint32_t max_header_list_size = 16 * 1024;  // advertised and enforced (-> 431)
    std::uint32_t max_frame_size = 16 * 1024;        // largest frame we accept
    /// Our HPACK decoder table (SETTINGS_HEADER_TABLE_SIZE) and our encoder's table bound.
    std::uint32_t header_table_size = 4096;
    std::size_t max_deflate_dynamic_table_size = 4096;
    std::size_t max_settings_entries = 32;  // per SETTINGS frame
    std::size_t max_outbound_ack = 1000;    // unsent SETTINGS/PING ACKs before giving up
    std::size_t max_continuations = 8;      // CONTINUATION frames per header block
    flood_limit rst_limit{200, std::chrono::milliseconds(1000)};
    flood_limit settings_limit{100, std::chrono::milliseconds(1000)};
    flood_limit ping_limit{100, std::chrono::milliseconds(1000)};
    /// RFC 8441 extended CONNECT (WebSocket over h2): advertises SETTINGS_ENABLE_CONNECT_PROTOCOL
    /// and exposes :protocol in request_head.
    bool enable_connect_protocol = true;
    /// Streams, RST_STREAM and GOAWAY frames (both ways) are counted here when set (the
    /// sessions of one loop share one; metrics sy_h2_*). Not owned; outlives the session.
    frame_counters* counters = nullptr;
};

/// A request head (RFC 9113 8.3.1). All views valid only during on_request().
struct request_head {
    stream_id id = 0;
    std::string_view method;
    std::string_view scheme;
    std::string_view authority;
    std::string_view path;
    std::string_view protocol;              // RFC 8441 :protocol, empty when absent
    std::span<const header_field> headers;  // regular fields, in received order
    bool end_stream = false;                // no body follows
};

class server_observer {
  public:
    virtual ~server_observer() = default;
    virtual void on_request(const request_head& req) = 0;
    /// A chunk of request body. end_stream is reported once, on a final call with empty bytes
    /// (or by on_trailers when the body ends with trailers).
    virtual void on_data(stream_id id, byte_view bytes, bool end_stream) = 0;
    /// Request trailers; always end the stream.
    virtual void on_trailers(stream_id, std::span<const header_field>) {}
    /// The peer reset the stream (RST_STREAM received).
    virtual void on_stream_reset(stream_id, error_code) {}
    /// The stream is gone (completed, or reset either way). Fires once per stream announced by
    /// on_request (or by upgrade_h2c()); not for streams still open when the session is
    /// destroyed (the owner tears those down itself).
    virtual void on_stream_close(stream_id, error_code) {}
    /// Queued response bytes went out; `queued` is what still waits for this stream.
    virtual void on_data_drained(stream_id, std::size_t /*queued*/) {}
};

struct session_stats {
    std::uint64_t streams_opened = 0;
    std::uint64_t rst_received = 0;
    std::uint64_t headers_rejected = 0;  // 431s
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
};

enum class submit_error : std::uint8_t {
    no_stream,       // unknown or closed stream
    bad_state,       // e.g. data after end_stream, response twice
    invalid_header,  // nghttp2 refused the header list
    session_closed,  // GOAWAY sent/received or fatal error
    internal,
};
std::string_view to_string(submit_error e);

class server_session {
  public:
    server_session(server_observer& obs, const server_settings& cfg = {});
    ~server_session();
    server_session(const server_session&) = delete;
    server_session& operator=(const server_session&) = delete;

    /// Processes all of `in`. `now` drives the flood counters.
    feed_result feed(byte_view in, time_point now);
    feed_result feed(byte_view in) { return feed(in, std::chrono::steady_clock::now()); }

    /// Appends every frame that can be sent now. Returns false on a fatal send error.
    bool pull_output(byte_buffer& out);
    /// True when nghttp2 has something to send (cheap; for "arm write" decisions).
    bool wants_write() const;
    /// True when the session is done: GOAWAY exchanged / error and nothing in flight.
    bool should_close() const;

    /// h2c upgrade (RFC 7540 3.2): call after sending "101 Switching Protocols", before the
    /// first feed(). `http2_settings` is the HTTP2-Settings header value (base64url SETTINGS
    /// payload). Stream 1 becomes the upgraded request (half-closed remote): the caller already
    /// has its head and body from HTTP/1.1 and answers it with submit_response(1, ...).
    /// head_request: the upgraded request was HEAD (no response body allowed).
    sy::result<void, error> upgrade_h2c(std::string_view http2_settings, bool head_request);

    /// Response headers (:status added here). end_stream: no body (e.g. gRPC trailers-only).
    sy::result<void, submit_error> submit_response(stream_id id, int status,
                                                   std::span<const header_field> hdrs,
                                                   bool end_stream);
    /// Queues body bytes (copied) / shared bytes (referenced). end_stream closes the stream
    /// after the queue drains.
    sy::result<void, submit_error> submit_data(stream_id id, byte_view bytes, bool end_stream);
    sy::result<void, submit_error> submit_data(stream_id id, shared_bytes bytes, bool end_stream);
    /// Trailers after the queued data; ends the stream (gRPC status goes here).
    sy::result<void, submit_error> submit_trailers(stream_id id,
                                                   std::span<const header_field> hdrs);
    /// RST_STREAM. With no_error (RFC 9113 8.1: "stop sending the request, the response is
    /// complete") it waits until the response submitted on `id` has sent its END_STREAM, and is
    /// dropped if the client ended its request by then.
    sy::result<void, submit_error> submit_rst(stream_id id, error_code code);

    /// From now on DATA received on `id` gives its stream window back only through consume()
    /// (extended-CONNECT tunnels). Call before the stream's DATA arrives (from on_request).
    void set_manual_window(stream_id id);
    /// The owner of a manual-window stream processed `n` more bytes: WINDOW_UPDATE follows
    /// (nghttp2 batches small updates). No-op for other streams.
    void consume(stream_id id, std::size_t n);

    /// Bytes queued for `id` and not yet written to an output buffer (0 for unknown streams).
    std::size_t queued_bytes(stream_id id) const;
    /// Sum over all streams.
    std::size_t total_queued_bytes() const;

    /// Graceful shutdown, step 1 (optional): GOAWAY with last-stream-id 2^31-1 so the client
    /// stops opening streams while requests in flight still complete.
    void shutdown_notice();
    /// Graceful shutdown, step 2: GOAWAY with the last processed stream id; streams above it are
    /// refused; should_close() turns true once the in-flight streams finish.
    void goaway(error_code code = error_code::no_error);

    std::size_t open_streams() const;
    const session_stats& stats() const;
    error last_error() const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace sy::http2
