// sy-bench h3 (h3.hpp): one h3_client per QUIC connection, driven by its thread's poll loop.
// The ngtcp2/nghttp3 calls follow ngtcp2's examples/client.cc at v0.12.1 (callbacks set by
// member name, not position).
#include "h3.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sy::bench {

namespace {

std::uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

/// What every thread of a run shares.
struct h3_shared {
    const options& o;
    gnutls_certificate_credentials_t cred = nullptr;
    std::atomic<std::uint64_t> budget{0};  // requests started (for --messages)
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> connected{0};
    std::atomic<bool> failed{false};
    std::atomic<std::uint64_t> all_connected_ns{0};  // when the last handshake completed
    std::mutex m;
    std::string error;
    void fail(const std::string& why) {
        std::lock_guard lk(m);
        if (error.empty()) error = why;
        failed.store(true);
    }
    bool take_request() {
        if (stop.load(std::memory_order_relaxed)) return false;
        if (o.messages == 0) return true;
        if (budget.fetch_add(1, std::memory_order_relaxed) < o.messages) return true;
        stop.store(true);
        return false;
    }
};

/// Per-thread counters (merged after join).
struct h3_stats {
    std::uint64_t ok = 0, errors = 0, peak = 0;
    histogram latency;
};

class h3_client {
  public:
    h3_client(h3_shared& sh, h3_stats& st) : sh_(sh), st_(st) {}
    ~h3_client();
    h3_client(const h3_client&) = delete;
    h3_client& operator=(const h3_client&) = delete;

    bool start(std::string& why);
    int fd() const { return fd_; }
    bool closed() const { return closed_; }
    bool idle() const { return streams_.empty(); }
    /// Reads every pending datagram, then timers, new requests and writes.
    void on_readable();
    void on_timer();
    void pump();
    std::uint64_t expiry() const { return conn_ ? ngtcp2_conn_get_expiry(conn_) : UINT64_MAX; }
    void close();

  private:
    struct stream_state {
        std::uint64_t start_ns;
        int status = 0;
    };
    static int on_handshake_completed(ngtcp2_conn*, void* self);
    static int on_recv_stream_data(ngtcp2_conn*, std::uint32_t flags, std::int64_t id,
                                   std::uint64_t, const std::uint8_t* data, std::size_t len,
                                   void* self, void*);
    static int on_acked(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t len, void* self,
                        void*);
    static int on_stream_close(ngtcp2_conn*, std::uint32_t flags, std::int64_t id,
                               std::uint64_t code, void* self, void*);
    static int on_stream_reset(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t,
                               void* self, void*);
    static int on_extend_max_stream_data(ngtcp2_conn*, std::int64_t id, std::uint64_t, void* self,
                                         void*);
    static void on_rand(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*);
    static int on_new_cid(ngtcp2_conn*, ngtcp2_cid* cid, std::uint8_t* token, std::size_t len,
                          void*);
    static int on_h3_consume(nghttp3_conn*, std::int64_t id, std::size_t n, void* self, void*);
    static int on_h3_data(nghttp3_conn*, std::int64_t id, const std::uint8_t*, std::size_t n,
                          void* self, void*);
    static int on_h3_header(nghttp3_conn*, std::int64_t id, std::int32_t token, nghttp3_rcbuf*,
                            nghttp3_rcbuf* value, std::uint8_t, void* self, void*);
    static int on_h3_stream_close(nghttp3_conn*, std::int64_t id, std::uint64_t, void* self, void*);
    static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref);

    bool setup_h3();
    void submit_requests();
    bool write_packets();
    void fatal(const char* what, int rv);

    h3_shared& sh_;
    h3_stats& st_;
    int fd_ = -1;
    sockaddr_storage local_{}, remote_{};
    socklen_t local_len_ = 0, remote_len_ = 0;
    ngtcp2_conn* conn_ = nullptr;
    nghttp3_conn* h3_ = nullptr;
    gnutls_session_t tls_ = nullptr;
    ngtcp2_crypto_conn_ref ref_{};
    ngtcp2_connection_close_error last_error_{};
    std::unordered_map<std::int64_t, stream_state> streams_;
    bool handshake_done_ = false;
    bool closed_ = false;
    std::array<std::uint8_t, 1500> tx_{};
};

// ---------------------------------------------------------------- ngtcp2 callbacks

