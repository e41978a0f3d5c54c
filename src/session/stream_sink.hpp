// stream_sink: the part of a response sink that is the same on every multiplexed transport (an
// h2 or h3 stream): file pumping in chunks as the stream
// drains, HEAD and body-less statuses, trailers after a file, the high-watermark state and the
// drain notification. A transport (h2_sink, h3_sink) supplies the out_* hooks. Also the request
// side both share: add_request_fields().
// Thread: the owning loop only, like the session it belongs to.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/base/text.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"

namespace sy::session {

class stream_sink : public http::response_sink {
  public:
    static constexpr std::size_t k_file_chunk = 64 * 1024;

    explicit stream_sink(bool head_request) : head_request_(head_request) {}

    /// The transport is gone (stream reset or closed, connection closed): on_abort fires.
    void detach() {
        detached_ = true;
        file_.fd.reset();
        notify_abort();
    }
    void shutdown() { notify_shutdown(); }
    /// The stream's queue went down: more of a file, or on_drain once below the watermark.
    void drained(std::size_t low_watermark) {
        if (file_.fd) pump_file();
        if (over_ && !file_.fd && out_queued() <= low_watermark) {
            over_ = false;
            notify_drain();
        }
    }
    bool waiting() const { return over_ || static_cast<bool>(file_.fd); }
    bool file_pending() const { return static_cast<bool>(file_.fd); }

  protected:
    /// Sends the head; end_stream: nothing follows (HEAD, 204, 304, Content-Length: 0).
    virtual void out_head(http::response_head& head, bool end_stream) = 0;
    virtual void out_data(shared_bytes b) = 0;
    virtual void out_end(const http::header_map* trailers) = 0;
    virtual void out_reset() = 0;
    virtual std::size_t out_queued() const = 0;
    virtual std::size_t out_high_watermark() const = 0;
    /// The response is complete from the handler's side (counters, access log).
    virtual void out_done(int status) = 0;
    bool live() const { return !detached_; }

  private:
    http::write_status status_now() {
        if (!live()) return http::write_status::closed;
        if (out_queued() > out_high_watermark()) {
            over_ = true;
            return http::write_status::above_high_watermark;
        }
        return http::write_status::ok;
    }
    void submit(shared_bytes b) {
        if (!no_body_ && !b.empty()) out_data(std::move(b));
    }
    /// One chunk of the file into the stream; false at its end or on a read error.
    bool read_chunk() {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(file_.length, k_file_chunk));
        shared_bytes chunk = shared_bytes::allocate(n);
        const ssize_t r =
            ::pread(file_.fd.get(), chunk.mutable_data(), n, static_cast<off_t>(file_.offset));
        if (r <= 0) return false;
        if (static_cast<std::size_t>(r) < n)
            chunk = shared_bytes::copy_of(chunk.view().substr(0, static_cast<std::size_t>(r)));
        file_.offset += static_cast<std::uint64_t>(r);
        file_.length -= static_cast<std::uint64_t>(r);
        submit(std::move(chunk));
        return true;
    }
    // Keep about two chunks queued: enough to fill the peer's window, little memory per stream.
    void pump_file() {
        while (live() && file_.fd && file_.length > 0 && out_queued() < 2 * k_file_chunk) {
            if (!read_chunk()) {  // the file shrank: the declared length cannot be honoured
                file_.fd.reset();
                out_reset();
                return;
            }
        }
        if (file_.length == 0 || !live()) {
            file_.fd.reset();
            if (end_pending_ && live()) {
                end_pending_ = false;
                end_now(end_trailers_.get());
            }
        }
    }
    // A write after a file: the file's bytes go first (rare; static files end right away).
    void finish_file_now() {
        while (live() && file_.fd && file_.length > 0 && read_chunk()) {
        }
        file_.fd.reset();
    }
    void end_now(const http::header_map* trailers) {
        if (!live() || ended_) return;
        ended_ = true;
        out_end(trailers);
    }

    void do_begin(http::response_head& head) override {
        if (!live()) return;
        status_ = head.status;
        const bool bodyless = head.status == 204 || head.status == 304 || head.status < 200;
        no_body_ = head_request_ || bodyless;
        if (bodyless) head.content_length.reset();
        ended_ = no_body_ || (head.content_length && *head.content_length == 0);
        out_head(head, ended_);
    }
    http::write_status do_write(byte_view bytes) override {
        if (!live()) return http::write_status::closed;
        finish_file_now();
        if (!bytes.empty())
            submit(shared_bytes::copy_of(
                std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
        return status_now();
    }
    http::write_status do_write(shared_bytes bytes) override {
        if (!live()) return http::write_status::closed;
        finish_file_now();
        submit(std::move(bytes));
        return status_now();
    }
    http::write_status do_send_file(http::file_body file) override {
        if (!live()) return http::write_status::closed;
        finish_file_now();
        if (no_body_ || file.length == 0) return status_now();
        file_ = std::move(file);
        pump_file();
        if (file_.fd) {
            over_ = true;  // on_drain fires once the whole file is queued
            return http::write_status::above_high_watermark;
        }
        return status_now();
    }
    void do_end(const http::header_map* trailers) override {
        if (live()) {
            if (file_.fd) {
                end_pending_ = true;
                if (trailers) end_trailers_ = std::make_unique<http::header_map>(*trailers);
            } else {
                end_now(trailers);
            }
        }
        out_done(status_);
    }
    void do_reset() override {
        if (!live()) return;
        file_.fd.reset();
        out_reset();
    }
    bool do_above_high_watermark() const override {
        return live() && (static_cast<bool>(file_.fd) || out_queued() > out_high_watermark());
    }
    std::size_t do_queued_bytes() const override { return live() ? out_queued() : 0; }

    http::file_body file_;
    std::unique_ptr<http::header_map> end_trailers_;
    int status_ = 0;
    bool head_request_;
    bool detached_ = false;
    bool no_body_ = false;
    bool ended_ = false;
    bool end_pending_ = false;
    bool over_ = false;
};

/// What add_request_fields() saw in an h2/h3 request's fields.
struct request_fields {
    std::optional<std::uint64_t> content_length;  // the library checked its syntax and sum
    bool grpc = false;                            // content-type application/grpc*
};

/// Copies an h2 or h3 request's fields into `req` as HTTP/1.1 handlers expect them: split
/// cookie fields joined into one (RFC 9113 8.2.3, RFC 9114 4.2.1), and `host` from :authority
/// when the request has none. Fields is a range of {name, value} (lower-case names).
template <typename Fields>
request_fields add_request_fields(http::request& req, const Fields& fields,
                                  std::string_view authority) {
    request_fields out;
    bool has_host = false;
    std::string cookies;
    for (const auto& f : fields) {
        if (f.name == "cookie") {
            if (!cookies.empty()) cookies += "; ";
            cookies += f.value;
            continue;
        }
        if (f.name == "host") has_host = true;
        if (f.name == "content-length") {
            std::uint64_t n = 0;
            auto [p, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
            if (ec == std::errc{}) out.content_length = n;
        }
        if (f.name == "content-type" && istarts_with(f.value, "application/grpc")) out.grpc = true;
        req.add_header(f.name, f.value);
    }
    if (!cookies.empty()) req.add_header("cookie", cookies);
    if (!has_host && !authority.empty()) req.add_header("host", authority);
    return out;
}

}  // namespace sy::session
