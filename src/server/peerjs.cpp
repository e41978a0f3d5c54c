// PeerJS signaling (the peerjs-server wire protocol) at /peerjs, on the hub.
//
// Each PeerJS socket is an ordinary hub subscriber WebSocket (ws_session, raw framing) of the
// topic sys.peerjs.<id>: a message for peer X is published there by the server (publish_origin
// ::server; clients cannot publish under sys.), so it reaches X on any loop, and on any node
// once the hub has a backplane. The id registry (which token holds which id) and the queue of
// messages for peers not connected yet live on loop 0, reached by posts; each loop keeps the
// sockets between their on_connect and on_close by serial, so a reply from loop 0 finds its
// socket or nothing. See docs/webrtc.md.
#include "peerjs.hpp"

#include <openssl/rand.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "gateway_internal.hpp"
#include "switchyard/base/clock.hpp"
#include "switchyard/base/json.hpp"

namespace sy::server {
namespace {

constexpr std::string_view k_prefix = "sys.peerjs.";
constexpr std::string_view k_json = "application/json";

std::string topic_of(std::string_view id) {
    return std::string(k_prefix) + std::string(id);
}

/// PeerJS ids as the client accepts them, without spaces (a hub topic token):
/// [A-Za-z0-9]+ with single '-' or '_' between runs, at most 64 bytes.
bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    bool prev_sep = true;
    for (char c : id) {
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum) {
            prev_sep = false;
        } else if ((c == '-' || c == '_') && !prev_sep) {
            prev_sep = true;
        } else {
            return false;
        }
    }
    return !prev_sep;
}

std::string new_id() {
    // A UUID v4 as peerjs-server's GET /<key>/id gives.
    unsigned char b[16];
    RAND_bytes(b, sizeof b);
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += hex[b[i] >> 4];
        s += hex[b[i] & 15];
    }
    return s;
}

std::string server_message(std::string_view type, std::string_view msg = {}) {
    std::string j;
    json::writer w(j);
    w.begin_object().member("type", type);
    if (!msg.empty()) w.key("payload").begin_object().member("msg", msg).end_object();
    w.end_object();
    return j;
}

void publish_server(hub::hub_shard& shard, std::string_view topic, std::string json,
                    hub::publish_callback done = {}) {
    (void)shard.publish(topic, k_json, shared_bytes::copy_of(json), std::move(done),
                        hub::publish_origin::server);
}

/// Loop 0: who holds each id, and messages waiting for peers that are not connected.
struct peerjs_registry {
    struct holder {
        std::string token;
        unsigned loop = 0;
        std::uint64_t serial = 0;
    };
    struct waiting {
        std::string dst, src, json;
        std::int64_t at_ms = 0;
    };
    std::unordered_map<std::string, holder> ids;
    std::deque<waiting> queue;
    bool timer_armed = false;
};

/// Each loop: its PeerJS sockets between on_connect and on_close (a reply from loop 0 looks
/// its socket up here; a socket gone since is simply not found).
/// What one socket's hooks share.
struct peer_state {
    std::string id, token;
    std::uint64_t serial = 0;
    bool claimed = false;  // OPEN sent: until then its messages are ignored (not yet its id)
};

struct peerjs_loop {
    struct open_socket {
        session::ws_peer* peer = nullptr;
        peer_state* state = nullptr;  // owned by the socket's hooks, which outlive on_close
    };
    std::uint64_t next_serial = 1;
    std::unordered_map<std::uint64_t, open_socket> open;
};

class peerjs_service : public std::enable_shared_from_this<peerjs_service> {
  public:
    peerjs_service(runtime& rt, webrtc_config cfg) : rt_(rt), cfg_(std::move(cfg)) {}

    void serve(http::request& req, http::response& res);
    void serve_id(http::response& res) {
        // As peerjs-server: pages of any origin may ask (the client fetches it cross-origin).
        res.set_header("Access-Control-Allow-Origin", "*");
        res.send(200, new_id(), "text/plain");
    }

