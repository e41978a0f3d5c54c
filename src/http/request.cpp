#include "switchyard/http/request.hpp"

#include "switchyard/http/util.hpp"

namespace sy::http {

namespace {

constexpr std::string_view k_method_tokens[method_count] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", ""};

}  // namespace

method parse_method(std::string_view token) {
    // Method tokens are case-sensitive (RFC 9110 9.1).
    for (int i = 0; i < method_count - 1; ++i)
        if (k_method_tokens[i] == token) return static_cast<method>(i);
    return method::other;
}

std::string_view method_token(method m) {
    return k_method_tokens[static_cast<int>(m)];
}

std::string_view version_name(http_version v) {
    switch (v) {
        case http_version::http1_0:
            return "HTTP/1.0";
        case http_version::http1_1:
            return "HTTP/1.1";
        case http_version::http2:
            return "HTTP/2";
        case http_version::http3:
            return "HTTP/3";
    }
    return "?";
}

int status_for(target_error e) {
    switch (e) {
        case target_error::empty:
        case target_error::bad_form:
        case target_error::bad_escape:
        case target_error::nul_byte:
        case target_error::escapes_root:
            return 400;
    }
    return 400;
}

std::string_view describe(target_error e) {
    switch (e) {
        case target_error::empty:
            return "empty request-target";
        case target_error::bad_form:
            return "request-target is not origin/absolute/asterisk form";
        case target_error::bad_escape:
            return "malformed percent-escape in path";
        case target_error::nul_byte:
            return "NUL byte in path";
        case target_error::escapes_root:
            return "path climbs above the root";
    }
    return "?";
}

request::slice request::put(std::string_view s) {
    slice sl{static_cast<std::uint32_t>(store_.size()), static_cast<std::uint32_t>(s.size())};
    store_.append(s);
    return sl;
}

void request::reset() {
    store_.clear();
    headers_.clear();
    method_str_ = target_ = raw_path_ = path_ = query_ = remote_ = slice{};
    params_.clear();
    body_.clear();
    principal_.reset();
    token_refused_ = {};
    on_chunk_ = nullptr;
    on_end_ = nullptr;
    method_ = http::method::get;
    version_ = http_version::http1_1;
    max_body_ = UINT64_MAX;
    streaming_ = false;
    body_ended_ = false;
}

void request::set_method(std::string_view token) {
    method_str_ = put(token);
    method_ = parse_method(token);
}

result<void, target_error> request::set_target(std::string_view t) {
    if (t.empty()) return unexpected(target_error::empty);
    target_ = put(t);
    if (std::size_t hash = t.find('#'); hash != std::string_view::npos) t = t.substr(0, hash);
    if (t == "*") {
        raw_path_ = path_ = put("*");
        query_ = slice{};
        return {};
    }
    if (t.front() != '/') {
        // absolute-form (RFC 9112 3.2.2): scheme "://" authority [path-abempty] [ "?" query ]
        std::size_t sep = t.find("://");
        if (sep == std::string_view::npos || sep == 0) return unexpected(target_error::bad_form);
        std::string_view scheme = t.substr(0, sep);
        if (!iequals(scheme, "http") && !iequals(scheme, "https"))
            return unexpected(target_error::bad_form);
        t.remove_prefix(sep + 3);
        std::size_t p = t.find_first_of("/?");
        t = p == std::string_view::npos ? std::string_view{} : t.substr(p);
    }
    std::size_t q = t.find('?');
    std::string_view raw = t.substr(0, q);
    query_ = q == std::string_view::npos ? slice{} : put(t.substr(q + 1));
    raw_path_ = put(raw.empty() ? std::string_view{"/"} : raw);
    std::size_t start = store_.size();
    if (raw.empty()) raw = "/";
    if (auto r = percent_decode(raw, store_, decode_mode::path); !r) {
        store_.resize(start);
        return unexpected(r.error() == decode_error::nul_byte ? target_error::nul_byte
                                                              : target_error::bad_escape);
    }
    auto n = normalize_path_inplace(store_.data() + start, store_.size() - start);
    if (!n) {
        store_.resize(start);
        return unexpected(target_error::escapes_root);
    }
    store_.resize(start + *n);
    path_ = slice{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(*n)};
    return {};
}

void request::append_body(byte_view bytes) {
    body_.append(bytes);
}

void request::deliver_body_chunk(byte_view bytes) {
    if (on_chunk_) {
        on_chunk_(bytes);
    } else {
        body_.append(bytes);
    }
}

void request::deliver_body_end() {
    body_ended_ = true;
    if (on_end_) {
        // Move out first: the callback may destroy or reset the request.
        body_end_fn fn = std::move(on_end_);
        fn();
    }
}

void request::on_body(body_chunk_fn chunk_fn, body_end_fn end_fn) {
    if (!streaming_) body_ended_ = true;
    if (!body_.empty() && chunk_fn) {
        chunk_fn(body_.bytes());
        if (streaming_) body_.clear();
    }
    if (body_ended_) {
        if (end_fn) end_fn();
        return;
    }
    on_chunk_ = std::move(chunk_fn);
    on_end_ = std::move(end_fn);
}

void request::add_param(std::string_view name, std::string_view value_in_path) {
    auto off = static_cast<std::uint32_t>(value_in_path.data() - store_.data());
    params_.push_back({name, slice{off, static_cast<std::uint32_t>(value_in_path.size())}});
}

std::string_view request::param(std::string_view name) const {
    for (const param_slot& p : params_)
        if (p.name == name) return view(p.value);
    return {};
}

path_param request::param_at(std::size_t i) const {
    return {params_[i].name, view(params_[i].value)};
}

std::optional<std::string> request::query(std::string_view name) const {
    return query_param(query_string(), name);
}

}  // namespace sy::http
