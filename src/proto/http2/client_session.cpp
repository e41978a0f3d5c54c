// Minimal HTTP/2 client session on libnghttp2 (tests, benchmarks, load tool).
#include "switchyard/proto/http2/client_session.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "nv.hpp"
#include "switchyard/base/text.hpp"

namespace sy::http2 {

namespace {
struct client_stream {
    std::string body;  // pending request body
    std::size_t off = 0;
    bool end = true;
    bool deferred = false;
    std::vector<std::pair<std::string, std::string>> hdrs;  // response head being received
    int status = 0;
    bool got_response = false;
};
}  // namespace

struct client_session::impl {
    client_observer& obs_;
    client_settings cfg_;
    nghttp2_session* ng_ = nullptr;
    byte_buffer* out_ = nullptr;
    std::unordered_map<stream_id, client_stream> streams_;
    std::vector<header_field> scratch_;
    std::vector<nghttp2_settings_entry> iv_;
    bool goaway_ = false;

    impl(client_observer& o, const client_settings& c) : obs_(o), cfg_(c) {}
    ~impl() {
        if (ng_) nghttp2_session_del(ng_);
    }
    static impl& self(void* ud) { return *static_cast<impl*>(ud); }

    static ssize_t on_send(nghttp2_session*, const uint8_t* d, size_t n, int, void* ud) {
        self(ud).out_->append(d, n);
        return static_cast<ssize_t>(n);
    }
    static ssize_t on_read(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                           nghttp2_data_source*, void* ud) {
        auto& s = self(ud);
        auto it = s.streams_.find(id);
        if (it == s.streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        client_stream& st = it->second;
        std::size_t n = std::min(len, st.body.size() - st.off);
        if (n == 0 && !st.end) {
            st.deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
        std::copy_n(st.body.data() + st.off, n, buf);
        st.off += n;
        if (st.off == st.body.size()) {
            st.body.clear();
            st.off = 0;
            if (st.end) *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }
    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* ud) {
        auto it = self(ud).streams_.find(f->hd.stream_id);
        if (it != self(ud).streams_.end()) it->second.hdrs.clear();
        return 0;
    }
    static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                         const uint8_t* v, size_t vl, uint8_t, void* ud) {
        auto it = self(ud).streams_.find(f->hd.stream_id);
        if (it == self(ud).streams_.end()) return 0;
        std::string_view name(reinterpret_cast<const char*>(n), nl);
        std::string_view value(reinterpret_cast<const char*>(v), vl);
        if (name == ":status") {
            int st = 0;
            for (char c : value) st = st * 10 + (c - '0');
            it->second.status = st;
            return 0;
        }
        it->second.hdrs.emplace_back(name, value);
        return 0;
    }
    void on_headers(const nghttp2_frame* f) {
        auto it = streams_.find(f->hd.stream_id);
        if (it == streams_.end()) return;
        client_stream& st = it->second;
        scratch_.clear();
        for (auto& [n, v] : st.hdrs) scratch_.push_back({n, v});
        bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (!st.got_response && st.status >= 200) {
            st.got_response = true;
            obs_.on_response({f->hd.stream_id, st.status, scratch_, end});
        } else if (st.got_response) {
            obs_.on_trailers(f->hd.stream_id, scratch_);
        }
    }
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* ud) {
        auto& s = self(ud);
        if (f->hd.type == NGHTTP2_HEADERS) s.on_headers(f);
        if (f->hd.type == NGHTTP2_DATA && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
            s.obs_.on_data(f->hd.stream_id, {}, true);
        if (f->hd.type == NGHTTP2_GOAWAY) {
            s.goaway_ = true;
            s.obs_.on_goaway(f->goaway.last_stream_id,
                             static_cast<error_code>(f->goaway.error_code));
        }
        return 0;
    }
    static int on_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n,
                        void* ud) {
        if (n > 0) self(ud).obs_.on_data(id, byte_view(d, n), false);
        return 0;
    }
    static int on_close(nghttp2_session*, int32_t id, uint32_t code, void* ud) {
        auto& s = self(ud);
        if (s.streams_.erase(id) > 0) s.obs_.on_stream_close(id, static_cast<error_code>(code));
        return 0;
    }
    bool init();
};

bool client_session::impl::init() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    if (!cfg_.auto_window_update) nghttp2_option_set_no_auto_window_update(opt, 1);
    int rv = nghttp2_session_client_new2(&ng_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return false;
    iv_ = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg_.initial_window_size},
           {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg_.max_concurrent_streams}};
    return nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv_.data(), iv_.size()) == 0;
}

