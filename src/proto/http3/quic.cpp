// One QUIC connection with its HTTP/3 layer: ngtcp2_conn + GnuTLS session + nghttp3_conn.
// Callbacks of the C libraries are static functions (no lambdas in C slots) that forward to
// conn::impl members; impl is the user_data of all three.
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>

#include "tls_internal.hpp"

namespace sy::http3 {

namespace {
constexpr std::size_t k_max_packets_per_train = 64;  // Linux UDP_MAX_SEGMENTS
constexpr char k_alpn[] = "h3";

void copy_cid(cid& out, const ngtcp2_cid& c) {
    out.len = c.datalen;
    std::memcpy(out.data.data(), c.data, c.datalen);
}
}  // namespace

struct conn::impl {
    // ---- per stream: the request head as received, the response body until acknowledged ----
    struct stream {
        std::int64_t id = 0;
        std::vector<std::pair<std::string, std::string>> head;  // as received (copied: rcbufs die)
        std::size_t head_bytes = 0;
        std::deque<shared_bytes> chunks;  // submitted, not yet fully acknowledged
        std::size_t handed = 0;           // chunks given to nghttp3 (a prefix of `chunks`)
        std::size_t front_acked = 0;      // bytes of chunks.front() acknowledged
        std::size_t unacked = 0;
        bool end = false;
        std::vector<std::pair<std::string, std::string>> trailers;
    };

    conn* self = nullptr;
    events* ev = nullptr;
    const server_tls::impl* tls = nullptr;
    settings opts;
    std::uint8_t loop = 0;
    ngtcp2_conn* q = nullptr;
    nghttp3_conn* h = nullptr;
    gnutls_session_t session = nullptr;
    ngtcp2_crypto_conn_ref ref{};
    ngtcp2_connection_close_error last_error{};
    std::vector<std::uint8_t> close_packet;
    sockaddr_storage close_remote{};
    socklen_t close_remote_len = 0;
    std::unordered_map<std::int64_t, stream> streams;
    std::uint64_t lost = 0;
    std::uint64_t path_changes = 0;
    std::uint64_t now = 0;  // the timestamp of the call in progress (callbacks read it)
    // A packet write() made that did not fit the train it was writing (other path or ECN, or
    // larger than the train's segment): it starts the next train.
    std::vector<std::uint8_t> held;
    train held_train;

    ~impl() {
        if (h) nghttp3_conn_del(h);
        if (q) ngtcp2_conn_del(q);
        if (session) gnutls_deinit(session);
    }

