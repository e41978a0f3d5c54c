// HTTP/2 server session on libnghttp2 1.52 (Debian 12): nghttp2_session_mem_recv for input,
// nghttp2_session_send with a send callback appending to the caller's buffer for output, and
// NGHTTP2_DATA_FLAG_NO_COPY so response DATA is copied once, from the stream's segment queue
// straight into the output buffer (no intermediate copy inside nghttp2).
#include "switchyard/proto/http2/server_session.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "nv.hpp"
#include "switchyard/base/text.hpp"

namespace sy::http2 {

std::string_view to_string(submit_error e) {
    switch (e) {
        case submit_error::no_stream:
            return "no_stream";
        case submit_error::bad_state:
            return "bad_state";
        case submit_error::invalid_header:
            return "invalid_header";
        case submit_error::session_closed:
            return "session_closed";
        case submit_error::internal:
            return "internal";
    }
    return "unknown";
}

namespace {

struct segment {
    shared_bytes bytes;
    std::size_t off = 0;
};

// Per-stream state. Owned by impl::streams_; nghttp2 holds no pointer to it (lookups go through
// the map, so a stream closed inside a callback can never be touched afterwards).
struct stream_state {
    stream_id id = 0;
    // Header fields of the block being received, kept alive by rcbuf references (no copy).
    std::vector<std::pair<nghttp2_rcbuf*, nghttp2_rcbuf*>> hdr_refs;
    std::size_t header_bytes = 0;
    bool oversize = false;
    bool announced = false;      // on_request delivered (or upgraded stream)
    bool responded = false;      // response HEADERS submitted
    bool end_submitted = false;  // end_stream or trailers requested
    bool deferred = false;       // data source returned NGHTTP2_ERR_DEFERRED
    bool has_trailers = false;
    bool manual_window = false;  // stream window returned by consume() only (tunnels)
    bool end_sent = false;       // our END_STREAM is out
    bool rst_after_end = false;  // RST_STREAM(NO_ERROR) once END_STREAM is out (RFC 9113 8.1)
    owned_headers trailers;
    std::deque<segment> queue;
    std::size_t queued = 0;

    void release_headers() {
        for (auto& [n, v] : hdr_refs) {
            nghttp2_rcbuf_decref(n);
            nghttp2_rcbuf_decref(v);
        }
        hdr_refs.clear();
        header_bytes = 0;
    }
    ~stream_state() { release_headers(); }
};

std::string_view sv(nghttp2_rcbuf* b) {
    auto v = nghttp2_rcbuf_get_buf(b);
    return {reinterpret_cast<const char*>(v.base), v.len};
}

}  // namespace

struct server_session::impl {
    server_observer& obs_;
    server_settings cfg_;
    nghttp2_session* ng_ = nullptr;
    std::unordered_map<stream_id, std::unique_ptr<stream_state>> streams_;
    byte_buffer* out_ = nullptr;  // set only during pull_output()
    flood_counter rst_;
    flood_counter settings_;
    flood_counter ping_;
    time_point now_{};
    error err_ = error::none;
    session_stats stats_;
    std::vector<header_field> scratch_;  // reused for events

    impl(server_observer& o, const server_settings& c)
        : obs_(o), cfg_(c), rst_(c.rst_limit), settings_(c.settings_limit), ping_(c.ping_limit) {}

    ~impl() {
        // Streams still open end with the session: counted closed here (and forgotten first,
        // so no stream-close callback during the delete counts them again).
        for (std::size_t i = 0; i < streams_.size(); ++i) count(&frame_counters::streams_closed);
        streams_.clear();
        if (ng_) nghttp2_session_del(ng_);
    }

    void count(std::atomic<std::uint64_t> frame_counters::*c) {
        if (cfg_.counters) frame_counters::bump(cfg_.counters->*c);
    }
    void count(frame_counters::slots frame_counters::*c, std::uint32_t code) {
        if (cfg_.counters) frame_counters::bump((cfg_.counters->*c)[error_code_slot(code)]);
    }

    stream_state* find(stream_id id) {
        auto it = streams_.find(id);
        return it == streams_.end() ? nullptr : it->second.get();
    }

