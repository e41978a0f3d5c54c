#include "switchyard/http/router.hpp"

#include <gtest/gtest.h>

#include "fake_sink.hpp"

namespace sy::http {
namespace {

using testing::run;

handler tag(std::string name) {
    return [name](request& req, response& res) {
        std::string body = name;
        for (std::size_t i = 0; i < req.param_count(); ++i) {
            path_param p = req.param_at(i);
            body += " " + std::string(p.name) + "=" + std::string(p.value);
        }
        res.send(200, body);
    };
}

class RouterTest : public ::testing::Test {
  protected:
    void SetUp() override {
        r.get("/", tag("root"));
        r.get("/users", tag("users"));
        r.get("/users/", tag("users-slash"));
        r.get("/users/me", tag("me"));
        r.get("/users/:id", tag("user"));
        r.put("/users/:uid", tag("put-user"));
        r.get("/users/:id/posts/:post", tag("post"));
        r.get("/users/me/settings", tag("settings"));
        r.get("/files/*rest", tag("files"));
        r.get("/files/special", tag("special"));
        r.post("/a/:x/c", tag("axc"));
        r.get("/a/b/:y", tag("aby"));
        r.any("/any", tag("any"));
        r.head("/h", tag("head-only"));
        r.get("/h", tag("get-h"));
        r.options("/opt", tag("opt"));
    }
    std::string body(std::string_view m, std::string_view target) {
        auto x = run(r, m, target);
        return std::to_string(x->sink->head_status) + " " + x->sink->body;
    }
    router r;
};

TEST_F(RouterTest, ExactBeatsParamBeatsWildcard) {
    EXPECT_EQ(body("GET", "/"), "200 root");
    EXPECT_EQ(body("GET", "/users"), "200 users");
    EXPECT_EQ(body("GET", "/users/"), "200 users-slash");
    EXPECT_EQ(body("GET", "/users/me"), "200 me");
    EXPECT_EQ(body("GET", "/users/42"), "200 user id=42");
    EXPECT_EQ(body("GET", "/users/42/posts/7"), "200 post id=42 post=7");
    EXPECT_EQ(body("GET", "/users/me/settings"), "200 settings");
    EXPECT_EQ(body("GET", "/files/special"), "200 special");
    EXPECT_EQ(body("GET", "/files/a/b/c.txt"), "200 files rest=a/b/c.txt");
    EXPECT_EQ(body("GET", "/files/"), "200 files rest=");
    EXPECT_EQ(body("GET", "/files"), "200 files rest=");
}

TEST_F(RouterTest, BacktracksToParamWhenExactBranchDeadEnds) {
    // "/users/me" exists, but "/users/me/posts/1" only exists through ":id".
    EXPECT_EQ(body("GET", "/users/me/posts/1"), "200 post id=me post=1");
    // "/a/b/c": GET only via "/a/b/:y"; POST only via "/a/:x/c".
    EXPECT_EQ(body("GET", "/a/b/c"), "200 aby y=c");
    EXPECT_EQ(body("POST", "/a/b/c"), "200 axc x=b");
}

TEST_F(RouterTest, ParamsAreDecodedAndPerMethodNamed) {
    EXPECT_EQ(body("GET", "/users/j%20doe"), "200 user id=j doe");
    EXPECT_EQ(body("PUT", "/users/5"), "200 put-user uid=5");
    EXPECT_EQ(body("GET", "/users/a/../b"), "200 user id=b");
}

TEST_F(RouterTest, NotFound) {
    EXPECT_EQ(body("GET", "/nope"), "404 Not Found\n");
    EXPECT_EQ(body("GET", "/users/1/posts"), "404 Not Found\n");
    EXPECT_EQ(body("GET", "/users//"), "200 users-slash");  // normalised "//"
    router custom;
    custom.set_not_found([](request&, response& res) { res.send(404, "custom"); });
    EXPECT_EQ(run(custom, "GET", "/x")->sink->body, "custom");
}

TEST_F(RouterTest, MethodNotAllowedWithAllow) {
    auto x = run(r, "DELETE", "/users/7");
    EXPECT_EQ(x->sink->head_status, 405);
    EXPECT_EQ(x->sink->header("allow"), "GET, HEAD, PUT, OPTIONS");
    auto y = run(r, "POST", "/users");
    EXPECT_EQ(y->sink->head_status, 405);
    EXPECT_EQ(y->sink->header("allow"), "GET, HEAD, OPTIONS");
    // The path matched two terminals ("/users/me" exact, "/users/:id" param): union of both.
    auto z = run(r, "POST", "/users/me");
    EXPECT_EQ(z->sink->header("allow"), "GET, HEAD, PUT, OPTIONS");
}

TEST_F(RouterTest, HeadFallsBackToGetUnlessHeadRouted) {
    EXPECT_EQ(body("HEAD", "/users/3"), "200 user id=3");
    EXPECT_EQ(body("HEAD", "/h"), "200 head-only");
    EXPECT_EQ(body("GET", "/h"), "200 get-h");
}

TEST_F(RouterTest, AnyMatchesEveryMethod) {
    EXPECT_EQ(body("GET", "/any"), "200 any");
    EXPECT_EQ(body("PATCH", "/any"), "200 any");
    EXPECT_EQ(body("PROPFIND", "/any"), "200 any");
    EXPECT_EQ(run(r, "PROPFIND", "/users")->sink->head_status, 405);
}

TEST_F(RouterTest, OptionsDefault) {
    auto x = run(r, "OPTIONS", "/users/1");
    EXPECT_EQ(x->sink->head_status, 204);
    EXPECT_EQ(x->sink->header("allow"), "GET, HEAD, PUT, OPTIONS");
    EXPECT_EQ(body("OPTIONS", "/opt"), "200 opt");
    EXPECT_EQ(run(r, "OPTIONS", "/missing")->sink->head_status, 404);
    auto star = run(r, "OPTIONS", "*");
    EXPECT_EQ(star->sink->head_status, 204);
    EXPECT_EQ(star->sink->header("allow"),
              "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE");
}

TEST(Router, BadPatternsThrow) {
    router r;
    r.get("/x/:id", tag("x"));
    EXPECT_THROW(r.get("/x/:other", tag("dup")), std::invalid_argument);
    EXPECT_THROW(r.get("nope", tag("x")), std::invalid_argument);
    EXPECT_THROW(r.get("/a/*rest/b", tag("x")), std::invalid_argument);
    EXPECT_THROW(r.get("/a/:", tag("x")), std::invalid_argument);
    EXPECT_THROW(r.add(method::other, "/a", tag("x")), std::invalid_argument);
    EXPECT_NO_THROW(r.post("/x/:other", tag("ok")));
}

TEST(Router, MatchOutcomeWithoutDispatch) {
    router r;
    r.get("/t/:a/:b", tag("t"));
    request req;
    req.set_method("GET");
    ASSERT_TRUE(req.set_target("/t/1/2").has_value());
    auto m = r.match(req);
    EXPECT_EQ(m.kind, router::outcome::found);
    EXPECT_EQ(req.param("a"), "1");
    EXPECT_EQ(req.param("b"), "2");
    EXPECT_EQ(req.param("c"), "");
    auto m2 = r.match(req);  // params replaced, not appended
    EXPECT_EQ(m2.kind, router::outcome::found);
    EXPECT_EQ(req.param_count(), 2u);
}

TEST(RouterFilters, RunInOrderBeforeRoutesAndMayAnswer) {
    router r;
    r.get("/x", tag("route"));
    std::string trace;
    // Added out of order: lower `order` runs first, equal orders in the order added.
    r.add_filter(router::filter_order::route_table, [&](request&, response&) {
        trace += "table ";
        return false;
    });
    r.add_filter(router::filter_order::identity, [&](request& req, response& res) {
        trace += "identity ";
        if (req.path() != "/deny") return false;
        res.send(401, "no");
        return true;
    });
    r.add_filter(router::filter_order::limits, [&](request&, response&) {
        trace += "limits ";
        return false;
    });
    EXPECT_EQ(run(r, "GET", "/x")->sink->body, "route");
    EXPECT_EQ(trace, "limits identity table ");
    trace.clear();
    auto denied = run(r, "GET", "/deny");
    EXPECT_EQ(denied->sink->head_status, 401);
    EXPECT_EQ(trace, "limits identity ");  // an answer stops the later steps and the routes
}

}  // namespace
}  // namespace sy::http
