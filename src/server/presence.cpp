// Presence (GET /sub/T?presence=NAME, GET /topics/T/presence) and a topic's figures across
// nodes (GET /topics/T): the server side of hub::presence_store and the backplane's
// redis_presence (docs/routes.md, docs/scaling.md). The stores live on loop 0; a request posts
// there and the answer is posted back to the request's loop, where its response lives.
#include <memory>

#include "gateway_internal.hpp"
#include "switchyard/backplane/backplane.hpp"
#include "switchyard/backplane/presence.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/hub/presence.hpp"
#include "switchyard/server/auth.hpp"

namespace sy::server {

namespace {

/// Loop 0: the backplane's store (every node), or this process's. The server's own topics
/// (sys.*, jobs.*) stay on their node, as their messages do.
hub::presence_store& store_of(runtime& rt, std::string_view topic) {
    backplane::backplane* bp = rt.backplane();
    if (bp && bp->presence() && !rt.hub().settings().reserved(topic)) return *bp->presence();
    return rt.loop_at(0).loop->emplace_slot<hub::local_presence>();
}

/// A response carried to loop 0 and back: only its own loop touches it or drops the last handle.
struct held_response {
    core::loop* home;
    std::shared_ptr<http::response> res;
    template <typename Fn>
    void answer(Fn fn) {
        home->post([res = std::move(res), fn = std::move(fn)]() mutable {
            if (!res->closed()) fn(*res);
        });
    }
};

}  // namespace

void presence_changed(runtime& rt, std::string topic, std::string name, bool joined) {
    rt.loop_at(0).loop->post([&rt, topic = std::move(topic), name = std::move(name), joined] {
        hub::presence_store& s = store_of(rt, topic);
        if (joined) {
            s.join(topic, name);
        } else {
            s.leave(topic, name);
        }
    });
}

void presence_handler(runtime& rt, http::request& req, http::response& res) {
    loop_state* ls = rt.current_loop();
    if (!ls) return res.send(503, "no loop on this thread\n");
    std::string topic(req.param("topic"));
    if (!hub::validate_topic(topic)) return res.send_json(400, "{\"error\":\"invalid topic\"}");
    if (!authorize(req, res, auth::action::subscribe, topic)) return;
    held_response h{ls->loop, std::make_shared<http::response>(res)};
    rt.loop_at(0).loop->post([&rt, topic = std::move(topic), h = std::move(h)]() mutable {
        store_of(rt, topic).members(
            topic,
            [topic, h = std::move(h)](std::optional<std::vector<std::string>> names) mutable {
                h.answer([topic, names = std::move(names)](http::response& r) {
                    if (!names) {
                        r.set_header("Retry-After", "1");
                        return r.send_json(503, "{\"error\":\"backplane unavailable\"}");
                    }
                    std::string out;
                    json::writer w(out);
                    w.begin_object().member("topic", topic).key("members").begin_array();
                    for (const std::string& n : *names) w.value(n);
                    w.end_array().end_object();
                    r.set_header("Cache-Control", "no-cache");
                    r.send_json(200, out);
                });
            });
    });
}

void cluster_figures(runtime& rt, const std::string& topic, http::response& res,
                     unique_function<void(http::response&, const backplane::topic_nodes*)> done) {
    loop_state* ls = rt.current_loop();
    held_response h{ls->loop, std::make_shared<http::response>(res)};
    rt.loop_at(0).loop->post([&rt, topic, h = std::move(h), done = std::move(done)]() mutable {
        backplane::redis_presence* p = rt.backplane()->presence();
        auto back = [h = std::move(h),
                     done = std::move(done)](std::optional<backplane::topic_nodes> t) mutable {
            h.answer([t = std::move(t), done = std::move(done)](http::response& r) mutable {
                done(r, t ? &*t : nullptr);
            });
        };
        if (!p) return back(std::nullopt);
        p->topic_figures(topic, std::move(back));
    });
}

}  // namespace sy::server