    void serve_peers(http::response& res);

  private:
    session::ws_hooks hooks_for(std::shared_ptr<peer_state> st);
    void on_connect(const std::shared_ptr<peer_state>& st, session::ws_peer& p);
    void on_message(const std::shared_ptr<peer_state>& st, session::ws_peer& p,
                    std::string_view text);
    void on_close(const std::shared_ptr<peer_state>& st);
    // Loop 0.
    void claim(std::string id, std::string token, unsigned loop, std::uint64_t serial);
    void release(const std::string& id, unsigned loop, std::uint64_t serial);
    void enqueue(std::string dst, std::string src, std::string json);
    void expire_tick();
    void send_expire(hub::hub_shard& shard, const std::string& absent, const std::string& sender);
    // The socket's loop.
    void claimed(unsigned loop, std::uint64_t serial, bool ok, std::vector<std::string> queued);

    peerjs_registry& registry() { return rt_.loop_at(0).loop->emplace_slot<peerjs_registry>(); }
    static peerjs_loop& local() { return current_loop_state()->loop->emplace_slot<peerjs_loop>(); }

    runtime& rt_;
    webrtc_config cfg_;
};

/// peerjs-server's GET /<key>/peers: the connected ids as a JSON array, read from loop 0's
/// registry and answered on the request's loop; 401 unless webrtc.peerjs_allow_discovery.
void peerjs_service::serve_peers(http::response& res) {
    res.set_header("Access-Control-Allow-Origin", "*");
    if (!cfg_.peerjs_allow_discovery) {
        res.send(401, "Discovery is off (webrtc.peerjs_allow_discovery)\n");
        return;
    }
    core::loop* origin = current_loop_state()->loop;
    auto held = std::make_shared<http::response>(std::move(res));
    rt_.loop_at(0).loop->post(
        [self = shared_from_this(), origin, held = std::move(held)]() mutable {
            std::string j;
            json::writer w(j);
            w.begin_array();
            for (const auto& [id, h] : self->registry().ids) w.value(id);
            w.end_array();
            // The response is touched (and its last handle dropped) on its own loop only.
            origin->post([held = std::move(held), j = std::move(j)] {
                if (!held->closed()) held->send_json(200, j);
            });
        });
}

void peerjs_service::serve(http::request& req, http::response& res) {
    if (!wants_websocket(req)) {
        res.send(426, "GET /peerjs is the PeerJS WebSocket endpoint (GET /peerjs/id: a new id)\n");
        return;
    }
    const auto key = req.query("key");
    const auto id = req.query("id");
    const auto token = req.query("token");
    if (!key || !id || !token || token->empty()) {
        res.send(400, "No id, token, or key supplied to websocket server\n");
        return;
    }
    if (*key != cfg_.peerjs_key) {
        res.send(401, "Invalid key provided\n");
        return;
    }
    if (!valid_id(*id)) {
        res.send(400, "Invalid id\n");
        return;
    }
    auto st = std::make_shared<peer_state>();
    st->id = *id;
    st->token = *token;
    session::ws_subscription sub;
    sub.pattern = topic_of(*id);
    sub.hooks = hooks_for(st);
    sub.remote = std::string(req.remote_address());
    auto push = ws_push_of(rt_.config(), {}, std::move(sub));
    // PeerJS clients send HEARTBEAT every 5 s; none for alive_timeout ends the socket.
    push.options.idle_timeout = millis(cfg_.peerjs_alive_timeout_ms);
    start_push(req, res, std::move(push));
}

session::ws_hooks peerjs_service::hooks_for(std::shared_ptr<peer_state> st) {
    session::ws_hooks h;
    auto self = shared_from_this();
    h.on_connect = [self, st](session::ws_peer& p) { self->on_connect(st, p); };
    h.on_message = [self, st](session::ws_peer& p, std::string_view m, bool) {
        self->on_message(st, p, m);
    };
    h.on_close = [self, st](session::ws_peer&) { self->on_close(st); };
    return h;
}

