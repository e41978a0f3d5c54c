#include "switchyard/session/h3_session.hpp"

#include <charconv>
#include <map>
#include <vector>

#include "stream_sink.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/router.hpp"

namespace sy::session {

namespace {

constexpr std::size_t k_train_bytes = 64 * 1024;
constexpr int k_max_trains_per_flush = 16;  // the rest after the pacing timer (send quantum)

std::string_view cid_view(const http3::cid& c) {
    return {reinterpret_cast<const char*>(c.data.data()), c.len};
}

std::string cid_key(const http3::cid& c) {
    return std::string(cid_view(c));
}

net::address address_of(const sockaddr_storage& ss, socklen_t len) {
    return net::address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
}

// RFC 9114 4.2: connection-specific fields must not appear in HTTP/3 (as in HTTP/2).
bool connection_specific(std::string_view lower) {
    return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
           lower == "transfer-encoding" || lower == "upgrade" || lower == "content-length";
}

}  // namespace

bool parse_retry_mode(std::string_view s, retry_mode& out) {
    if (s == "auto") {
        out = retry_mode::automatic;
    } else if (s == "always") {
        out = retry_mode::always;
    } else if (s == "never") {
        out = retry_mode::never;
    } else {
        return false;
    }
    return true;
}

class h3_sink;

// ---- one QUIC connection --------------------------------------------------------------------

class h3_conn final : public net::datagram_flow, public http3::events, core::before_sleep_hook {
  public:
    h3_conn(h3_server& srv, net::udp_socket& sock, const net::address& local,
            const net::address& peer)
        : srv_(srv), sock_(sock), local_(local), peer_(peer) {}
    ~h3_conn() override;

    std::unique_ptr<http3::conn> q;
    std::vector<std::string> keys;  // entries of the server's cids_ pointing here
    bool handshaking = true;

    void on_packet(net::udp_socket& sock, const net::datagram& d);
    void after_io(http3::conn_state st);
    /// Writes what is due now and re-arms the timer.
    void flush();

    // net::datagram_flow
    void begin_shutdown() override;
    void close_now() override;
    std::string_view protocol() const override { return "h3"; }
    std::string peer_text() const override { return peer_.to_string(); }

    // for h3_sink
    http_context& ctx() { return srv_.ctx_; }
    const h3_server& server() const { return srv_; }
    void want_flush() {
        if (!before_sleep_scheduled() && !dead_)
            srv_.ctx_.owner_loop().schedule_before_sleep(*this);
    }
    void response_done(std::int64_t id, int status);
    bool dead() const { return dead_; }
    // http3::events (also called by the server for the first IDs)
    void on_cid_added(const http3::cid& c) override;

  private:
    struct stream {
        std::unique_ptr<http::request> req;
        std::shared_ptr<h3_sink> sink;
        std::uint64_t body_bytes = 0;
        bool streaming = false;
        bool dispatched = false;
        bool refused = false;
        bool head_request = false;
    };

    // http3::events
    void on_request(const http3::request_head& h, bool fin) override;
    void on_body(std::int64_t id, byte_view bytes) override;
    void on_body_end(std::int64_t id) override;
    void on_acked(std::int64_t id) override;
    void on_stream_closed(std::int64_t id) override;
    void on_cid_retired(const http3::cid& c) override;
    void on_handshake_done() override;

    void before_sleep() override { flush(); }
    void arm_timer();
    void send_train(const http3::train& t);
    void start_close();
    void finish();  // leave the server: unregistered, freed after the turn
    void run_handler(std::int64_t id, stream& s);
    void refuse(std::int64_t id, stream& s, int status, std::string_view body);

    h3_server& srv_;
    net::udp_socket& sock_;
    net::address local_;
    net::address peer_;
    std::map<std::int64_t, stream> streams_;
    core::timer_id timer_{};
    bool draining_ = false;  // server shutdown: GOAWAY sent, close when streams are done
    bool dead_ = false;
    bool closing_ = false;
};

// ---- the response sink of one request stream -------------------------------------------------

class h3_sink final : public stream_sink {
  public:
    h3_sink(h3_conn* c, std::int64_t id, bool head_request)
        : stream_sink(head_request), conn_(c), id_(id) {}
    void gone() {
        conn_ = nullptr;
        detach();
    }

