// Minimal sans-IO HTTP/2 client session on libnghttp2, for tests, benchmarks and the load tool.
//
// Usage:
//   sy::http2::client_session c(obs);               // queues the preface + SETTINGS
//   auto id = c.submit_request("GET", "http", "localhost", "/", {}, {});
//   c.pull_output(out);  send(out);  ...  c.feed(received);
//   // obs.on_response / on_data / on_trailers / on_stream_close fire inside feed()
//
// Same contract as server_session: events fire synchronously inside feed(); views are valid
// only during the callback; nothing is written until pull_output(). Request bodies are copied
// at submit time. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/http2/common.hpp"
#include "switchyard/proto/http2/server_session.hpp"

namespace sy::http2 {

struct client_settings {
    std::uint32_t initial_window_size = 65535;
    std::uint32_t max_concurrent_streams = 100;
    /// false: the client never sends WINDOW_UPDATE unless consume() is called (a slow reader).
    bool auto_window_update = true;
};

struct response_head {
    stream_id id = 0;
    int status = 0;
    std::span<const header_field> headers;  // valid during on_response only
    bool end_stream = false;
};

class client_observer {
  public:
    virtual ~client_observer() = default;
    virtual void on_response(const response_head& resp) = 0;
    /// end_stream is reported on a final call with empty bytes (or via on_trailers).
    virtual void on_data(stream_id id, byte_view bytes, bool end_stream) = 0;
    virtual void on_trailers(stream_id, std::span<const header_field>) {}
    virtual void on_stream_close(stream_id, error_code) {}
    virtual void on_goaway(stream_id /*last_stream_id*/, error_code) {}
};

class client_session {
  public:
    explicit client_session(client_observer& obs, const client_settings& cfg = {});
    ~client_session();
    client_session(const client_session&) = delete;
    client_session& operator=(const client_session&) = delete;

    /// Processes all of `in`; false on a fatal nghttp2 error.
    bool feed(byte_view in);
    bool pull_output(byte_buffer& out);

    /// Submits a request; an empty body with end_stream=true sends HEADERS with END_STREAM.
    /// With end_stream=false the stream stays open after `body` (send more with submit_data).
    sy::result<stream_id, submit_error> submit_request(std::string_view method,
                                                       std::string_view scheme,
                                                       std::string_view authority,
                                                       std::string_view path,
                                                       std::span<const header_field> headers,
                                                       byte_view body, bool end_stream = true);
    sy::result<void, submit_error> submit_data(stream_id id, byte_view bytes, bool end_stream);
    sy::result<void, submit_error> submit_rst(stream_id id, error_code code);
    /// Client side of an h2c upgrade: stream 1 is the request sent over HTTP/1.1.
    /// Returns the HTTP2-Settings header value to send in the HTTP/1.1 upgrade request.
    std::string h2c_settings_header() const;
    bool upgrade_h2c(bool head_request);
    /// Gives window back for `n` bytes received on `id` (when auto_window_update is false).
    void consume(stream_id id, std::size_t n);
    bool goaway_received() const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace sy::http2