    void fail(error e) {
        if (err_ == error::none) err_ = e;
        nghttp2_session_terminate_session(ng_, static_cast<uint32_t>(error_code_for(e)));
    }

    // --- nghttp2 callbacks (static trampolines) ---
    static impl& self(void* ud) { return *static_cast<impl*>(ud); }

    static ssize_t on_send(nghttp2_session*, const uint8_t* data, size_t len, int, void* ud) {
        auto& s = self(ud);
        s.out_->append(data, len);
        s.stats_.bytes_out += len;
        return static_cast<ssize_t>(len);
    }

    static int on_send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                            size_t length, nghttp2_data_source*, void* ud) {
        auto& s = self(ud);
        stream_state* st = s.find(frame->hd.stream_id);
        if (!st || st->queued < length) return NGHTTP2_ERR_CALLBACK_FAILURE;
        byte_buffer& out = *s.out_;
        out.append(framehd, 9);
        std::size_t padlen = frame->data.padlen;
        if (padlen > 0) {
            auto b = static_cast<uint8_t>(padlen - 1);
            out.append(&b, 1);
        }
        std::size_t left = length;
        while (left > 0) {
            segment& seg = st->queue.front();
            std::size_t n = std::min(left, seg.bytes.size() - seg.off);
            out.append(seg.bytes.data() + seg.off, n);
            seg.off += n;
            left -= n;
            if (seg.off == seg.bytes.size()) st->queue.pop_front();
        }
        st->queued -= length;
        if (padlen > 1) {
            auto span = out.prepare(padlen - 1);
            std::memset(span.data(), 0, padlen - 1);
            out.commit(padlen - 1);
        }
        s.stats_.bytes_out += 9 + length + padlen;
        s.obs_.on_data_drained(st->id, st->queued);
        return 0;
    }