client_session::client_session(client_observer& obs, const client_settings& cfg)
    : impl_(std::make_unique<impl>(obs, cfg)) {
    impl_->init();
}
client_session::~client_session() = default;

bool client_session::feed(byte_view in) {
    if (!impl_->ng_) return false;
    return nghttp2_session_mem_recv(impl_->ng_, in.data(), in.size()) >= 0;
}

bool client_session::pull_output(byte_buffer& out) {
    if (!impl_->ng_) return false;
    impl_->out_ = &out;
    int rv = nghttp2_session_send(impl_->ng_);
    impl_->out_ = nullptr;
    return rv == 0;
}

sy::result<stream_id, submit_error> client_session::submit_request(
    std::string_view method, std::string_view scheme, std::string_view authority,
    std::string_view path, std::span<const header_field> headers, byte_view body, bool end_stream) {
    nv_list nv;
    nv.add(":method", method);
    nv.add(":scheme", scheme);
    nv.add(":authority", authority);
    nv.add(":path", path);
    for (const auto& h : headers) nv.add(h.name, h.value);
    nghttp2_data_provider prd{};
    prd.read_callback = impl::on_read;
    bool has_body = !body.empty() || !end_stream;
    client_stream st;
    st.body.assign(reinterpret_cast<const char*>(body.data()), body.size());
    st.end = end_stream;
    int32_t id = nghttp2_submit_request(impl_->ng_, nullptr, nv.data(), nv.size(),
                                        has_body ? &prd : nullptr, nullptr);
    if (id < 0) {
        return sy::unexpected(id == NGHTTP2_ERR_INVALID_ARGUMENT ? submit_error::invalid_header
                                                                 : submit_error::session_closed);
    }
    impl_->streams_[id] = std::move(st);
    return id;
}

sy::result<void, submit_error> client_session::submit_data(stream_id id, byte_view bytes,
                                                           bool end_stream) {
    auto it = impl_->streams_.find(id);
    if (it == impl_->streams_.end()) return sy::unexpected(submit_error::no_stream);
    client_stream& st = it->second;
    if (st.end) return sy::unexpected(submit_error::bad_state);
    st.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    st.end = end_stream;
    if (st.deferred) {
        st.deferred = false;
        nghttp2_session_resume_data(impl_->ng_, id);
    }
    return {};
}

sy::result<void, submit_error> client_session::submit_rst(stream_id id, error_code code) {
    if (nghttp2_submit_rst_stream(impl_->ng_, NGHTTP2_FLAG_NONE, id, uint32_t(code)) != 0)
        return sy::unexpected(submit_error::internal);
    return {};
}

std::string client_session::h2c_settings_header() const {
    uint8_t buf[64];
    auto n = nghttp2_pack_settings_payload(buf, sizeof buf, impl_->iv_.data(), impl_->iv_.size());
    if (n < 0) return {};
    return base64url_encode(std::string_view(reinterpret_cast<char*>(buf), size_t(n)));
}

bool client_session::upgrade_h2c(bool head_request) {
    uint8_t buf[64];
    auto n = nghttp2_pack_settings_payload(buf, sizeof buf, impl_->iv_.data(), impl_->iv_.size());
    if (n < 0) return false;
    if (nghttp2_session_upgrade2(impl_->ng_, buf, size_t(n), head_request ? 1 : 0, nullptr) != 0)
        return false;
    impl_->streams_[1] = client_stream{};
    return true;
}

void client_session::consume(stream_id id, std::size_t n) {
    nghttp2_session_consume(impl_->ng_, id, n);
}

bool client_session::goaway_received() const {
    return impl_->goaway_;
}

}  // namespace sy::http2