ngtcp2_conn* h3_client::get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<h3_client*>(ref->user_data)->conn_;
}

void h3_client::on_rand(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*) {
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

int h3_client::on_new_cid(ngtcp2_conn*, ngtcp2_cid* cid, std::uint8_t* token, std::size_t len,
                          void*) {
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = len;
    // The client never receives a stateless reset it could check against this token.
    if (gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int h3_client::on_handshake_completed(ngtcp2_conn*, void* self) {
    auto* c = static_cast<h3_client*>(self);
    c->handshake_done_ = true;
    if (c->sh_.connected.fetch_add(1) + 1 == c->sh_.o.publishers)
        c->sh_.all_connected_ns.store(mono_ns());
    return c->setup_h3() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int h3_client::on_recv_stream_data(ngtcp2_conn*, std::uint32_t flags, std::int64_t id,
                                   std::uint64_t, const std::uint8_t* data, std::size_t len,
                                   void* self, void*) {
    auto* c = static_cast<h3_client*>(self);
    auto n = nghttp3_conn_read_stream(c->h3_, id, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
    if (n < 0) {
        ngtcp2_connection_close_error_set_application_error(
            &c->last_error_, nghttp3_err_infer_quic_app_error_code(static_cast<int>(n)), nullptr,
            0);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    ngtcp2_conn_extend_max_stream_offset(c->conn_, id, static_cast<std::uint64_t>(n));
    ngtcp2_conn_extend_max_offset(c->conn_, static_cast<std::uint64_t>(n));
    return 0;
}

int h3_client::on_acked(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t len, void* self,
                        void*) {
    auto* c = static_cast<h3_client*>(self);
    return nghttp3_conn_add_ack_offset(c->h3_, id, len) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int h3_client::on_stream_close(ngtcp2_conn*, std::uint32_t flags, std::int64_t id,
                               std::uint64_t code, void* self, void*) {
    auto* c = static_cast<h3_client*>(self);
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = NGHTTP3_H3_NO_ERROR;
    if (!c->h3_) return 0;
    int rv = nghttp3_conn_close_stream(c->h3_, id, code);
    if (rv == NGHTTP3_ERR_STREAM_NOT_FOUND) {
        if (!ngtcp2_is_bidi_stream(id)) ngtcp2_conn_extend_max_streams_uni(c->conn_, 1);
        // A request stream nghttp3 never saw (reset before any byte): still ours to account.
        on_h3_stream_close(c->h3_, id, code, self, nullptr);
        return 0;
    }
    return rv == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int h3_client::on_stream_reset(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t,
                               void* self, void*) {
    auto* c = static_cast<h3_client*>(self);
    if (c->h3_ && nghttp3_conn_shutdown_stream_read(c->h3_, id) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int h3_client::on_extend_max_stream_data(ngtcp2_conn*, std::int64_t id, std::uint64_t, void* self,
                                         void*) {
    auto* c = static_cast<h3_client*>(self);
    return nghttp3_conn_unblock_stream(c->h3_, id) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

// ---------------------------------------------------------------- nghttp3 callbacks

int h3_client::on_h3_consume(nghttp3_conn*, std::int64_t id, std::size_t n, void* self, void*) {
    auto* c = static_cast<h3_client*>(self);
    ngtcp2_conn_extend_max_stream_offset(c->conn_, id, n);
    ngtcp2_conn_extend_max_offset(c->conn_, n);
    return 0;
}

int h3_client::on_h3_data(nghttp3_conn* h, std::int64_t id, const std::uint8_t*, std::size_t n,
                          void* self, void* su) {
    return on_h3_consume(h, id, n, self, su);  // the body is counted, not kept
}

int h3_client::on_h3_header(nghttp3_conn*, std::int64_t id, std::int32_t token, nghttp3_rcbuf*,
                            nghttp3_rcbuf* value, std::uint8_t, void* self, void*) {
    auto* c = static_cast<h3_client*>(self);
    if (token != NGHTTP3_QPACK_TOKEN__STATUS) return 0;
    auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    int status = 0;
    for (std::size_t i = 0; i < v.len; ++i) status = status * 10 + (v.base[i] - '0');
    it->second.status = status;
    return 0;
}

int h3_client::on_h3_stream_close(nghttp3_conn*, std::int64_t id, std::uint64_t code, void* self,
                                  void*) {
    auto* c = static_cast<h3_client*>(self);
    auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    const std::uint64_t now = mono_ns();
    if (it->second.status == 200 && code == NGHTTP3_H3_NO_ERROR) {
        ++c->st_.ok;
        c->st_.latency.record(now - it->second.start_ns);
    } else {
        ++c->st_.errors;
    }
    c->streams_.erase(it);
    return 0;
}

// ---------------------------------------------------------------- connection

h3_client::~h3_client() {
    if (h3_) nghttp3_conn_del(h3_);
    if (conn_) ngtcp2_conn_del(conn_);
    if (tls_) gnutls_deinit(tls_);
    if (fd_ >= 0) ::close(fd_);
}

void h3_client::fatal(const char* what, int rv) {
    if (!sh_.stop.load()) sh_.fail(std::string(what) + ": " + ngtcp2_strerror(rv));
    closed_ = true;
}

bool h3_client::start(std::string& why) {
    const options& o = sh_.o;
    remote_len_ = o.server.len();
    std::memcpy(&remote_, o.server.sa(), remote_len_);
    fd_ = ::socket(remote_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&remote_), remote_len_) != 0) {
        why = std::string("udp socket: ") + std::strerror(errno);
        return false;
    }
    local_len_ = sizeof local_;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &local_len_);

    ngtcp2_callbacks cb{};
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.handshake_completed = on_handshake_completed;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.recv_stream_data = on_recv_stream_data;
    cb.acked_stream_data_offset = on_acked;
    cb.stream_close = on_stream_close;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    cb.rand = on_rand;
    cb.get_new_connection_id = on_new_cid;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.stream_reset = on_stream_reset;
    cb.extend_max_stream_data = on_extend_max_stream_data;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;

    ngtcp2_cid scid{}, dcid{};
    scid.datalen = 17;
    dcid.datalen = 18;
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
    gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = mono_ns();
    settings.handshake_timeout = static_cast<std::uint64_t>(o.connect_timeout_s * 1e9);
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 1 << 20;
    params.initial_max_stream_data_uni = 1 << 20;
    params.initial_max_data = 16 << 20;
    params.initial_max_streams_uni = 3;
    params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_), local_len_},
                     {reinterpret_cast<sockaddr*>(&remote_), remote_len_},
                     nullptr};
    int rv = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                    &settings, &params, nullptr, this);
    if (rv != 0) {
        why = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv);
        return false;
    }
    ngtcp2_connection_close_error_default(&last_error_);
    if (gnutls_init(&tls_, GNUTLS_CLIENT) != 0 ||
        gnutls_priority_set_direct(tls_, "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3",
                                   nullptr) != 0 ||
        ngtcp2_crypto_gnutls_configure_client_session(tls_) != 0 ||
        gnutls_credentials_set(tls_, GNUTLS_CRD_CERTIFICATE, sh_.cred) != 0) {
        why = "gnutls client session setup failed";
        return false;
    }
    ref_.get_conn = get_conn;
    ref_.user_data = this;
    gnutls_session_set_ptr(tls_, &ref_);
    static const unsigned char k_h3[] = "h3";
    gnutls_datum_t alpn{const_cast<unsigned char*>(k_h3), 2};
    gnutls_alpn_set_protocols(tls_, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    gnutls_server_name_set(tls_, GNUTLS_NAME_DNS, "localhost", 9);
    ngtcp2_conn_set_tls_native_handle(conn_, tls_);
    return true;
}

bool h3_client::setup_h3() {
    nghttp3_callbacks cb{};
    cb.stream_close = on_h3_stream_close;
    cb.recv_data = on_h3_data;
    cb.deferred_consume = on_h3_consume;
    cb.recv_header = on_h3_header;
    nghttp3_settings settings;
    nghttp3_settings_default(&settings);
    if (nghttp3_conn_client_new(&h3_, &cb, &settings, nghttp3_mem_default(), this) != 0)
        return false;
    std::int64_t ctrl = 0, enc = 0, dec = 0;
    if (ngtcp2_conn_open_uni_stream(conn_, &ctrl, nullptr) != 0 ||
        nghttp3_conn_bind_control_stream(h3_, ctrl) != 0 ||
        ngtcp2_conn_open_uni_stream(conn_, &enc, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(conn_, &dec, nullptr) != 0 ||
        nghttp3_conn_bind_qpack_streams(h3_, enc, dec) != 0)
        return false;
    return true;
}

void h3_client::submit_requests() {
    if (!h3_ || closed_) return;
    const options& o = sh_.o;
    auto nv = [](const char* n, const std::string& v) {
        return nghttp3_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n)),
                          reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())),
                          std::strlen(n), v.size(), NGHTTP3_NV_FLAG_NONE};
    };
    static const std::string k_https = "https";
    while (streams_.size() < o.window && ngtcp2_conn_get_streams_bidi_left(conn_) > 0 &&
           sh_.take_request()) {
        std::int64_t id = 0;
        if (ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) break;
        std::array<nghttp3_nv, 4> hdr{nv(":method", o.method), nv(":scheme", k_https),
                                      nv(":authority", o.host_header), nv(":path", o.url)};
        streams_.emplace(id, stream_state{mono_ns()});
        if (nghttp3_conn_submit_request(h3_, id, hdr.data(), hdr.size(), nullptr, nullptr) != 0) {
            streams_.erase(id);
            ++st_.errors;
            break;
        }
        st_.peak = std::max<std::uint64_t>(st_.peak, streams_.size());
    }
}

