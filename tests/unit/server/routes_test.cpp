// The route table's path side: topic templates over http::router's parameters (server/routes.hpp)
// and the router front the table stands in (http::router::add_filter).
#include "switchyard/server/routes.hpp"

#include <gtest/gtest.h>

#include "../http/fake_sink.hpp"

namespace sy::server {
namespace {

using http::testing::run;

/// The topic template t names for GET target through a router holding pattern.
std::string topic_of(std::string_view pattern, std::string_view t, std::string_view target) {
    http::router r;
    std::string tmpl(t);
    r.get(pattern, [tmpl](http::request& req, http::response& res) {
        res.send(200, "[" + expand_topic(tmpl, req) + "]");
    });
    auto x = run(r, "GET", target);
    return x->sink->head_status == 200 ? x->sink->body : "no match";
}

TEST(routes, templates_take_the_path_parameters) {
    EXPECT_EQ(topic_of("/rooms/:id", "room.:id", "/rooms/7"), "[room.7]");
    EXPECT_EQ(topic_of("/a/:x/b/:y", "t.:y.:x", "/a/1/b/2"), "[t.2.1]");
    EXPECT_EQ(topic_of("/", "chat.main", "/"), "[chat.main]");
    // A trailing wildcard's slashes become topic levels.
    EXPECT_EQ(topic_of("/files/*rest", "files.:rest", "/files/a/b"), "[files.a.b]");
    // A value is never a wildcard inside a template (no way to subscribe to every room)...
    EXPECT_EQ(topic_of("/rooms/:id", "room.:id", "/rooms/%2A"), "[]");
    EXPECT_EQ(topic_of("/rooms/:id", "room.:id", "/rooms/%3E"), "[]");
    // ... but a template that is one parameter takes a pattern (GET /sub/{pattern}).
    EXPECT_EQ(topic_of("/sub/:topic", ":topic", "/sub/news.*"), "[news.*]");
    EXPECT_EQ(topic_of("/rooms/:id", "room.:id", "/rooms/"), "no match");
}

TEST(routes, template_patterns_cover_every_topic_a_template_names) {
    EXPECT_EQ(template_pattern("room.:id"), "room.*");
    EXPECT_EQ(template_pattern("a.:x.b.:y"), "a.*.b.*");
    EXPECT_EQ(template_pattern(":topic"), ">");
    EXPECT_EQ(template_pattern("clock"), "clock");
}

TEST(routes, policy_rules_only_for_routes_that_set_one) {
    route_config plain;
    plain.path = "/a";
    plain.sse = "a";
    route_config rooms;
    rooms.path = "/rooms/:id";
    rooms.websocket = "room.:id";
    rooms.sse = "room.:id";
    rooms.history = 5;
    rooms.slow_policy = "disconnect";
    const auto rules = route_topic_rules({plain, rooms});
    ASSERT_EQ(rules.size(), 2u);  // one per transport topic of the route that has a policy
    EXPECT_EQ(rules[0].pattern, "room.*");
    EXPECT_EQ(rules[0].history_count, 5u);
    EXPECT_EQ(rules[0].slow, hub::slow_policy::disconnect);
}

TEST(routes, the_front_answers_first_or_hands_on) {
    http::router r;
    r.get("/", [](http::request&, http::response& res) { res.send(200, "static"); });
    r.add_filter(http::router::filter_order::route_table,
                 [](http::request& req, http::response& res) {
                     if (req.path() != "/") return false;
                     res.send(200, "route");
                     return true;
                 });
    EXPECT_EQ(run(r, "GET", "/")->sink->body, "route");
    EXPECT_EQ(run(r, "GET", "/x")->sink->head_status, 404);
}

}  // namespace
}  // namespace sy::server