  private:
    bool ok() const { return conn_ && !conn_->dead() && conn_->q; }
    void out_head(http::response_head& head, bool end_stream) override {
        if (!ok()) return;
        std::string names;  // lower-cased names (RFC 9114 4.2), views taken once it is sized
        std::size_t total = 0;
        for (auto f : head.headers) total += f.name.size();
        names.reserve(total);
        std::vector<http3::field> fields;
        for (auto f : head.headers) {
            const std::size_t at = names.size();
            for (char c : f.name) names.push_back(ascii_lower(c));
            std::string_view n(names.data() + at, f.name.size());
            if (!connection_specific(n)) fields.push_back({n, f.value});
        }
        char len_buf[24];
        if (head.content_length) {
            auto [p, ec] = std::to_chars(len_buf, len_buf + sizeof len_buf, *head.content_length);
            fields.push_back({"content-length",
                              std::string_view(len_buf, static_cast<std::size_t>(p - len_buf))});
        }
        fields.push_back({"date", conn_->ctx().date().value()});
        if (!conn_->q->submit_response(id_, head.status, fields, !end_stream))
            conn_->q->reset_stream(id_);
        conn_->want_flush();
    }
    void out_data(shared_bytes b) override {
        if (!ok()) return;
        conn_->q->submit_data(id_, std::move(b));
        conn_->want_flush();
    }
    void out_end(const http::header_map* trailers) override {
        if (!ok()) return;
        std::vector<std::string> lower;
        std::vector<http3::field> fields;
        if (trailers) {
            lower.reserve(trailers->size());
            for (auto f : *trailers) {
                std::string n(f.name);
                for (char& c : n) c = ascii_lower(c);
                lower.push_back(std::move(n));
                fields.push_back({lower.back(), f.value});
            }
        }
        conn_->q->submit_end(id_, fields);
        conn_->want_flush();
    }
    void out_reset() override {
        if (!ok()) return;
        conn_->q->reset_stream(id_);
        conn_->want_flush();
    }
    std::size_t out_queued() const override { return ok() ? conn_->q->queued(id_) : 0; }
    std::size_t out_high_watermark() const override {
        return conn_ ? conn_->server().options().high_watermark : 0;
    }
    void out_done(int status) override {
        if (conn_) conn_->response_done(id_, status);
    }