bool h3_client::write_packets() {
    const std::uint64_t ts = mono_ns();
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    // Until ngtcp2 has nothing more to send (or congestion control / pacing says wait: it then
    // returns 0 and the expiry names the time). Never stop after NGTCP2_ERR_WRITE_MORE: the
    // packet being coalesced must be finished before any other call on the connection.
    for (;;) {
        std::int64_t sid = -1;
        int fin = 0;
        std::array<nghttp3_vec, 16> vec{};
        nghttp3_ssize n = 0;
        if (h3_ && ngtcp2_conn_get_max_data_left(conn_)) {
            n = nghttp3_conn_writev_stream(h3_, &sid, &fin, vec.data(), vec.size());
            if (n < 0) return fatal("nghttp3_conn_writev_stream", static_cast<int>(n)), false;
        }
        std::uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        if (fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        ngtcp2_ssize ndata = -1;
        ngtcp2_pkt_info pi{};
        auto nw = ngtcp2_conn_writev_stream(
            conn_, &ps.path, &pi, tx_.data(), tx_.size(), &ndata, flags, sid,
            reinterpret_cast<const ngtcp2_vec*>(vec.data()), static_cast<std::size_t>(n), ts);
        if (nw < 0) {
            if (nw == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                nghttp3_conn_block_stream(h3_, sid);
                continue;
            }
            if (nw == NGTCP2_ERR_STREAM_SHUT_WR) {
                nghttp3_conn_shutdown_stream_write(h3_, sid);
                continue;
            }
            if (nw == NGTCP2_ERR_WRITE_MORE) {
                nghttp3_conn_add_write_offset(h3_, sid, static_cast<std::size_t>(ndata));
                continue;
            }
            return fatal("ngtcp2_conn_writev_stream", static_cast<int>(nw)), false;
        }
        if (ndata >= 0) nghttp3_conn_add_write_offset(h3_, sid, static_cast<std::size_t>(ndata));
        if (nw == 0) break;  // nothing more (or congestion limited)
        if (::send(fd_, tx_.data(), static_cast<std::size_t>(nw), 0) < 0 && errno != EAGAIN &&
            errno != EWOULDBLOCK && errno != ECONNREFUSED)
            return fatal("send", NGTCP2_ERR_INTERNAL), false;
    }
    ngtcp2_conn_update_pkt_tx_time(conn_, ts);
    return true;
}

void h3_client::pump() {
    if (closed_) return;
    submit_requests();
    write_packets();
}

void h3_client::on_readable() {
    std::array<std::uint8_t, 65536> buf;
    ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_), local_len_},
                     {reinterpret_cast<sockaddr*>(&remote_), remote_len_},
                     nullptr};
    for (int i = 0; i < 64 && !closed_; ++i) {
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n < 0) break;
        ngtcp2_pkt_info pi{};
        int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, buf.data(), static_cast<std::size_t>(n),
                                      mono_ns());
        if (rv != 0) return fatal("ngtcp2_conn_read_pkt", rv);
    }
    pump();
}