    int setup_http();
    void handshake_completed() {
        self->handshake_done_ = true;
        ev->on_handshake_done();
    }
    int init_tls();
    stream* find(std::int64_t id) {
        auto it = streams.find(id);
        return it == streams.end() ? nullptr : &it->second;
    }
    void extend(std::int64_t id, std::size_t n) {
        ngtcp2_conn_extend_max_stream_offset(q, id, n);
        ngtcp2_conn_extend_max_offset(q, n);
    }
    void end_headers(stream& s, bool fin);
    void acked(stream& s, std::uint64_t n);
    ngtcp2_ssize write_one(std::uint8_t* buf, std::size_t len, ngtcp2_path_storage& ps,
                           ngtcp2_pkt_info& pi, std::uint64_t ts, int& err);
};

// ---- ngtcp2 callbacks ----------------------------------------------------------------------

namespace {

using impl_t = conn::impl;
impl_t* of(void* user_data) {
    return static_cast<impl_t*>(user_data);
}

void cb_rand(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*) {
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

int cb_get_new_cid(ngtcp2_conn*, ngtcp2_cid* c, std::uint8_t* token, std::size_t cidlen, void* ud) {
    auto* m = of(ud);
    cid n;
    make_cid(n, m->loop);
    n.len = std::min(cidlen, k_max_cid_len);
    ngtcp2_cid_init(c, n.data.data(), n.len);
    if (ngtcp2_crypto_generate_stateless_reset_token(token, m->tls->secret.data(),
                                                     m->tls->secret.size(), c) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    m->ev->on_cid_added(n);
    return 0;
}

int cb_remove_cid(ngtcp2_conn*, const ngtcp2_cid* c, void* ud) {
    cid n;
    copy_cid(n, *c);
    of(ud)->ev->on_cid_retired(n);
    return 0;
}

int cb_recv_stream_data(ngtcp2_conn*, std::uint32_t flags, std::int64_t id, std::uint64_t,
                        const std::uint8_t* data, std::size_t len, void* ud, void*) {
    auto* m = of(ud);
    if (!m->h) return NGTCP2_ERR_CALLBACK_FAILURE;
    const nghttp3_ssize n =
        nghttp3_conn_read_stream(m->h, id, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    if (n < 0) {
        ngtcp2_connection_close_error_set_application_error(
            &m->last_error, nghttp3_err_infer_quic_app_error_code(static_cast<int>(n)), nullptr, 0);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    m->extend(id, static_cast<std::size_t>(n));
    return 0;
}

int cb_acked_stream_data(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t len, void* ud,
                         void*) {
    auto* m = of(ud);
    if (m->h && nghttp3_conn_add_ack_offset(m->h, id, len) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int cb_stream_close(ngtcp2_conn*, std::uint32_t flags, std::int64_t id, std::uint64_t code,
                    void* ud, void*) {
    auto* m = of(ud);
    if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) code = NGHTTP3_H3_NO_ERROR;
    m->lost += ngtcp2_conn_get_stream_loss_count(m->q, id);
    if (!m->h) return 0;
    const int rv = nghttp3_conn_close_stream(m->h, id, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) return NGTCP2_ERR_CALLBACK_FAILURE;
    if (ngtcp2_is_bidi_stream(id)) ngtcp2_conn_extend_max_streams_bidi(m->q, 1);
    return 0;
}

int cb_stream_reset(ngtcp2_conn*, std::int64_t id, std::uint64_t, std::uint64_t, void* ud, void*) {
    auto* m = of(ud);
    if (m->h) (void)nghttp3_conn_shutdown_stream_read(m->h, id);
    return 0;
}

int cb_extend_max_remote_streams_bidi(ngtcp2_conn*, std::uint64_t max, void* ud) {
    auto* m = of(ud);
    if (m->h) nghttp3_conn_set_max_client_streams_bidi(m->h, max);
    return 0;
}

int cb_extend_max_stream_data(ngtcp2_conn*, std::int64_t id, std::uint64_t, void* ud, void*) {
    auto* m = of(ud);
    if (m->h && nghttp3_conn_unblock_stream(m->h, id) != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int cb_handshake_completed(ngtcp2_conn*, void* ud) {
    of(ud)->handshake_completed();
    return 0;
}

int cb_path_validation(ngtcp2_conn*, std::uint32_t, const ngtcp2_path*,
                       ngtcp2_path_validation_result res, void* ud) {
    if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS) ++of(ud)->path_changes;
    return 0;
}

int cb_recv_tx_key(ngtcp2_conn*, ngtcp2_crypto_level level, void* ud) {
    if (level != NGTCP2_CRYPTO_LEVEL_APPLICATION) return 0;
    return of(ud)->setup_http() == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int cb_stream_stop_sending(ngtcp2_conn*, std::int64_t id, std::uint64_t, void* ud, void*) {
    auto* m = of(ud);
    if (m->h) (void)nghttp3_conn_shutdown_stream_read(m->h, id);
    return 0;
}

// ---- nghttp3 callbacks ---------------------------------------------------------------------

int h3_acked(nghttp3_conn*, std::int64_t id, std::uint64_t len, void* ud, void*) {
    auto* m = of(ud);
    if (auto* s = m->find(id)) {
        m->acked(*s, len);
        m->ev->on_acked(id);
    }
    return 0;
}

int h3_stream_close(nghttp3_conn*, std::int64_t id, std::uint64_t, void* ud, void*) {
    auto* m = of(ud);
    if (m->streams.erase(id) > 0) m->ev->on_stream_closed(id);
    return 0;
}

int h3_recv_data(nghttp3_conn*, std::int64_t id, const std::uint8_t* data, std::size_t len,
                 void* ud, void*) {
    auto* m = of(ud);
    m->ev->on_body(id, byte_view(data, len));
    m->extend(id, len);  // the window is given back once the glue took the bytes
    return 0;
}

int h3_deferred_consume(nghttp3_conn*, std::int64_t id, std::size_t n, void* ud, void*) {
    of(ud)->extend(id, n);
    return 0;
}

int h3_begin_headers(nghttp3_conn*, std::int64_t id, void* ud, void*) {
    auto* m = of(ud);
    auto& s = m->streams[id];
    s.id = id;
    nghttp3_conn_set_stream_user_data(m->h, id, &s);
    return 0;
}

int h3_recv_header(nghttp3_conn*, std::int64_t id, std::int32_t, nghttp3_rcbuf* name,
                   nghttp3_rcbuf* value, std::uint8_t, void* ud, void*) {
    auto* m = of(ud);
    auto* s = m->find(id);
    if (!s) return 0;
    const nghttp3_vec n = nghttp3_rcbuf_get_buf(name);
    const nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
    s->head_bytes += n.len + v.len + 32;  // RFC 9114 4.2.2's per-field overhead
    if (s->head_bytes > m->opts.max_header_bytes) return NGHTTP3_ERR_CALLBACK_FAILURE;
    s->head.emplace_back(std::string(reinterpret_cast<const char*>(n.base), n.len),
                         std::string(reinterpret_cast<const char*>(v.base), v.len));
    return 0;
}

int h3_end_headers(nghttp3_conn*, std::int64_t id, int fin, void* ud, void*) {
    auto* m = of(ud);
    if (auto* s = m->find(id)) m->end_headers(*s, fin != 0);
    return 0;
}

int h3_stop_sending(nghttp3_conn*, std::int64_t id, std::uint64_t code, void* ud, void*) {
    (void)ngtcp2_conn_shutdown_stream_read(of(ud)->q, id, code);
    return 0;
}

int h3_end_stream(nghttp3_conn*, std::int64_t id, void* ud, void*) {
    of(ud)->ev->on_body_end(id);
    return 0;
}

int h3_reset_stream(nghttp3_conn*, std::int64_t id, std::uint64_t code, void* ud, void*) {
    (void)ngtcp2_conn_shutdown_stream_write(of(ud)->q, id, code);
    return 0;
}

nghttp3_ssize h3_read_data(nghttp3_conn* hc, std::int64_t id, nghttp3_vec* vec, std::size_t veccnt,
                           std::uint32_t* pflags, void* ud, void* sud) {
    auto* m = of(ud);
    auto* s = static_cast<impl_t::stream*>(sud);
    if (!s) return NGHTTP3_ERR_CALLBACK_FAILURE;
    std::size_t n = 0;
    while (s->handed < s->chunks.size() && n < veccnt) {
        const shared_bytes& c = s->chunks[s->handed];
        vec[n].base = const_cast<std::uint8_t*>(c.data());
        vec[n].len = c.size();
        ++n;
        ++s->handed;
    }
    if (s->handed == s->chunks.size() && s->end) {
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
        if (!s->trailers.empty()) {
            *pflags |= NGHTTP3_DATA_FLAG_NO_END_STREAM;
            std::vector<nghttp3_nv> nv;
            for (auto& [k, v] : s->trailers) {
                nv.push_back({reinterpret_cast<std::uint8_t*>(k.data()),
                              reinterpret_cast<std::uint8_t*>(v.data()), k.size(), v.size(),
                              NGHTTP3_NV_FLAG_NONE});
            }
            if (nghttp3_conn_submit_trailers(hc, id, nv.data(), nv.size()) != 0)
                return NGHTTP3_ERR_CALLBACK_FAILURE;
        }
        return static_cast<nghttp3_ssize>(n);
    }
    (void)m;
    if (n == 0) return NGHTTP3_ERR_WOULDBLOCK;
    return static_cast<nghttp3_ssize>(n);
}

ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* r) {
    return static_cast<impl_t*>(r->user_data)->q;
}

}  // namespace

// ---- impl ----------------------------------------------------------------------------------

void conn::impl::end_headers(stream& s, bool fin) {
    request_head rh;
    rh.stream = s.id;
    std::vector<field> regular;
    regular.reserve(s.head.size());
    for (const auto& [k, v] : s.head) {
        if (k == ":method") {
            rh.method = v;
        } else if (k == ":scheme") {
            rh.scheme = v;
        } else if (k == ":authority") {
            rh.authority = v;
        } else if (k == ":path") {
            rh.path = v;
        } else if (k == ":protocol") {
            rh.protocol = v;
        } else {
            regular.push_back({k, v});
        }
    }
    rh.headers = regular;
    ev->on_request(rh, fin);
    if (auto* still = find(rh.stream)) {
        still->head.clear();  // the glue copied what it keeps
        still->head.shrink_to_fit();
    }
}

void conn::impl::acked(stream& s, std::uint64_t n) {
    s.unacked -= std::min<std::uint64_t>(n, s.unacked);
    while (n > 0 && !s.chunks.empty()) {
        const std::size_t left = s.chunks.front().size() - s.front_acked;
        if (n < left) {
            s.front_acked += n;
            return;
        }
        n -= left;
        s.chunks.pop_front();
        s.front_acked = 0;
        if (s.handed > 0) --s.handed;
    }
}

int conn::impl::setup_http() {
    if (h) return 0;
    if (ngtcp2_conn_get_max_local_streams_uni(q) < 3) return -1;
    nghttp3_callbacks cb{
        .acked_stream_data = h3_acked,
        .stream_close = h3_stream_close,
        .recv_data = h3_recv_data,
        .deferred_consume = h3_deferred_consume,
        .begin_headers = h3_begin_headers,
        .recv_header = h3_recv_header,
        .end_headers = h3_end_headers,
        .begin_trailers = nullptr,
        .recv_trailer = nullptr,
        .end_trailers = nullptr,
        .stop_sending = h3_stop_sending,
        .end_stream = h3_end_stream,
        .reset_stream = h3_reset_stream,
        .shutdown = nullptr,
    };
    nghttp3_settings st;
    nghttp3_settings_default(&st);
    st.qpack_max_dtable_capacity = 4096;
    st.qpack_blocked_streams = 100;
    st.max_field_section_size = opts.max_header_bytes;
    if (nghttp3_conn_server_new(&h, &cb, &st, nghttp3_mem_default(), this) != 0) return -1;
    const ngtcp2_transport_params* p = ngtcp2_conn_get_local_transport_params(q);
    nghttp3_conn_set_max_client_streams_bidi(h, p->initial_max_streams_bidi);
    std::int64_t ctrl = 0, enc = 0, dec = 0;
    if (ngtcp2_conn_open_uni_stream(q, &ctrl, nullptr) != 0 ||
        nghttp3_conn_bind_control_stream(h, ctrl) != 0 ||
        ngtcp2_conn_open_uni_stream(q, &enc, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(q, &dec, nullptr) != 0 ||
        nghttp3_conn_bind_qpack_streams(h, enc, dec) != 0)
        return -1;
    return 0;
}

int conn::impl::init_tls() {
    // No GNUTLS_ENABLE_EARLY_DATA: 0-RTT stays off (GnuTLS' anti-replay has known issues).
    if (gnutls_init(&session,
                    GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET | GNUTLS_NO_END_OF_EARLY_DATA) != 0)
        return -1;
    // QUIC forbids the TLS 1.3 middlebox-compatibility mode (RFC 9001 8.4).
    if (gnutls_priority_set_direct(
            session, "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE", nullptr) != 0)
        return -1;
    if (ngtcp2_crypto_gnutls_configure_server_session(session) != 0) return -1;
    ref.get_conn = get_conn;
    ref.user_data = this;
    gnutls_session_set_ptr(session, &ref);
    if (gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, tls->cred) != 0) return -1;
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(k_alpn)), 2};
    gnutls_alpn_set_protocols(session, &alpn, 1,
                              GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE);
    ngtcp2_conn_set_tls_native_handle(q, session);
    return 0;
}

// ---- conn ----------------------------------------------------------------------------------

namespace {

ngtcp2_path make_path(const sock_path& p) {
    ngtcp2_path np{};
    np.local.addr = const_cast<sockaddr*>(p.local);
    np.local.addrlen = p.local_len;
    np.remote.addr = const_cast<sockaddr*>(p.remote);
    np.remote.addrlen = p.remote_len;
    return np;
}

ngtcp2_callbacks server_callbacks() {
    return ngtcp2_callbacks{
        .client_initial = nullptr,
        .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .handshake_completed = cb_handshake_completed,
        .recv_version_negotiation = nullptr,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .recv_stream_data = cb_recv_stream_data,
        .acked_stream_data_offset = cb_acked_stream_data,
        .stream_open = nullptr,
        .stream_close = cb_stream_close,
        .recv_stateless_reset = nullptr,
        .recv_retry = nullptr,
        .extend_max_local_streams_bidi = nullptr,
        .extend_max_local_streams_uni = nullptr,
        .rand = cb_rand,
        .get_new_connection_id = cb_get_new_cid,
        .remove_connection_id = cb_remove_cid,
        .update_key = ngtcp2_crypto_update_key_cb,
        .path_validation = cb_path_validation,
        .select_preferred_addr = nullptr,
        .stream_reset = cb_stream_reset,
        .extend_max_remote_streams_bidi = cb_extend_max_remote_streams_bidi,
        .extend_max_remote_streams_uni = nullptr,
        .extend_max_stream_data = cb_extend_max_stream_data,
        .dcid_status = nullptr,
        .handshake_confirmed = nullptr,
        .recv_new_token = nullptr,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .recv_datagram = nullptr,
        .ack_datagram = nullptr,
        .lost_datagram = nullptr,
        .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
        .stream_stop_sending = cb_stream_stop_sending,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
        .recv_rx_key = nullptr,
        .recv_tx_key = cb_recv_tx_key,
        .early_data_rejected = nullptr,
    };
}

}  // namespace

std::unique_ptr<conn> conn::accept(const settings& s, const server_tls& tls, byte_view pkt,
                                   const sock_path& path, const accept_params& a, events& ev,
                                   std::uint64_t now_ns, std::string& err) {
    ngtcp2_pkt_hd hd{};
    if (ngtcp2_accept(&hd, pkt.data(), pkt.size()) != 0) {
        err = "not a client Initial";
        return nullptr;
    }
    std::unique_ptr<conn> c(new conn());
    c->impl_ = std::make_unique<impl>();
    impl& m = *c->impl_;
    m.self = c.get();
    m.ev = &ev;
    m.tls = &tls.get();
    m.opts = s;
    m.loop = a.scid.data[0];
    m.now = now_ns;
    ngtcp2_connection_close_error_default(&m.last_error);

    ngtcp2_settings st;
    ngtcp2_settings_default(&st);
    st.initial_ts = now_ns;
    st.handshake_timeout = s.handshake_timeout_ms * NGTCP2_MILLISECONDS;
    st.token = hd.token;
    ngtcp2_transport_params p;
    ngtcp2_transport_params_default(&p);
    p.initial_max_stream_data_bidi_local = s.max_stream_window;
    p.initial_max_stream_data_bidi_remote = s.max_stream_window;
    p.initial_max_stream_data_uni = s.max_stream_window;
    p.initial_max_data = s.max_data;
    p.initial_max_streams_bidi = s.max_streams_bidi;
    p.initial_max_streams_uni = 3;  // the peer's control and QPACK streams
    p.max_idle_timeout = s.idle_timeout_ms * NGTCP2_MILLISECONDS;
    p.active_connection_id_limit = s.active_cid_limit;
    p.stateless_reset_token_present = 1;
    // The port is shared by first byte (RFC 9443: STUN 0..3, QUIC 64..127 / 192..255): a peer
    // allowed to grease the fixed bit (RFC 9287) would send packets outside QUIC's ranges.
    p.grease_quic_bit = 0;
    ngtcp2_cid scid{};
    ngtcp2_cid_init(&scid, a.scid.data.data(), a.scid.len);
    if (a.odcid) {  // after a Retry (RFC 9000 7.3): the first Initial's DCID, the Retry's SCID
        ngtcp2_cid_init(&p.original_dcid, a.odcid->data.data(), a.odcid->len);
        p.retry_scid = hd.dcid;
        p.retry_scid_present = 1;
    } else {
        p.original_dcid = hd.dcid;
    }
    if (ngtcp2_crypto_generate_stateless_reset_token(p.stateless_reset_token, m.tls->secret.data(),
                                                     m.tls->secret.size(), &scid) != 0) {
        err = "stateless reset token";
        return nullptr;
    }
    const ngtcp2_callbacks cb = server_callbacks();
    ngtcp2_path np = make_path(path);
    if (int rv = ngtcp2_conn_server_new(&m.q, &hd.scid, &scid, &np, hd.version, &cb, &st, &p,
                                        nullptr, &m);
        rv != 0) {
        err = ngtcp2_strerror(rv);
        return nullptr;
    }
    if (m.init_tls() != 0) {
        err = "TLS session set-up failed";
        return nullptr;
    }
    return c;
}

conn::~conn() = default;

conn_state conn::read(const sock_path& path, byte_view pkt, std::uint8_t ecn,
                      std::uint64_t now_ns) {
    if (state_ != conn_state::open) return state_;
    impl& m = *impl_;
    m.now = now_ns;
    ngtcp2_path np = make_path(path);
    ngtcp2_pkt_info pi{};
    pi.ecn = ecn;
    const int rv = ngtcp2_conn_read_pkt(m.q, &np, &pi, pkt.data(), pkt.size(), now_ns);
    if (rv == 0) return state_;
    switch (rv) {
        case NGTCP2_ERR_DRAINING:
            return state_ = conn_state::draining;
        case NGTCP2_ERR_DROP_CONN:
            return state_ = conn_state::dead;
        case NGTCP2_ERR_CRYPTO:
            if (!m.last_error.error_code)
                ngtcp2_connection_close_error_set_transport_error_tls_alert(
                    &m.last_error, ngtcp2_conn_get_tls_alert(m.q), nullptr, 0);
            break;
        default:
            if (!m.last_error.error_code)
                ngtcp2_connection_close_error_set_transport_error_liberr(&m.last_error, rv, nullptr,
                                                                         0);
    }
    return state_ = conn_state::failed;
}

ngtcp2_ssize conn::impl::write_one(std::uint8_t* buf, std::size_t len, ngtcp2_path_storage& ps,
                                   ngtcp2_pkt_info& pi, std::uint64_t ts, int& err) {
    err = 0;
    for (;;) {
        std::int64_t sid = -1;
        int fin = 0;
        nghttp3_vec vec[16];
        nghttp3_ssize cnt = 0;
        if (h && ngtcp2_conn_get_max_data_left(q)) {
            cnt = nghttp3_conn_writev_stream(h, &sid, &fin, vec, 16);
            if (cnt < 0) {
                ngtcp2_connection_close_error_set_application_error(
                    &last_error, nghttp3_err_infer_quic_app_error_code(static_cast<int>(cnt)),
                    nullptr, 0);
                err = -1;
                return -1;
            }
        }
        std::uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        if (fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        ngtcp2_ssize ndatalen = -1;
        const ngtcp2_ssize n = ngtcp2_conn_writev_stream(
            q, &ps.path, &pi, buf, len, &ndatalen, flags, sid,
            reinterpret_cast<const ngtcp2_vec*>(vec), static_cast<std::size_t>(cnt), ts);
        if (n < 0) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                nghttp3_conn_block_stream(h, sid);
                continue;
            }
            if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
                nghttp3_conn_shutdown_stream_write(h, sid);
                continue;
            }
            if (n == NGTCP2_ERR_WRITE_MORE) {
                if (nghttp3_conn_add_write_offset(h, sid, static_cast<std::size_t>(ndatalen)) != 0)
                    err = -1;
                if (err) return -1;
                continue;
            }
            ngtcp2_connection_close_error_set_transport_error_liberr(
                &last_error, static_cast<int>(n), nullptr, 0);
            err = -1;
            return -1;
        }
        if (ndatalen >= 0 && sid >= 0 &&
            nghttp3_conn_add_write_offset(h, sid, static_cast<std::size_t>(ndatalen)) != 0) {
            err = -1;
            return -1;
        }
        return n;
    }
}

namespace {
void set_remote(train& t, const ngtcp2_path& p) {
    t.remote_len = static_cast<socklen_t>(p.remote.addrlen);
    std::memcpy(&t.remote, p.remote.addr, p.remote.addrlen);
}
}  // namespace

conn_state conn::write(std::uint8_t* buf, std::size_t cap, train& t, std::uint64_t now_ns) {
    t = train{};
    if (state_ != conn_state::open) return state_;
    impl& m = *impl_;
    m.now = now_ns;
    if (!m.held.empty()) {  // the packet that ended the last train starts this one
        t = m.held_train;
        std::memcpy(buf, m.held.data(), m.held.size());
        t.len = m.held.size();
        m.held.clear();
        if (t.len < t.segment) return state_;
    }
    const std::size_t max_udp = ngtcp2_conn_get_max_tx_udp_payload_size(m.q);
    std::size_t max_pkts = std::max<std::size_t>(1, ngtcp2_conn_get_send_quantum(m.q) / max_udp);
    max_pkts = std::min({max_pkts, k_max_packets_per_train, cap / max_udp});
    std::size_t pkts = t.len ? 1 : 0;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    while (pkts < max_pkts) {
        ngtcp2_pkt_info pi{};
        int err = 0;
        const ngtcp2_ssize n = m.write_one(buf + t.len, max_udp, ps, pi, now_ns, err);
        if (err) return state_ = conn_state::failed;
        if (n == 0) break;
        const auto len = static_cast<std::size_t>(n);
        if (t.len == 0) {
            t.segment = len;
            t.ecn = static_cast<std::uint8_t>(pi.ecn);
            set_remote(t, ps.path);
        } else if (pi.ecn != t.ecn || len > t.segment ||
                   std::memcmp(&t.remote, ps.path.remote.addr, ps.path.remote.addrlen) != 0) {
            m.held.assign(buf + t.len, buf + t.len + len);
            m.held_train = train{};
            m.held_train.segment = len;
            m.held_train.ecn = static_cast<std::uint8_t>(pi.ecn);
            set_remote(m.held_train, ps.path);
            break;
        }
        t.len += len;
        ++pkts;
        if (len < t.segment) break;  // a short packet ends a GSO train
    }
    ngtcp2_conn_update_pkt_tx_time(m.q, now_ns);
    return state_;
}

std::uint64_t conn::expiry() const {
    return ngtcp2_conn_get_expiry(impl_->q);
}

conn_state conn::on_expiry(std::uint64_t now_ns) {
    if (state_ != conn_state::open) return state_;
    impl_->now = now_ns;
    const int rv = ngtcp2_conn_handle_expiry(impl_->q, now_ns);
    if (rv == 0) return state_;
    if (rv == NGTCP2_ERR_IDLE_CLOSE) return state_ = conn_state::dead;  // silently (RFC 9000 10.1)
    ngtcp2_connection_close_error_set_transport_error_liberr(&impl_->last_error, rv, nullptr, 0);
    return state_ = conn_state::failed;
}

void conn::close(std::uint8_t* buf, std::size_t cap, train& t, std::uint64_t now_ns) {
    t = train{};
    impl& m = *impl_;
    if (state_ == conn_state::draining || state_ == conn_state::dead ||
        ngtcp2_conn_is_in_closing_period(m.q) || !m.q) {
        if (state_ == conn_state::open || state_ == conn_state::failed)
            state_ = conn_state::closing;
        return;
    }
    if (m.last_error.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
        m.last_error.error_code == 0 && m.h) {
        ngtcp2_connection_close_error_set_application_error(&m.last_error, NGHTTP3_H3_NO_ERROR,
                                                            nullptr, 0);
    }
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n =
        ngtcp2_conn_write_connection_close(m.q, &ps.path, &pi, buf, cap, &m.last_error, now_ns);
    state_ = conn_state::closing;
    if (n <= 0) return;
    t.len = t.segment = static_cast<std::size_t>(n);
    set_remote(t, ps.path);
    m.close_packet.assign(buf, buf + n);
    m.close_remote = t.remote;
    m.close_remote_len = t.remote_len;
}

bool conn::resend_close(std::uint8_t* buf, std::size_t cap, train& t) const {
    const impl& m = *impl_;
    if (m.close_packet.empty() || m.close_packet.size() > cap) return false;
    std::memcpy(buf, m.close_packet.data(), m.close_packet.size());
    t = train{};
    t.len = t.segment = m.close_packet.size();
    t.remote = m.close_remote;
    t.remote_len = m.close_remote_len;
    return true;
}

void conn::goaway() {
    if (!impl_->h) return;
    (void)nghttp3_conn_submit_shutdown_notice(impl_->h);
    (void)nghttp3_conn_shutdown(impl_->h);
}

std::uint64_t conn::close_period_ns() const {
    return 3 * ngtcp2_conn_get_pto(impl_->q);
}

bool conn::submit_response(std::int64_t stream, int status, std::span<const field> fields,
                           bool has_body) {
    impl& m = *impl_;
    auto* s = m.find(stream);
    if (!s || !m.h) return false;
    char code[4];
    const int v = std::clamp(status, 100, 999);
    code[0] = static_cast<char>('0' + v / 100);
    code[1] = static_cast<char>('0' + v / 10 % 10);
    code[2] = static_cast<char>('0' + v % 10);
    std::vector<nghttp3_nv> nv;
    nv.reserve(fields.size() + 1);
    auto add = [&nv](std::string_view n, std::string_view val) {
        nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(val.data())), n.size(),
                      val.size(), NGHTTP3_NV_FLAG_NONE});
    };
    add(":status", std::string_view(code, 3));
    for (const auto& f : fields) add(f.name, f.value);
    nghttp3_data_reader dr{h3_read_data};
    if (!has_body) s->end = true;
    return nghttp3_conn_submit_response(m.h, stream, nv.data(), nv.size(),
                                        has_body ? &dr : nullptr) == 0;
}