    h3_conn* conn_;
    std::int64_t id_;
};

// ---- h3_conn ---------------------------------------------------------------------------------

h3_conn::~h3_conn() {
    for (auto& [id, s] : streams_) {
        if (s.sink) s.sink->gone();
    }
}

void h3_conn::on_packet(net::udp_socket& sock, const net::datagram& d) {
    (void)sock;
    srv_.counters_.packets_in.add();
    bytes_in += d.data.size();
    if (closing_) {  // RFC 9000 10.2.1: answer with the CONNECTION_CLOSE again
        http3::train t;
        if (q->resend_close(srv_.buf_.get(), k_train_bytes, t)) send_train(t);
        return;
    }
    if (*d.peer != peer_) peer_ = *d.peer;  // the path ngtcp2 validates; shown by introspection
    const net::address* local = d.local ? d.local : &local_;
    const http3::sock_path path{local->sa(), local->len(), d.peer->sa(), d.peer->len()};
    after_io(q->read(path, d.data, d.ecn, now_ns()));
}

void h3_conn::after_io(http3::conn_state st) {
    switch (st) {
        case http3::conn_state::open:
            want_flush();
            return;
        case http3::conn_state::failed:
            start_close();
            return;
        case http3::conn_state::draining: {  // the peer closed: silent for 3 PTO, then gone
            if (closing_) return;
            closing_ = true;
            const auto period = millis(std::max<std::uint64_t>(1, q->close_period_ns() / 1000000));
            srv_.ctx_.owner_loop().cancel_timer(timer_);
            timer_ = srv_.ctx_.owner_loop().add_timer(period, [this] { finish(); });
            return;
        }
        case http3::conn_state::closing:
            return;
        case http3::conn_state::dead:
            finish();
            return;
    }
}

void h3_conn::start_close() {
    if (closing_ || dead_) return;
    closing_ = true;
    http3::train t;
    q->close(srv_.buf_.get(), k_train_bytes, t, now_ns());
    if (t.len) send_train(t);
    const auto period = millis(std::max<std::uint64_t>(1, q->close_period_ns() / 1000000));
    srv_.ctx_.owner_loop().cancel_timer(timer_);
    timer_ = srv_.ctx_.owner_loop().add_timer(period, [this] { finish(); });
}

void h3_conn::send_train(const http3::train& t) {
    const net::address to = address_of(t.remote, t.remote_len);
    net::send_meta m;
    m.ecn = t.ecn;
    m.segment = t.len > t.segment ? static_cast<std::uint16_t>(t.segment) : 0;
    m.from = &local_;
    sock_.send_to(byte_view(srv_.buf_.get(), t.len), to, m);
    const std::size_t n = t.segment ? (t.len + t.segment - 1) / t.segment : 1;
    srv_.counters_.packets_out.add(n);
    bytes_out += t.len;
}

void h3_conn::flush() {
    if (dead_ || closing_ || !q) return;
    for (int i = 0; i < k_max_trains_per_flush; ++i) {
        http3::train t;
        const auto st = q->write(srv_.buf_.get(), k_train_bytes, t, now_ns());
        if (st != http3::conn_state::open) return after_io(st);
        if (t.len == 0) break;
        send_train(t);
    }
    if (draining_ && streams_.empty() && q->open_streams() == 0) return start_close();
    arm_timer();
}

void h3_conn::arm_timer() {
    const std::uint64_t at = q->expiry();
    auto& loop = srv_.ctx_.owner_loop();
    if (at == UINT64_MAX) {
        loop.cancel_timer(timer_);
        return;
    }
    const auto deadline = static_cast<std::int64_t>(at);
    if (loop.timer_pending(timer_)) {
        loop.reschedule_timer_at(timer_, deadline);
        return;
    }
    timer_ = loop.add_timer_at(deadline, [this] {
        timer_ = core::timer_id{};  // fired: arm_timer below adds a new one
        if (dead_ || closing_) return;
        const auto st = q->on_expiry(now_ns());
        if (st != http3::conn_state::open) return after_io(st);
        flush();
    });
}

void h3_conn::finish() {
    if (dead_) return;
    dead_ = true;
    srv_.ctx_.owner_loop().cancel_timer(timer_);
    if (q) {
        const auto s = q->stats();
        srv_.counters_.lost.add(s.lost_packets);
        srv_.counters_.migrations.add(s.path_changes);
        srv_.counters_.rtt_us.set(s.smoothed_rtt_us);
    }
    for (auto& [id, s] : streams_) {
        if (s.sink) s.sink->gone();
    }
    streams_.clear();
    leave();
    srv_.forget(*this);
}

void h3_conn::begin_shutdown() {
    draining_ = true;
    if (q) q->goaway();
    std::vector<std::shared_ptr<h3_sink>> sinks;
    for (auto& [id, s] : streams_) {
        if (s.sink) sinks.push_back(s.sink);
    }
    for (auto& k : sinks) k->shutdown();
    want_flush();
}

void h3_conn::close_now() {
    start_close();
    finish();
}

void h3_conn::on_cid_added(const http3::cid& c) {
    auto k = cid_key(c);
    srv_.cids_[k] = this;
    keys.push_back(std::move(k));
}

void h3_conn::on_cid_retired(const http3::cid& c) {
    auto k = cid_key(c);
    auto it = srv_.cids_.find(k);
    if (it != srv_.cids_.end() && it->second == this) srv_.cids_.erase(it);
    std::erase(keys, k);
}

void h3_conn::on_handshake_done() {
    if (!handshaking) return;
    handshaking = false;
    srv_.counters_.handshakes.add();
    srv_.counters_.handshaking.set(srv_.counters_.handshaking.get() - 1);
}

// ---- requests -------------------------------------------------------------------------------

void h3_conn::on_request(const http3::request_head& h, bool fin) {
    auto& ctx = srv_.ctx_;
    stream& s = streams_[h.stream];
    s.req = std::make_unique<http::request>();
    http::request& req = *s.req;
    ctx.counters().requests.add();
    req.set_max_body(ctx.options().limits.max_body_bytes);
    req.set_method(h.method);
    s.head_request = req.method() == http::method::head;
    if (h.method == "CONNECT") {  // no extended CONNECT over h3 here (no WebSocket over h3)
        refuse(h.stream, s, 501, "CONNECT is not supported over HTTP/3\n");
        return;
    }
    if (h.path.empty()) {
        refuse(h.stream, s, 400, "missing :path\n");
        return;
    }
    if (auto t = req.set_target(h.path); !t) {
        refuse(h.stream, s, http::status_for(t.error()), http::describe(t.error()));
        return;
    }
    const request_fields rf = add_request_fields(req, h.headers, h.authority);
    const auto& content_length = rf.content_length;
    if (rf.grpc) s.streaming = true;
    req.set_remote_address(peer_.to_string());
    req.set_version(http::http_version::http3);
    if (content_length && *content_length > req.max_body()) {
        refuse(h.stream, s, 413, "request body too large\n");
        return;
    }
    if (s.streaming) {
        req.set_streaming_body();
        if (fin) req.deliver_body_end();
        run_handler(h.stream, s);
    } else if (fin) {
        run_handler(h.stream, s);
    }
}

void h3_conn::run_handler(std::int64_t id, stream& s) {
    s.dispatched = true;
    s.sink = std::make_shared<h3_sink>(this, id, s.head_request);
    if (draining_) s.sink->shutdown();
    http::response res(s.sink);
    srv_.ctx_.router().dispatch(*s.req, res);
}

void h3_conn::refuse(std::int64_t id, stream& s, int status, std::string_view body) {
    s.refused = true;
    srv_.ctx_.counters().by_status[status].add();
    const http3::field f[] = {{"content-type", "text/plain; charset=utf-8"}};
    if (q->submit_response(id, status, f, true)) {
        q->submit_data(id, shared_bytes::copy_of(body));
        q->submit_end(id);
    }
    q->stop_reading(id);
    want_flush();
}

void h3_conn::on_body(std::int64_t id, byte_view bytes) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.refused) return;
    stream& s = it->second;
    if (s.streaming) {
        s.req->deliver_body_chunk(bytes);
        return;
    }
    s.body_bytes += bytes.size();
    if (s.body_bytes > s.req->max_body()) return refuse(id, s, 413, "request body too large\n");
    s.req->append_body(bytes);
}