void peerjs_service::on_connect(const std::shared_ptr<peer_state>& st, session::ws_peer& p) {
    auto& l = local();
    st->serial = l.next_serial++;
    l.open[st->serial] = {&p, st.get()};
    const unsigned loop = current_loop_state()->index;
    rt_.loop_at(0).loop->post([self = shared_from_this(), id = st->id, token = st->token, loop,
                               serial = st->serial]() mutable {
        self->claim(std::move(id), std::move(token), loop, serial);
    });
}

void peerjs_service::claim(std::string id, std::string token, unsigned loop, std::uint64_t serial) {
    auto& reg = registry();
    auto it = reg.ids.find(id);
    const bool ok = it == reg.ids.end() || it->second.token == token;
    std::vector<std::string> queued;
    if (ok) {
        // Same token: the client reconnected; the newest socket holds the id.
        reg.ids[id] = {std::move(token), loop, serial};
        for (auto q = reg.queue.begin(); q != reg.queue.end();) {
            if (q->dst == id) {
                queued.push_back(std::move(q->json));
                q = reg.queue.erase(q);
            } else {
                ++q;
            }
        }
    }
    rt_.loop_at(loop).loop->post(
        [self = shared_from_this(), loop, serial, ok, queued = std::move(queued)]() mutable {
            self->claimed(loop, serial, ok, std::move(queued));
        });
}

void peerjs_service::claimed(unsigned, std::uint64_t serial, bool ok,
                             std::vector<std::string> queued) {
    auto& l = local();
    auto it = l.open.find(serial);
    if (it == l.open.end()) return;  // the socket left meanwhile (its release is posted)
    session::ws_peer& p = *it->second.peer;
    if (!ok) {
        p.send_text(server_message("ID-TAKEN", "ID is taken"));
        p.close(1000, "ID is taken");
        return;
    }
    it->second.state->claimed = true;
    p.send_text(server_message("OPEN"));
    for (const auto& m : queued) p.send_text(m);
}

void peerjs_service::on_close(const std::shared_ptr<peer_state>& st) {
    local().open.erase(st->serial);
    const unsigned loop = current_loop_state()->index;
    rt_.loop_at(0).loop->post([self = shared_from_this(), id = st->id, loop, serial = st->serial] {
        self->release(id, loop, serial);
    });
}

void peerjs_service::release(const std::string& id, unsigned loop, std::uint64_t serial) {
    auto& reg = registry();
    auto it = reg.ids.find(id);
    if (it != reg.ids.end() && it->second.loop == loop && it->second.serial == serial)
        reg.ids.erase(it);
}

void peerjs_service::on_message(const std::shared_ptr<peer_state>& st, session::ws_peer& p,
                                std::string_view text) {
    if (!st->claimed) return;  // before OPEN (or after ID-TAKEN): the id is not this socket's
    auto doc = json::document::parse(text, 32);
    const auto type = doc && doc->is_object() ? doc->get_string("type") : std::nullopt;
    if (!type) {
        p.send_text(server_message("ERROR", "Invalid message"));
        return;
    }
    if (*type == "HEARTBEAT") return;  // the frame itself kept the socket alive
    const bool relayed = *type == "OFFER" || *type == "ANSWER" || *type == "CANDIDATE" ||
                         *type == "LEAVE" || *type == "EXPIRE";
    if (!relayed) {
        p.send_text(server_message("ERROR", "Message unrecognized"));
        return;
    }
    const auto dst = doc->get_string("dst");
    if (!dst || !valid_id(*dst)) {
        if (*type == "LEAVE") p.close(1000, "LEAVE");  // peerjs-server drops the client
        return;
    }
    // peerjs-server's relay: the message as sent, with the server-set src.
    std::string j;
    json::writer w(j);
    w.begin_object().member("type", *type).member("src", st->id).member("dst", *dst);
    if (auto payload = doc->get_raw("payload")) w.key("payload").raw(*payload);
    w.end_object();
    const bool queue_if_absent = *type != "LEAVE" && *type != "EXPIRE";
    auto& shard = *current_loop_state()->shard;
    auto done = [self = shared_from_this(), dst = *dst, src = st->id, j,
                 queue_if_absent](result<hub::publish_ack, hub::publish_error> r) mutable {
        if (!r || r.value().reached != 0 || !queue_if_absent) return;
        self->rt_.loop_at(0).loop->post(
            [self, dst = std::move(dst), src = std::move(src), j = std::move(j)]() mutable {
                self->enqueue(std::move(dst), std::move(src), std::move(j));
            });
    };
    publish_server(shard, topic_of(*dst), std::move(j), std::move(done));
}

