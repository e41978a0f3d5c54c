#include "clients.hpp"

#include <array>

#include "payload.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/proto/http1/serializer.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace sy::bench {

namespace {

// Feeds the response parser until it needs more input; calls on(ev, result) for each event
// BEFORE consuming its bytes (views point into in). Returns false on a parse error.
template <typename On>
bool pump(http1::response_parser& p, byte_buffer& in, On&& on) {
    for (;;) {
        auto r = p.feed(in.readable());
        if (r.out == http1::outcome::error) return false;
        if (r.out == http1::outcome::complete && !on(r)) return true;
        in.consume(r.consumed);
        if (r.out == http1::outcome::need_more) return true;
    }
}

std::string strip_etag(std::string_view e) {
    if (e.substr(0, 2) == "W/") e.remove_prefix(2);
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return std::string(e);
}

}  // namespace

// ---------------------------------------------------------------- subscriber

subscriber::subscriber(worker& w, std::uint32_t topic)
    : w_(w), topic_(topic), last_seq_(w.opt().publishers, 0) {}

void subscriber::deliver(std::string_view data, std::int64_t now) {
    auto& st = w_.stats();
    std::size_t n = scan_payloads(data, [&](const marker& m) {
        st.deliveries.add();
        if (m.publisher >= last_seq_.size()) {
            st.foreign.add();
        } else if (m.seq <= last_seq_[m.publisher]) {
            st.duplicates.add();
        } else {
            last_seq_[m.publisher] = m.seq;
            st.unique.add();
            st.latency.record(now > m.send_ns ? static_cast<std::uint64_t>(now - m.send_ns) : 0);
        }
    });
    if (n == 0)
        st.foreign.add();
    else
        st.last_delivery_ns.set(static_cast<std::uint64_t>(now));
}

void subscriber::set_ready() {
    if (ready_) return;
    ready_ = true;
    w_.sub_ready();
}

void subscriber::fail(net::connection& c, const std::string& why) {
    if (!reported_) {
        reported_ = true;
        if (ready_)
            w_.sub_closed();
        else
            w_.sub_failed(why);
    }
    c.close(net::close_mode::immediate);
}

void subscriber::on_close(net::connection&, net::close_reason r) {
    if (reported_ || w_.shutting_down()) return;
    reported_ = true;
    if (ready_)
        w_.sub_closed();
    else
        w_.sub_failed(std::string("subscriber connection closed before subscribing: ") +
                      net::to_string(r));
}

// ---------------------------------------------------------------- WebSocket

void ws_subscriber::on_open(net::connection& c) {
    ws::client_options o;
    o.host = w_.opt().host_header;
    o.path = w_.sub_target(topic_);
    hs_ = std::make_unique<ws::client_handshake>(std::move(o));
    byte_buffer out;
    hs_->write_request(out);
    c.write(std::move(out));
}

void ws_subscriber::on_data(net::connection& c, byte_buffer& in) {
    if (!ready_) {
        auto head = ws::parse_response_head(in.readable());
        if (!head)
            return fail(c, std::string("ws handshake: ") + std::string(to_string(head.error())));
        if (!*head) return;
        auto ok = hs_->validate(**head);
        if (!ok) {
            return fail(c, "ws handshake: " + std::string(to_string(ok.error())) + " (status " +
                               std::to_string((*head)->status) + ")");
        }
        in.consume((*head)->head_size);
        hs_.reset();
        dec_.emplace(ws::decoder_config{.side = ws::role::client});
        set_ready();
    }
    on_frames(c, in, sy::now_ns());
}

void ws_subscriber::on_frames(net::connection& c, byte_buffer& in, std::int64_t now) {
    ws::event ev;
    while (!in.empty()) {
        auto r = dec_->feed(mutable_byte_view{in.data(), in.size()}, ev);
        if (r.out == ws::outcome::error) {
            in.consume(r.consumed);
            return fail(c, "ws frame error");
        }
        if (r.out == ws::outcome::need_more) {
            in.consume(r.consumed);
            return;
        }
        switch (ev.kind) {
            case ws::event_kind::message:
                deliver(ev.text(), now);
                break;
            case ws::event_kind::ping: {
                byte_buffer out;
                ws::encode_frame(out, ws::opcode::pong, ev.payload,
                                 {.mask = ws::random_mask_key()});
                c.write(std::move(out));
                break;
            }
            case ws::event_kind::pong:
                break;
            case ws::event_kind::close:
                in.consume(r.consumed);
                return fail(c, "server sent close");
        }
        in.consume(r.consumed);
    }
}

// ---------------------------------------------------------------- SSE