    static ssize_t on_read_data(nghttp2_session* ng, int32_t id, uint8_t*, size_t length,
                                uint32_t* flags, nghttp2_data_source*, void* ud) {
        auto& s = self(ud);
        stream_state* st = s.find(id);
        if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        if (st->queued == 0 && !st->end_submitted) {
            st->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
        std::size_t n = std::min(length, st->queued);
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (n == st->queued && st->end_submitted) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            if (st->has_trailers) {
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
                nv_list nv(st->trailers);
                int rv = nghttp2_submit_trailer(ng, id, nv.data(), nv.size());
                if (rv != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            }
        }
        return static_cast<ssize_t>(n);
    }

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
        auto& s = self(ud);
        if (frame->hd.type != NGHTTP2_HEADERS) return 0;
        stream_id id = frame->hd.stream_id;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            auto st = std::make_unique<stream_state>();
            st->id = id;
            s.streams_[id] = std::move(st);
            s.stats_.streams_opened++;
            s.count(&frame_counters::streams_opened);
        } else if (auto* st = s.find(id)) {
            st->release_headers();  // trailers: a fresh header block
        }
        return 0;
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                         nghttp2_rcbuf* value, uint8_t, void* ud) {
        auto& s = self(ud);
        stream_state* st = s.find(frame->hd.stream_id);
        if (!st || st->oversize) return 0;
        // RFC 9113 6.5.2: a field's size is name + value + 32.
        st->header_bytes += nghttp2_rcbuf_get_buf(name).len + nghttp2_rcbuf_get_buf(value).len + 32;
        if (st->header_bytes > s.cfg_.max_header_list_size) {
            // Keep decoding (HPACK state must stay in sync) but stop keeping anything.
            st->oversize = true;
            st->release_headers();
            return 0;
        }
        nghttp2_rcbuf_incref(name);
        nghttp2_rcbuf_incref(value);
        st->hdr_refs.emplace_back(name, value);
        return 0;
    }

    void deliver_request(stream_state& st, bool end_stream) {
        request_head req;
        req.id = st.id;
        req.end_stream = end_stream;
        scratch_.clear();
        for (auto& [n, v] : st.hdr_refs) {
            std::string_view name = sv(n), value = sv(v);
            if (!name.empty() && name[0] == ':') {
                if (name == ":method")
                    req.method = value;
                else if (name == ":scheme")
                    req.scheme = value;
                else if (name == ":authority")
                    req.authority = value;
                else if (name == ":path")
                    req.path = value;
                else if (name == ":protocol")
                    req.protocol = value;
                continue;
            }
            scratch_.push_back({name, value});
        }
        req.headers = scratch_;
        st.announced = true;
        obs_.on_request(req);
    }

    void reject_oversize(stream_state& st) {
        // RFC 6585 5: 431 Request Header Fields Too Large; the request is never announced.
        stats_.headers_rejected++;
        nghttp2_nv nv[] = {make_nv(":status", "431")};
        nghttp2_submit_response(ng_, st.id, nv, 1, nullptr);
        st.responded = true;
    }

    void on_headers_frame(const nghttp2_frame* frame) {
        stream_state* st = find(frame->hd.stream_id);
        if (!st) return;
        bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            if (st->oversize)
                reject_oversize(*st);
            else
                deliver_request(*st, end);
        } else if (st->announced && !st->oversize) {
            scratch_.clear();
            for (auto& [n, v] : st->hdr_refs) scratch_.push_back({sv(n), sv(v)});
            obs_.on_trailers(st->id, scratch_);
        }
        if (st) st->release_headers();
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
        auto& s = self(ud);
        switch (frame->hd.type) {
            case NGHTTP2_HEADERS:
                s.on_headers_frame(frame);
                break;
            case NGHTTP2_DATA:
                if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                    stream_state* st = s.find(frame->hd.stream_id);
                    if (st && st->announced) s.obs_.on_data(st->id, {}, true);
                }
                break;
            case NGHTTP2_RST_STREAM:
                s.stats_.rst_received++;
                s.count(&frame_counters::rst_received, frame->rst_stream.error_code);
                if (s.rst_.hit(s.now_)) s.fail(error::rapid_reset);
                if (stream_state* st = s.find(frame->hd.stream_id); st && st->announced)
                    s.obs_.on_stream_reset(st->id,
                                           static_cast<error_code>(frame->rst_stream.error_code));
                break;
            case NGHTTP2_GOAWAY:
                s.count(&frame_counters::goaway_received, frame->goaway.error_code);
                break;
            case NGHTTP2_SETTINGS:
                if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && s.settings_.hit(s.now_))
                    s.fail(error::settings_flood);
                break;
            case NGHTTP2_PING:
                if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && s.ping_.hit(s.now_))
                    s.fail(error::ping_flood);
                break;
            default:
                break;
        }
        return 0;
    }

    static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                             void* ud) {
        auto& s = self(ud);
        stream_state* st = s.find(id);
        // Flow control is ours (no_auto_window_update): the connection window always comes back
        // at once; the stream window too unless the owner holds it (set_manual_window).
        if (st && st->manual_window) {
            nghttp2_session_consume_connection(s.ng_, len);
        } else {
            nghttp2_session_consume(s.ng_, id, len);
        }
        if (st && st->announced && len > 0) s.obs_.on_data(id, byte_view(data, len), false);
        return 0;
    }

    static int on_stream_close(nghttp2_session*, int32_t id, uint32_t code, void* ud) {
        auto& s = self(ud);
        auto it = s.streams_.find(id);
        if (it == s.streams_.end()) return 0;
        bool announced = it->second->announced;
        s.streams_.erase(it);
        s.count(&frame_counters::streams_closed);  // before the event: the observer may not touch
                                                   // it any more
        if (announced) s.obs_.on_stream_close(id, static_cast<error_code>(code));
        return 0;
    }

    // RFC 9113 5.1.1: a client's new stream id must exceed every id it used before, else
    // connection error PROTOCOL_ERROR. nghttp2 only catches a lower id it still holds a record
    // of (open, or among the closed streams it keeps) and silently ignores one it has none of,
    // since it cannot tell "never used" from "closed long ago". Clients count up by two, so the
    // ids a client skipped (the only lower ids never used) are few: they are kept here as
    // ranges, at most k_max_skipped of them (the oldest are forgotten, and then ignored as
    // nghttp2 does).
    static constexpr std::size_t k_max_skipped = 16;
    stream_id highest_ = -1;  // the highest client stream id seen (-1: none, so 1 is next)
    std::deque<std::pair<stream_id, stream_id>> skipped_;  // [first, last] never used

    void note_stream_id(stream_id id) {
        if (id > highest_) {
            if (id > highest_ + 2) {
                if (skipped_.size() == k_max_skipped) skipped_.pop_front();
                skipped_.emplace_back(highest_ + 2, id - 2);
            }
            highest_ = id;
            return;
        }
        for (const auto& [first, last] : skipped_) {
            if (id >= first && id <= last) {
                fail(error::stream_id_reused);
                return;
            }
        }
    }

    static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* ud) {
        // Odd ids only: an even one is a connection error nghttp2 reports itself.
        if (hd->type == NGHTTP2_HEADERS && hd->stream_id % 2 == 1)
            self(ud).note_stream_id(hd->stream_id);
        return 0;
    }

    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
        auto& s = self(ud);
        if (frame->hd.type == NGHTTP2_RST_STREAM)
            s.count(&frame_counters::rst_sent, frame->rst_stream.error_code);
        if (frame->hd.type == NGHTTP2_GOAWAY)
            s.count(&frame_counters::goaway_sent, frame->goaway.error_code);
        if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            if (stream_state* st = s.find(frame->hd.stream_id)) {
                st->end_sent = true;
                if (st->rst_after_end) s.reset_unfinished_request(st->id);
            }
        }
        if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
            s.err_ == error::none)
            s.err_ = error::protocol;
        return 0;
    }

    static int on_error(nghttp2_session*, int lib_error, const char*, size_t, void* ud) {
        auto& s = self(ud);
        // Called for connection-level errors before nghttp2 terminates the session.
        if (s.err_ == error::none && lib_error != 0 && nghttp2_is_fatal(lib_error) == 0 &&
            lib_error != NGHTTP2_ERR_HTTP_HEADER && lib_error != NGHTTP2_ERR_HTTP_MESSAGING &&
            lib_error != NGHTTP2_ERR_STREAM_CLOSED && lib_error != NGHTTP2_ERR_REFUSED_STREAM)
            s.pending_conn_error_ = true;
        return 0;
    }
    bool pending_conn_error_ = false;

    // RFC 9113 8.1: after a complete response, RST_STREAM(NO_ERROR) tells the client to stop
    // sending a request body nobody will read; not needed once the client ended it.
    void reset_unfinished_request(stream_id id) {
        if (nghttp2_session_get_stream_remote_close(ng_, id) == 0)
            nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
    }

    bool init();
};