void peerjs_service::enqueue(std::string dst, std::string src, std::string json) {
    auto& reg = registry();
    auto& shard = *rt_.loop_at(0).shard;
    if (reg.ids.count(dst) != 0) {
        // The peer connected between the publish and now: send it again.
        publish_server(shard, topic_of(dst), std::move(json));
        return;
    }
    if (reg.queue.size() >= cfg_.peerjs_queue_max) {
        // The queue is full (webrtc.peerjs_queue_max): the sender learns now, not later.
        send_expire(shard, dst, src);
        return;
    }
    reg.queue.push_back({std::move(dst), std::move(src), std::move(json), now_ms()});
    if (!reg.timer_armed) {
        reg.timer_armed = true;
        rt_.loop_at(0).loop->add_timer(
            millis(std::max<std::uint64_t>(cfg_.peerjs_expire_ms / 4, 50)),
            [self = shared_from_this()] { self->expire_tick(); });
    }
}

void peerjs_service::send_expire(hub::hub_shard& shard, const std::string& absent,
                                 const std::string& sender) {
    // peerjs-server: EXPIRE to the sender, naming the absent peer as src.
    std::string j;
    json::writer(j)
        .begin_object()
        .member("type", "EXPIRE")
        .member("src", absent)
        .member("dst", sender)
        .end_object();
    publish_server(shard, topic_of(sender), std::move(j));
}

void peerjs_service::expire_tick() {
    auto& reg = registry();
    reg.timer_armed = false;
    const std::int64_t cutoff = now_ms() - static_cast<std::int64_t>(cfg_.peerjs_expire_ms);
    auto& shard = *rt_.loop_at(0).shard;
    while (!reg.queue.empty() && reg.queue.front().at_ms <= cutoff) {
        send_expire(shard, reg.queue.front().dst, reg.queue.front().src);
        reg.queue.pop_front();
    }
    if (!reg.queue.empty()) {
        reg.timer_armed = true;
        rt_.loop_at(0).loop->add_timer(
            millis(std::max<std::uint64_t>(cfg_.peerjs_expire_ms / 4, 50)),
            [self = shared_from_this()] { self->expire_tick(); });
    }
}

}  // namespace

void install_peerjs(app& a) {
    if (!a.config().webrtc.peerjs) return;
    // The service needs the runtime (loop 0, the config); made when the runtime is.
    auto holder = std::make_shared<std::shared_ptr<peerjs_service>>();
    a.on_runtime([holder](runtime& rt) {
        *holder = std::make_shared<peerjs_service>(rt, rt.config().webrtc);
    });
    auto& r = a.routes().handlers();
    r.get("/peerjs",
          [holder](http::request& req, http::response& res) { (*holder)->serve(req, res); });
    r.get("/" + a.config().webrtc.peerjs_key + "/id",
          [holder](http::request&, http::response& res) { (*holder)->serve_id(res); });
    r.get("/" + a.config().webrtc.peerjs_key + "/peers",
          [holder](http::request&, http::response& res) { (*holder)->serve_peers(res); });
}

}  // namespace sy::server
