#include "switchyard/http/response.hpp"

#include <unistd.h>

#include <string>

#include "switchyard/http/util.hpp"

namespace sy::http {

namespace {

// Framing and connection-management fields belong to the session (RFC 9110 7.6.1, RFC 9113
// 8.2.2 forbids connection-specific fields on h2 altogether).
bool is_session_owned(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection") || iequals(name, "keep-alive");
}

}  // namespace

void response_sink::set_header(std::string_view name, std::string_view value) {
    if (phase_ != phase::idle || is_session_owned(name)) return;
    head_.headers.set(name, value);
}

void response_sink::add_header(std::string_view name, std::string_view value) {
    if (phase_ != phase::idle || is_session_owned(name)) return;
    head_.headers.add(name, value);
}

bool response_sink::begin(int status, std::optional<std::uint64_t> content_length,
                          header_list extra) {
    if (aborted_ || phase_ != phase::idle) return false;
    for (const auto& [n, v] : extra) add_header(n, v);
    head_.status = status;
    head_.content_length = content_length;
    status_ = status;
    phase_ = phase::streaming;
    do_begin(head_);
    // The session has serialised (or copied) the head; drop the storage now, a long-lived
    // streaming response should not pin it.
    head_.headers = header_map{};
    return true;
}

write_status response_sink::write(std::string_view bytes) {
    return write(as_bytes(bytes));
}

write_status response_sink::write(byte_view bytes) {
    if (!writable()) return write_status::closed;
    if (bytes.empty())
        return do_above_high_watermark() ? write_status::above_high_watermark : write_status::ok;
    return do_write(bytes);
}

write_status response_sink::write(shared_bytes bytes) {
    if (!writable()) return write_status::closed;
    return do_write(std::move(bytes));
}

write_status response_sink::write_file(file_body file) {
    if (!writable()) return write_status::closed;  // `file` closes its fd on the way out
    return do_send_file(std::move(file));
}

void response_sink::end(const header_map* trailers) {
    if (!writable()) return;
    phase_ = phase::finished;
    // Callbacks may hold response handles (and so this sink): drop them to break the cycle.
    on_drain_ = nullptr;
    on_abort_ = nullptr;
    on_shutdown_ = nullptr;
    do_end(trailers);
}

void response_sink::reset() {
    if (aborted_ || phase_ == phase::finished) return;
    phase_ = phase::finished;
    on_drain_ = nullptr;
    on_abort_ = nullptr;
    on_shutdown_ = nullptr;
    do_reset();
}

void response_sink::send(int status, std::string_view body, std::string_view content_type) {
    if (!body.empty() && !content_type.empty() && !head_.headers.contains("content-type"))
        set_header("Content-Type", content_type);
    if (!begin(status, body.size())) return;
    if (!body.empty()) write(body);
    end();
}

void response_sink::send(int status, shared_bytes body, std::string_view content_type) {
    if (!content_type.empty() && !head_.headers.contains("content-type"))
        set_header("Content-Type", content_type);
    if (!begin(status, body.size())) return;
    if (!body.empty()) write(std::move(body));
    end();
}

void response_sink::send_file(int status, file_body file, std::string_view content_type) {
    if (!content_type.empty() && !head_.headers.contains("content-type"))
        set_header("Content-Type", content_type);
    if (!begin(status, file.length)) return;
    if (file.length > 0) write_file(std::move(file));
    end();
}

void response_sink::redirect(int status, std::string_view location) {
    set_header("Location", location);
    send(status, std::string_view{}, std::string_view{});
}

void response_sink::on_abort(std::function<void()> fn) {
    if (aborted_) {
        if (fn) fn();
        return;
    }
    if (phase_ == phase::finished) return;  // can no longer abort
    on_abort_ = std::move(fn);
}

void response_sink::on_shutdown(std::function<void()> fn) {
    if (aborted_ || phase_ == phase::finished) return;
    if (shutting_down_) {
        if (fn) fn();
        return;
    }
    on_shutdown_ = std::move(fn);
}

void response_sink::notify_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    if (aborted_ || phase_ == phase::finished) return;
    std::function<void()> fn = std::move(on_shutdown_);
    on_shutdown_ = nullptr;
    if (fn) fn();
}

std::shared_ptr<byte_tunnel> response_sink::upgrade(int status, header_list extra) {
    if (upgrade_kind() == upgrade_support::none) return nullptr;
    for (const auto& [n, v] : extra) head_.headers.add(n, v);  // Upgrade/Connection allowed here
    head_.status = status;
    head_.content_length.reset();
    auto tunnel = do_upgrade(head_);
    if (!tunnel) return nullptr;
    status_ = status;
    phase_ = phase::finished;
    on_drain_ = nullptr;
    on_abort_ = nullptr;
    on_shutdown_ = nullptr;
    head_.headers = header_map{};
    return tunnel;
}

void response_sink::release_handle() {
    if (handles_ > 0 && --handles_ == 0 && !aborted_ && phase_ != phase::finished) {
        // Nobody can finish this response any more.
        if (phase_ == phase::idle) {
            head_.headers.clear();
            send(500, "handler did not respond\n");
        } else {
            reset();
        }
    }
}

void response_sink::notify_drain() {
    if (aborted_ || !on_drain_) return;
    // Copy: the callback may replace itself or finish the response (which clears on_drain_).
    std::function<void()> fn = on_drain_;
    fn();
}

void response_sink::recycle() {
    head_.status = 200;
    head_.headers.clear();
    head_.content_length.reset();
    on_drain_ = nullptr;
    on_abort_ = nullptr;
    on_shutdown_ = nullptr;
    handles_ = 0;
    status_ = 0;
    phase_ = phase::idle;
    aborted_ = false;
    shutting_down_ = false;
}

void response_sink::notify_abort() {
    if (aborted_) return;
    aborted_ = true;
    on_drain_ = nullptr;
    std::function<void()> fn = std::move(on_abort_);
    on_abort_ = nullptr;
    on_shutdown_ = nullptr;
    if (phase_ != phase::finished && fn) fn();
}

}  // namespace sy::http
