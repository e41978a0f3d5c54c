// http::request: one HTTP request as a handler sees it, the same for HTTP/1.1, HTTP/2 and
// HTTP/3.
//
// Who fills it: the session (src/session) builds the request from its codec's events with the
// "session side" setters, then hands it to the router/handler. Handlers only use the const
// accessors plus on_body().
//
// Storage and lifetime: the method string, target, raw path, decoded path and remote address
// are copied into one backing string owned by the request; header fields live in a header_map
// (one more backing string). Accessors return views into that storage, valid while the request
// is alive and not reset(). The session keeps the request alive until the response is finished
// or aborted, so a handler that completes its response later may keep using `req` until then
// (but must copy anything it needs beyond that point). reset() keeps capacities so a connection
// can reuse one request object for every request it serves (arena-style, no per-request
// allocation once warmed up).
//
// Body: two modes, chosen by the session (typically: Content-Length up to a configured limit is
// buffered, anything larger or of unknown length is streamed):
//   - complete: the handler runs after the whole body arrived; body() returns it.
//   - streaming: the handler runs after the head; it calls on_body(chunk_fn, end_fn). Chunks
//     that arrive before a callback is registered are buffered and delivered on registration,
//     so registering later (from a deferred task) loses nothing. If the client leaves mid-body,
//     end_fn never runs; the response's on_abort fires instead.
// Body limit: max_body() is limits.max_body, set by the session for every HTTP version. A
// complete body beyond it never reaches a handler (the session answers 413 before reading it:
// HTTP/1.1 from Content-Length or the chunk sizes, HTTP/2 from content-length or the DATA
// seen); a streaming body's consumer applies it to its own unit (gRPC: each message).
//
// Thread: loop thread only.
#pragma once

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
#include "switchyard/http/headers.hpp"

namespace sy::auth {
class principal;  // switchyard/auth/principal.hpp; http/ only carries the pointer
}

namespace sy::http {

/// Request methods (RFC 9110 9). `other` covers extension methods: see request::method_name().
/// `del` is DELETE (a keyword in C++).
enum class method : std::uint8_t {
    get,
    head,
    post,
    put,
    del,
    patch,
    options,
    connect,
    trace,
    other
};
inline constexpr int method_count = 10;

method parse_method(std::string_view token);
/// The canonical token ("GET", "DELETE"...); "" for method::other.
std::string_view method_token(method m);

/// For logging only: a handler must never branch on the HTTP version.
enum class http_version : std::uint8_t { http1_0, http1_1, http2, http3 };
std::string_view version_name(http_version v);

/// Why set_target() rejected a request-target. Every value maps to 400 (see status_for()).
enum class target_error : std::uint8_t {
    empty,         ///< empty target
    bad_form,      ///< not origin-form, absolute-form or "*" (RFC 9112 3.2)
    bad_escape,    ///< malformed percent-escape in the path
    nul_byte,      ///< %00 in the path
    escapes_root,  ///< "/.." climbs above the root after decoding
};
/// The one table mapping target errors to wire replies.
int status_for(target_error e);
std::string_view describe(target_error e);

/// A path parameter captured by the router (":id" or "*rest").
struct path_param {
    std::string_view name;
    std::string_view value;  ///< percent-decoded (it is a slice of path())
};

class request {
  public:
    using body_chunk_fn = std::function<void(byte_view)>;
    using body_end_fn = std::function<void()>;

    request() = default;
    request(const request&) = delete;
    request& operator=(const request&) = delete;
    request(request&&) = default;
    request& operator=(request&&) = default;

    // ---- Session side ------------------------------------------------------------------------

    /// Clears everything but keeps the allocated capacity.
    void reset();
    void set_method(std::string_view token);
    /// Splits the request-target into path and query, percent-decodes and normalises the path
    /// (util.hpp normalize_path_inplace). Accepts origin-form ("/a?b"), absolute-form
    /// ("http://h/a?b": the authority is dropped, the session reads Host/:authority itself) and
    /// asterisk-form ("*": path() is "*"). On error the session replies status_for(error).
    result<void, target_error> set_target(std::string_view target);
    void add_header(std::string_view name, std::string_view value) { headers_.add(name, value); }
    void set_remote_address(std::string_view addr) { remote_ = put(addr); }
    void set_version(http_version v) { version_ = v; }
    /// Complete mode: appends body bytes before the handler runs.
    void append_body(byte_view bytes);
    void set_max_body(std::uint64_t n) { max_body_ = n; }
    /// Switches to streaming mode (call before the handler runs).
    void set_streaming_body() { streaming_ = true; }
    /// Streaming mode: delivers a chunk (or buffers it until on_body() is called).
    void deliver_body_chunk(byte_view bytes);
    /// Streaming mode: the body is complete.
    void deliver_body_end();