bool server_session::impl::init() {
    nghttp2_session_callbacks* cb = nullptr;
    if (nghttp2_session_callbacks_new(&cb) != 0) return false;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback2(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(cb, on_error);

    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, cfg_.max_deflate_dynamic_table_size);
    nghttp2_option_set_max_settings(opt, cfg_.max_settings_entries);
    nghttp2_option_set_max_outbound_ack(opt, cfg_.max_outbound_ack);
    nghttp2_option_set_max_continuations(opt, cfg_.max_continuations);
    // Closed streams are kept (nghttp2 keeps at most SETTINGS_MAX_CONCURRENT_STREAMS of them):
    // without them nghttp2 cannot tell DATA or HEADERS on a closed stream (RFC 9113 5.1:
    // connection error STREAM_CLOSED) from frames to ignore, and silently drops both.
    // Window updates follow consumption (on_data_chunk, consume()): a tunnel stream can hold its
    // window while its reader is busy. nghttp2 still consumes padding and ignored DATA itself.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // nghttp2's own token bucket stays as a backstop, looser than ours so ours (which answers
    // ENHANCE_YOUR_CALM and reports rapid_reset) trips first.
    if (cfg_.rst_limit.count > 0) {
        auto per_sec =
            std::max<uint64_t>(1, uint64_t(cfg_.rst_limit.count) * 1000 /
                                      std::max<int64_t>(1, cfg_.rst_limit.window.count()));
        nghttp2_option_set_stream_reset_rate_limit(opt, uint64_t(cfg_.rst_limit.count) * 2 + 16,
                                                   per_sec * 2);
    }
    int rv = nghttp2_session_server_new2(&ng_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) return false;

    std::vector<nghttp2_settings_entry> iv = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg_.initial_window_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg_.max_header_list_size},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, cfg_.max_frame_size},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, cfg_.header_table_size},
    };
    if (cfg_.enable_connect_protocol) iv.push_back({NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1});
    if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv.data(), iv.size()) != 0) return false;
    if (cfg_.connection_window_size > 65535)
        nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                              static_cast<int32_t>(cfg_.connection_window_size));
    return true;
}