bool conn::submit_data(std::int64_t stream, shared_bytes bytes) {
    impl& m = *impl_;
    auto* s = m.find(stream);
    if (!s || s->end) return false;
    if (bytes.empty()) return true;
    s->unacked += bytes.size();
    s->chunks.push_back(std::move(bytes));
    (void)nghttp3_conn_resume_stream(m.h, stream);
    return true;
}

bool conn::submit_end(std::int64_t stream, std::span<const field> trailers) {
    impl& m = *impl_;
    auto* s = m.find(stream);
    if (!s || s->end) return false;
    s->end = true;
    for (const auto& f : trailers) s->trailers.emplace_back(f.name, f.value);
    (void)nghttp3_conn_resume_stream(m.h, stream);
    return true;
}

void conn::reset_stream(std::int64_t stream, std::uint64_t h3_code) {
    (void)ngtcp2_conn_shutdown_stream(impl_->q, stream, h3_code);
}

void conn::stop_reading(std::int64_t stream) {
    (void)ngtcp2_conn_shutdown_stream_read(impl_->q, stream, NGHTTP3_H3_NO_ERROR);
    if (impl_->h) (void)nghttp3_conn_shutdown_stream_read(impl_->h, stream);
}

std::size_t conn::queued(std::int64_t stream) const {
    auto it = impl_->streams.find(stream);
    return it == impl_->streams.end() ? 0 : it->second.unacked;
}