    /// Router side: replaces the captured parameters. Names must outlive the request (they point
    /// into the router's route table); values must be slices of path().
    void clear_params() { params_.clear(); }
    void add_param(std::string_view name, std::string_view value_in_path);

    // ---- Handler side ------------------------------------------------------------------------

    http::method method() const { return method_; }
    /// The method token as received ("GET", "PROPFIND").
    std::string_view method_name() const { return view(method_str_); }
    /// The request-target exactly as received.
    std::string_view target() const { return view(target_); }
    /// The path part of the target, still percent-encoded (for redirects and logging).
    std::string_view raw_path() const { return view(raw_path_); }
    /// Percent-decoded, normalised path ("/a/b%2Fc/../d" -> "/a/d"). Always starts with '/'
    /// (except "*" for OPTIONS *). Note that %2F decodes to '/' and so separates segments.
    std::string_view path() const { return view(path_); }
    /// The raw query string without '?', not decoded; "" if none.
    std::string_view query_string() const { return view(query_); }
    /// Form-decoded value of the first query parameter called `name`.
    std::optional<std::string> query(std::string_view name) const;

    const header_map& headers() const { return headers_; }
    std::optional<std::string_view> header(std::string_view name) const {
        return headers_.get(name);
    }

    /// The value of path parameter `name` (":name" or "*name" in the route), "" if absent.
    std::string_view param(std::string_view name) const;
    std::size_t param_count() const { return params_.size(); }
    path_param param_at(std::size_t i) const;

    /// Complete mode: the whole body. Streaming mode: bytes buffered before on_body().
    std::string_view body() const { return body_.view(); }
    /// Complete mode: the whole body as shared bytes, without a copy (a publish hands it to the
    /// hub as it is). The request keeps reading into a new block if it is reused meanwhile.
    shared_bytes body_shared() const { return body_.share(); }
    bool body_streaming() const { return streaming_; }
    /// Streaming mode: registers the body callbacks (see the file comment). In complete mode
    /// chunk_fn receives body() once and end_fn runs immediately, so a handler can use one code
    /// path for both modes.
    void on_body(body_chunk_fn chunk_fn, body_end_fn end_fn);
    bool body_ended() const { return body_ended_; }
    /// limits.max_body (see the file comment); unlimited unless the session set it.
    std::uint64_t max_body() const { return max_body_; }

    std::string_view remote_address() const { return view(remote_); }
    http_version version() const { return version_; }

    /// Who sent the request: set by the server's auth filter (a router filter) before dispatch.
    /// Null: no token, or a token that was refused (token_refused() then says why). Shared with
    /// the subscriptions the request starts, which end at the principal's exp.
    const std::shared_ptr<const auth::principal>& principal() const { return principal_; }
    void set_principal(std::shared_ptr<const auth::principal> p) { principal_ = std::move(p); }
    /// Why the token the request carried was refused (a static string); empty: none refused.
    std::string_view token_refused() const { return token_refused_; }
    void set_token_refused(std::string_view why) { token_refused_ = why; }

  private:
    struct slice {
        std::uint32_t off = 0, len = 0;
    };
    slice put(std::string_view s);
    std::string_view view(slice s) const { return {store_.data() + s.off, s.len}; }

    std::string store_;
    header_map headers_;
    slice method_str_, target_, raw_path_, path_, query_, remote_;
    struct param_slot {
        std::string_view name;
        slice value;
    };
    std::vector<param_slot> params_;
    shared_bytes_builder body_;
    body_chunk_fn on_chunk_;
    body_end_fn on_end_;
    http::method method_ = http::method::get;
    http_version version_ = http_version::http1_1;
    std::uint64_t max_body_ = UINT64_MAX;
    bool streaming_ = false;
    bool body_ended_ = false;
    std::shared_ptr<const auth::principal> principal_;
    std::string_view token_refused_;  // points at a static string
};

}  // namespace sy::http