void h3_client::on_timer() {
    if (closed_) return;
    int rv = ngtcp2_conn_handle_expiry(conn_, mono_ns());
    if (rv != 0) return fatal("ngtcp2_conn_handle_expiry", rv);
    pump();
}

void h3_client::close() {
    if (closed_ || !conn_) return;
    closed_ = true;
    ngtcp2_connection_close_error_set_application_error(&last_error_, NGHTTP3_H3_NO_ERROR, nullptr,
                                                        0);
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    auto n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, tx_.data(), tx_.size(),
                                                &last_error_, mono_ns());
    if (n > 0) ::send(fd_, tx_.data(), static_cast<std::size_t>(n), 0);
}

// ---------------------------------------------------------------- per-thread loop

void run_thread(h3_shared& sh, h3_stats& st, std::size_t first, std::size_t step,
                std::uint64_t deadline_ns) {
    const options& o = sh.o;
    std::vector<std::unique_ptr<h3_client>> cs;
    for (std::size_t i = first; i < o.publishers; i += step) {
        auto c = std::make_unique<h3_client>(sh, st);
        std::string why;
        if (!c->start(why)) {
            sh.fail(why);
            return;
        }
        c->pump();
        cs.push_back(std::move(c));
    }
    std::vector<pollfd> pfds(cs.size());
    for (;;) {
        const std::uint64_t now = mono_ns();
        bool busy = false;
        for (auto& c : cs) busy = busy || (!c->closed() && (!sh.stop.load() || !c->idle()));
        if (!busy || now >= deadline_ns || sh.failed.load()) break;
        std::uint64_t next = deadline_ns;
        for (std::size_t i = 0; i < cs.size(); ++i) {
            pfds[i] = {cs[i]->fd(), static_cast<short>(cs[i]->closed() ? 0 : POLLIN), 0};
            if (!cs[i]->closed()) next = std::min(next, cs[i]->expiry());
        }
        const int wait_ms =
            next <= now ? 0 : static_cast<int>(std::min<std::uint64_t>((next - now) / 1000000, 10));
        ::poll(pfds.data(), pfds.size(), wait_ms);
        const std::uint64_t t = mono_ns();
        for (std::size_t i = 0; i < cs.size(); ++i) {
            if (pfds[i].revents & POLLIN) cs[i]->on_readable();
            if (!cs[i]->closed() && cs[i]->expiry() <= t) cs[i]->on_timer();
        }
    }
    for (auto& c : cs) c->close();
}

}  // namespace