void h3_conn::on_body_end(std::int64_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second.refused) return;
    stream& s = it->second;
    if (s.streaming) {
        s.req->deliver_body_end();
    } else if (!s.dispatched) {
        run_handler(id, s);
    }
}

void h3_conn::on_acked(std::int64_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end() || !it->second.sink) return;
    auto sink = it->second.sink;  // drained() may end the stream
    sink->drained(srv_.opts_.low_watermark);
}

void h3_conn::on_stream_closed(std::int64_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto sink = std::move(it->second.sink);
    streams_.erase(it);
    if (sink) sink->gone();  // a finished response: no-op; unfinished: on_abort
}

void h3_conn::response_done(std::int64_t id, int status) {
    auto& ctx = srv_.ctx_;
    if (status > 0 && status < 600) ctx.counters().by_status[status].add();
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    if (ctx.options().access_log && it->second.req) {
        log::info("{} {} {} {} h3", peer_.to_string(), it->second.req->method_name(),
                  it->second.req->target(), status);
    }
}

// ---- h3_server ------------------------------------------------------------------------------

h3_server::h3_server(http_context& ctx, const http3::server_tls& tls, const h3_options& o,
                     h3_counters& counters, std::uint8_t loop_index, unsigned loop_count,
                     net::datagram_flow_list& flows, net::connection_limit* limit,
                     net::io_counters* io)
    : ctx_(ctx),
      tls_(tls),
      opts_(o),
      loop_(loop_index),
      cid_byte_(static_cast<std::uint8_t>(o.cid_base + loop_index)),
      loop_count_(loop_count),
      flows_(flows),
      limit_(limit),
      io_(io),
      counters_(counters),
      buf_(new std::uint8_t[k_train_bytes]) {}

h3_server::~h3_server() {
    for (auto& [p, c] : conns_) c->leave();
}

void h3_server::send(net::udp_socket& sock, const std::uint8_t* p, std::size_t n,
                     const net::address& to, const net::address* from) {
    net::send_meta m;
    m.from = from;
    sock.send_to(byte_view(p, n), to, m);
    counters_.packets_out.add();
}