std::size_t conn::open_streams() const {
    return impl_->streams.size();
}

conn_stats conn::stats() const {
    ngtcp2_conn_stat cs{};
    ngtcp2_conn_get_conn_stat(impl_->q, &cs);
    conn_stats s;
    s.smoothed_rtt_us = cs.smoothed_rtt / 1000;
    s.min_rtt_us = cs.min_rtt == UINT64_MAX ? 0 : cs.min_rtt / 1000;
    s.cwnd = cs.cwnd;
    s.bytes_in_flight = cs.bytes_in_flight;
    s.lost_packets = impl_->lost;
    s.path_changes = impl_->path_changes;
    return s;
}

sock_path conn::current_path() const {
    const ngtcp2_path* p = ngtcp2_conn_get_path(impl_->q);
    return {p->local.addr, static_cast<socklen_t>(p->local.addrlen), p->remote.addr,
            static_cast<socklen_t>(p->remote.addrlen)};
}

std::vector<cid> conn::scids() const {
    std::vector<ngtcp2_cid> raw(ngtcp2_conn_get_num_scid(impl_->q));
    ngtcp2_conn_get_scid(impl_->q, raw.data());
    std::vector<cid> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) copy_cid(out[i], raw[i]);
    return out;
}

}  // namespace sy::http3