h3_result run_h3(const options& o) {
    h3_result r;
    h3_shared sh{o};
    if (gnutls_certificate_allocate_credentials(&sh.cred) != 0) {
        r.error = "gnutls: cannot allocate credentials";
        return r;
    }
    const std::size_t threads = std::max<std::size_t>(1, std::min(o.threads, o.publishers));
    std::vector<h3_stats> stats(threads);
    const std::uint64_t t0 = mono_ns();
    const auto run_ns = static_cast<std::uint64_t>((o.duration_s + o.connect_timeout_s) * 1e9);
    std::thread timer([&] {
        // --duration counts from the start; the loops drain open streams for up to 5 s after.
        while (!sh.stop.load() && mono_ns() - t0 < static_cast<std::uint64_t>(o.duration_s * 1e9))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        sh.stop.store(true);
    });
    std::vector<std::thread> ts;
    for (std::size_t i = 0; i < threads; ++i)
        ts.emplace_back(run_thread, std::ref(sh), std::ref(stats[i]), i, threads,
                        t0 + run_ns + 5000000000ull);
    for (auto& t : ts) t.join();
    sh.stop.store(true);
    timer.join();
    r.run_s = static_cast<double>(mono_ns() - t0) / 1e9;
    for (auto& s : stats) {
        r.ok += s.ok;
        r.errors += s.errors;
        r.peak_streams = std::max(r.peak_streams, s.peak);
        r.latency.merge(s.latency);
    }
    r.connected = sh.connected.load();
    if (const std::uint64_t t = sh.all_connected_ns.load(); t > t0)
        r.connect_s = static_cast<double>(t - t0) / 1e9;
    r.error = sh.error;
    if (r.error.empty() && r.connected < o.publishers)
        r.error = "only " + std::to_string(r.connected) + " of " + std::to_string(o.publishers) +
                  " QUIC handshakes completed";
    gnutls_certificate_free_credentials(sh.cred);
    return r;
}

}  // namespace sy::bench