void sse_subscriber::on_open(net::connection& c) {
    byte_buffer out;
    const http1::header fields[] = {{"Accept", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    http1::write_request_head(out, "GET", w_.sub_target(topic_), w_.opt().host_header, fields);
    c.write(std::move(out));
}

void sse_subscriber::on_data(net::connection& c, byte_buffer& in) {
    const std::int64_t now = sy::now_ns();
    std::string err;
    bool ok = pump(http_, in, [&](const http1::parse_result& r) {
        if (r.ev == http1::event::head) {
            int status = http_.head().status;
            if (status != 200) {
                err = "sse: status " + std::to_string(status);
                return false;
            }
            set_ready();
        } else if (r.ev == http1::event::body) {
            byte_view b = r.body;
            sse::event ev;
            while (!b.empty()) {
                auto s = sse_.feed(b, ev);
                b = b.subspan(s.consumed);
                if (s.out == sse::outcome::error) {
                    err = "sse: event stream error";
                    return false;
                }
                if (s.out == sse::outcome::complete && ev.kind == sse::event_kind::message)
                    deliver(ev.data, now);
            }
        } else if (r.ev == http1::event::end) {
            err = "sse: stream ended";
            return false;
        }
        return true;
    });
    if (!ok) err = "sse: bad HTTP response";
    if (!err.empty()) fail(c, err);
}

// ---------------------------------------------------------------- long poll

void longpoll_subscriber::on_open(net::connection& c) {
    send_poll(c);
    set_ready();  // the first poll is on its way; main waits --settle before publishing
}

void longpoll_subscriber::send_poll(net::connection& c) {
    std::string target = w_.sub_target(topic_);
    const std::string& param = w_.opt().since_param;
    if (!etag_.empty() && !param.empty()) {
        target += target.find('?') == std::string::npos ? '?' : '&';
        target += param + "=" + strip_etag(etag_);
    }
    http1::header fields[2];
    std::size_t n = 0;
    if (!etag_.empty()) fields[n++] = {"If-None-Match", etag_};
    if (!last_modified_.empty()) fields[n++] = {"If-Modified-Since", last_modified_};
    byte_buffer out;
    http1::write_request_head(out, "GET", target, w_.opt().host_header, {fields, n});
    c.write(std::move(out));
    w_.stats().polls.add();
}

void longpoll_subscriber::on_data(net::connection& c, byte_buffer& in) {
    const std::int64_t now = sy::now_ns();
    bool ok = pump(http_, in, [&](const http1::parse_result& r) {
        if (r.ev == http1::event::head) {
            const auto& h = http_.head();
            status_ = h.status;
            body_.clear();
            if (auto e = h.header_value("ETag"); !e.empty()) etag_ = e;
            if (auto lm = h.header_value("Last-Modified"); !lm.empty()) last_modified_ = lm;
        } else if (r.ev == http1::event::body) {
            body_.append(as_string_view(r.body));
        } else if (r.ev == http1::event::end) {
            on_answer(c, now);
            return c.is_open();
        }
        return true;
    });
    if (!ok) fail(c, "longpoll: bad HTTP response");
}

void longpoll_subscriber::on_answer(net::connection& c, std::int64_t now) {
    if (status_ == 200) {
        deliver(body_, now);
    } else if (status_ != 304 && status_ != 408 && status_ != 204) {
        return fail(c, "longpoll: status " + std::to_string(status_));
    }
    if (http_.state() == http1::parser_state::closed) return fail(c, "longpoll: server closed");
    send_poll(c);
}

// ---------------------------------------------------------------- requester

requester::requester(worker& w, std::uint32_t id, bool push)
    : w_(w), id_(id), push_(push), seq_(w.opt().topics, 0), next_topic_(id % w.opt().topics) {}

void requester::on_open(net::connection& c) {
    conn_ = &c;
    w_.pub_ready(*this);
}

bool requester::try_send(std::int64_t now) {
    const auto& o = w_.opt();
    if (!conn_ || !conn_->is_open() || pending_.size() >= o.window) return false;
    const std::uint32_t topic = next_topic_;
    next_topic_ = (next_topic_ + 1) % static_cast<std::uint32_t>(o.topics);
    body_.clear();
    const http1::header ct[] = {{"Content-Type", "text/plain"}};
    if (push_) {
        write_payload(body_, {id_, ++seq_[topic], now}, o.size);
        http1::write_request_head(out_, "POST", w_.pub_target(topic), o.host_header, ct,
                                  body_.size());
    } else {
        const bool has_body = o.method == "POST" || o.method == "PUT";
        if (has_body) body_.assign(o.size, 'x');
        http1::write_request_head(
            out_, o.method, o.url, o.host_header,
            has_body ? std::span<const http1::header>(ct) : std::span<const http1::header>{},
            body_.size());
    }
    out_.append(body_);
    conn_->write(out_.readable());
    out_.clear();
    pending_.push_back({topic, now});
    auto& st = w_.stats();
    st.sent.add();
    st.outstanding.add();
    return true;
}

void requester::on_data(net::connection& c, byte_buffer& in) {
    const std::int64_t now = sy::now_ns();
    bool ok = pump(http_, in, [&](const http1::parse_result& r) {
        if (r.ev == http1::event::head) status_ = http_.head().status;
        if (r.ev == http1::event::end) on_response(now);
        return true;
    });
    if (!ok || http_.state() == http1::parser_state::closed) {
        conn_ = nullptr;  // reported here, not again from on_close
        w_.pub_closed(
            *this, ok ? "server closed the request connection" : "bad HTTP response to a request");
        c.close(net::close_mode::immediate);
        return;
    }
    w_.pub_progress(*this);
}

void requester::on_response(std::int64_t now) {
    if (pending_.empty()) return;
    pending p = pending_.front();
    pending_.pop_front();
    auto& st = w_.stats();
    st.outstanding.set(st.outstanding.get() - 1);
    if (status_ >= 200 && status_ < 300) {
        st.ok.add();
        st.ok_per_topic[p.topic].add();
    } else {
        st.errors.add();
    }
    if (!push_)
        st.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - p.send_ns)));
}

void requester::on_close(net::connection&, net::close_reason r) {
    auto& st = w_.stats();
    st.outstanding.set(st.outstanding.get() - pending_.size());
    pending_.clear();
    if (conn_) w_.pub_closed(*this, std::string("request connection closed: ") + net::to_string(r));
    conn_ = nullptr;
}

}  // namespace sy::bench