int h3_server::on_datagram(net::udp_socket& sock, const net::datagram& d) {
    http3::packet_ids ids;
    const auto r = http3::decode_ids(d.data, ids);
    if (r == http3::decode_outcome::bad) {
        counters_.dropped.add();
        return -1;
    }
    const net::address* from = d.local;
    if (r == http3::decode_outcome::version_negotiation) {
        // Only for datagrams large enough to be an Initial (RFC 9000 6.1, 14.1): no amplifier.
        if (d.data.size() >= 1200) {
            const std::size_t n = http3::write_version_negotiation(buf_.get(), k_train_bytes, ids);
            if (n) send(sock, buf_.get(), n, *d.peer, from);
            counters_.version_negotiations.add();
        }
        return -1;
    }
    if (auto it = cids_.find(cid_view(ids.dcid)); it != cids_.end()) {
        it->second->on_packet(sock, d);
        return -1;
    }
    // Ours but owned elsewhere: the ID names its loop.
    // Ours but owned by another loop of this process: the ID names it (the reuseport steering
    // makes this rare; it remains for kernels without it and for datagrams the hash placed).
    const bool server_cid = ids.dcid.len == http3::k_cid_len;
    const unsigned owner = ids.dcid.data[0] - opts_.cid_base;
    if (server_cid && ids.dcid.data[0] >= opts_.cid_base && owner != loop_ && owner < loop_count_ &&
        !d.forwarded) {
        counters_.forwarded.add();
        return static_cast<int>(owner);
    }
    const net::address& local = d.local ? *d.local : sock.local_address();
    const http3::sock_path path{local.sa(), local.len(), d.peer->sa(), d.peer->len()};
    if (ids.long_header) {
        accept(sock, d, ids, path);
        return -1;
    }
    const std::size_t n =
        http3::write_stateless_reset(tls_, buf_.get(), k_train_bytes, ids.dcid, d.data.size());
    if (n) {
        send(sock, buf_.get(), n, *d.peer, from);
        counters_.stateless_resets.add();
    } else {
        counters_.dropped.add();
    }
    return -1;
}

void h3_server::accept(net::udp_socket& sock, const net::datagram& d, const http3::packet_ids& ids,
                       const http3::sock_path& path) {
    if (flows_.draining() || counters_.handshaking.get() >= opts_.max_handshakes) {
        counters_.refused.add();
        return;
    }
    const auto now = now_ns();
    const bool want_retry = opts_.retry == retry_mode::always ||
                            (opts_.retry == retry_mode::automatic && under_load(now));
    http3::accept_params a;
    http3::cid odcid;
    switch (http3::classify_initial(tls_, d.data, path, want_retry, now, a, odcid)) {
        case http3::initial_verdict::accept:
            break;
        case http3::initial_verdict::retry: {
            const std::size_t n =
                http3::write_retry(tls_, buf_.get(), k_train_bytes, d.data, path, cid_byte_, now);
            if (n) {
                send(sock, buf_.get(), n, *d.peer, d.local);
                counters_.retries.add();
            }
            return;
        }
        case http3::initial_verdict::refuse:
        case http3::initial_verdict::not_initial:
            counters_.dropped.add();
            return;
    }
    http3::make_cid(a.scid, cid_byte_);
    const net::address local = d.local ? *d.local : sock.local_address();
    auto c = std::make_unique<h3_conn>(*this, sock, local, *d.peer);
    if (!c->join(flows_, limit_, io_)) {
        counters_.refused.add();
        return;
    }
    std::string err;
    c->q = http3::conn::accept(opts_.quic, tls_, d.data, path, a, *c, now, err);
    if (!c->q) {
        log::debug("h3: Initial from {} refused: {}", d.peer->to_string(), err);
        counters_.dropped.add();
        return;
    }
    counters_.connections.add();
    counters_.handshaking.add();
    h3_conn* raw = c.get();
    raw->on_cid_added(a.scid);
    raw->on_cid_added(ids.dcid);  // the client's first DCID: its Initial retransmissions
    conns_.emplace(raw, std::move(c));
    counters_.open.set(conns_.size());
    raw->on_packet(sock, d);
}

// tls.http3_retry = auto: handshakes in progress, or the rate of Initials in a fixed one-second
// window (counted before any state is made, so a flood of forged Initials trips it too).
bool h3_server::under_load(std::int64_t now) {
    if (now - initials_since_ >= 1'000'000'000) {
        initials_since_ = now;
        initials_ = 0;
    }
    ++initials_;
    return counters_.handshaking.get() >= opts_.retry_threshold || initials_ > opts_.retry_rate;
}

void h3_server::forget(h3_conn& c) {
    for (const auto& k : c.keys) {
        auto it = cids_.find(k);
        if (it != cids_.end() && it->second == &c) cids_.erase(it);
    }
    if (c.handshaking) {
        c.handshaking = false;
        counters_.handshaking.set(counters_.handshaking.get() - 1);
    }
    auto it = conns_.find(&c);
    if (it == conns_.end()) return;
    ctx_.owner_loop().destroy_later(std::move(it->second));  // we may be inside its call
    conns_.erase(it);
    counters_.open.set(conns_.size());
}

}  // namespace sy::session