server_session::server_session(server_observer& obs, const server_settings& cfg)
    : impl_(std::make_unique<impl>(obs, cfg)) {
    if (!impl_->init()) impl_->err_ = error::out_of_memory;
}

server_session::~server_session() = default;

feed_result server_session::feed(byte_view in, time_point now) {
    impl& s = *impl_;
    if (s.err_ == error::out_of_memory || !s.ng_) return {feed_outcome::fatal, s.err_};
    if (s.err_ != error::none) return {feed_outcome::goaway_queued, s.err_};
    s.now_ = now;
    s.stats_.bytes_in += in.size();
    auto rv = nghttp2_session_mem_recv(s.ng_, in.data(), in.size());
    if (rv < 0) {
        switch (rv) {
            case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
                // RFC 9113 3.4: an invalid preface is a connection error PROTOCOL_ERROR. nghttp2
                // queues nothing for it; the session itself is sound, so our SETTINGS and a
                // GOAWAY can still go out before the close.
                s.fail(error::bad_preface);
                return {feed_outcome::goaway_queued, s.err_};
            case NGHTTP2_ERR_FLOODED:
                s.err_ = error::ack_flood;
                break;
            case NGHTTP2_ERR_NOMEM:
                s.err_ = error::out_of_memory;
                break;
            default:
                s.err_ = error::internal;
                break;
        }
        return {feed_outcome::fatal, s.err_};
    }
    if (s.err_ == error::none && s.pending_conn_error_) s.err_ = error::protocol;
    if (s.err_ != error::none) return {feed_outcome::goaway_queued, s.err_};
    return {};
}

bool server_session::pull_output(byte_buffer& out) {
    impl& s = *impl_;
    if (!s.ng_) return false;
    s.out_ = &out;
    int rv = nghttp2_session_send(s.ng_);
    s.out_ = nullptr;
    if (rv != 0) {
        if (s.err_ == error::none) s.err_ = error::internal;
        return false;
    }
    return true;
}

bool server_session::wants_write() const {
    return impl_->ng_ && nghttp2_session_want_write(impl_->ng_);
}

bool server_session::should_close() const {
    auto* ng = impl_->ng_;
    return !ng || (!nghttp2_session_want_read(ng) && !nghttp2_session_want_write(ng));
}

sy::result<void, error> server_session::upgrade_h2c(std::string_view http2_settings,
                                                    bool head_request) {
    impl& s = *impl_;
    std::string payload;
    if (!base64url_decode(http2_settings, payload)) return sy::unexpected(error::bad_upgrade);
    auto st = std::make_unique<stream_state>();
    st->id = 1;
    st->announced = true;
    s.streams_[1] = std::move(st);
    int rv = nghttp2_session_upgrade2(s.ng_, reinterpret_cast<const uint8_t*>(payload.data()),
                                      payload.size(), head_request ? 1 : 0, nullptr);
    if (rv != 0) {
        s.streams_.erase(1);
        return sy::unexpected(error::bad_upgrade);
    }
    s.stats_.streams_opened++;
    s.count(&frame_counters::streams_opened);
    s.highest_ = 1;
    return {};
}

sy::result<void, submit_error> server_session::submit_response(stream_id id, int status,
                                                               std::span<const header_field> hdrs,
                                                               bool end_stream) {
    impl& s = *impl_;
    stream_state* st = s.find(id);
    if (!st) return sy::unexpected(submit_error::no_stream);
    if (st->responded) return sy::unexpected(submit_error::bad_state);
    char status_buf[4];
    int sc = std::clamp(status, 100, 999);
    status_buf[0] = char('0' + sc / 100);
    status_buf[1] = char('0' + sc / 10 % 10);
    status_buf[2] = char('0' + sc % 10);
    nv_list nv;
    nv.add(":status", std::string_view(status_buf, 3));
    for (const auto& h : hdrs) nv.add(h.name, h.value);
    nghttp2_data_provider prd{};
    prd.read_callback = impl::on_read_data;
    int rv = nghttp2_submit_response(s.ng_, id, nv.data(), nv.size(), end_stream ? nullptr : &prd);
    if (rv != 0) {
        return sy::unexpected(rv == NGHTTP2_ERR_INVALID_ARGUMENT ? submit_error::invalid_header
                                                                 : submit_error::internal);
    }
    st->responded = true;
    if (end_stream) st->end_submitted = true;
    return {};
}

namespace {
sy::result<void, submit_error> queue_data(nghttp2_session* ng, stream_state* st, shared_bytes bytes,
                                          bool end_stream) {
    if (!st) return sy::unexpected(submit_error::no_stream);
    if (!st->responded || st->end_submitted) return sy::unexpected(submit_error::bad_state);
    if (!bytes.empty()) {
        st->queued += bytes.size();
        st->queue.push_back({std::move(bytes), 0});
    }
    if (end_stream) st->end_submitted = true;
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(ng, st->id);
    }
    return {};
}
}  // namespace

sy::result<void, submit_error> server_session::submit_data(stream_id id, byte_view bytes,
                                                           bool end_stream) {
    shared_bytes b;
    if (!bytes.empty()) b = shared_bytes::copy_of(as_string_view(bytes));
    return queue_data(impl_->ng_, impl_->find(id), std::move(b), end_stream);
}

sy::result<void, submit_error> server_session::submit_data(stream_id id, shared_bytes bytes,
                                                           bool end_stream) {
    return queue_data(impl_->ng_, impl_->find(id), std::move(bytes), end_stream);
}

sy::result<void, submit_error> server_session::submit_trailers(stream_id id,
                                                               std::span<const header_field> hdrs) {
    stream_state* st = impl_->find(id);
    if (!st) return sy::unexpected(submit_error::no_stream);
    if (!st->responded || st->end_submitted) return sy::unexpected(submit_error::bad_state);
    st->trailers.clear();
    for (const auto& h : hdrs) st->trailers.emplace_back(h.name, h.value);
    st->has_trailers = true;
    return queue_data(impl_->ng_, st, {}, true);
}

sy::result<void, submit_error> server_session::submit_rst(stream_id id, error_code code) {
    stream_state* st = impl_->find(id);
    if (!st) return sy::unexpected(submit_error::no_stream);
    if (code == error_code::no_error) {
        // Waits for the response's END_STREAM (a reset would cut the response short).
        if (st->responded && !st->end_sent) {
            st->rst_after_end = true;
        } else {
            impl_->reset_unfinished_request(id);
        }
        return {};
    }
    int rv =
        nghttp2_submit_rst_stream(impl_->ng_, NGHTTP2_FLAG_NONE, id, static_cast<uint32_t>(code));
    if (rv != 0) return sy::unexpected(submit_error::internal);
    return {};
}

std::size_t server_session::queued_bytes(stream_id id) const {
    stream_state* st = impl_->find(id);
    return st ? st->queued : 0;
}

void server_session::set_manual_window(stream_id id) {
    if (stream_state* st = impl_->find(id)) st->manual_window = true;
}

void server_session::consume(stream_id id, std::size_t n) {
    stream_state* st = impl_->find(id);
    if (st && st->manual_window && n > 0) nghttp2_session_consume_stream(impl_->ng_, id, n);
}

std::size_t server_session::total_queued_bytes() const {
    std::size_t n = 0;
    for (const auto& [id, st] : impl_->streams_) n += st->queued;
    return n;
}

void server_session::shutdown_notice() {
    nghttp2_submit_shutdown_notice(impl_->ng_);
}

void server_session::goaway(error_code code) {
    auto* ng = impl_->ng_;
    nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng),
                          static_cast<uint32_t>(code), nullptr, 0);
}

std::size_t server_session::open_streams() const {
    return impl_->streams_.size();
}
const session_stats& server_session::stats() const {
    return impl_->stats_;
}
error server_session::last_error() const {
    return impl_->err_;
}

}  // namespace sy::http2
