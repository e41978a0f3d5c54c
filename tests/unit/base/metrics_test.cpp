#include "switchyard/base/metrics.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "switchyard/base/json.hpp"

namespace sy::metrics {
namespace {

void fill(registry& r, std::uint64_t& hits) {
    r.add_value({"t_requests_total", kind::counter, "Requests.", {}, false},
                [&hits] { return hits; });
    r.add_per_loop(
        {"t_opened_total", kind::counter, "Opened per loop.", {}, false},
        [] { return std::size_t{2}; }, [](std::size_t i) { return 10 * (i + 1); }, true);
    r.add_per_loop(
        {"t_closed_total", kind::counter, "Closed.", {}, false}, [] { return std::size_t{2}; },
        [](std::size_t i) { return i + 1; }, false);
    r.add({"t_queue", kind::gauge, "Queue \"depth\".", {"listener", "socket"}, false},
          [](emitter& e) {
              e.add({"127.0.0.1:80", "0"}, 3);
          });
    r.add({"t_lag_seconds", kind::gauge, "Lag.", {"loop"}, false},
          [](emitter& e) { e.add_seconds({"0"}, 0.0015); });
    r.add({"t_off_total", kind::counter, "A feature that is off.", {}, true}, [](emitter&) {});
    r.add({"t_empty_total", kind::counter, "Nothing yet, header kept.", {"code"}, false},
          [](emitter&) {});
}

// collect(): one family's samples now, without rendering the others.
TEST(metrics_registry, collects_one_family) {
    std::uint64_t hits = 7;
    registry r;
    fill(r, hits);
    std::vector<std::pair<std::string, std::uint64_t>> got;
    EXPECT_TRUE(r.collect("t_opened_total", [&](const std::vector<std::string>& l, value v) {
        got.emplace_back(l.empty() ? "" : l[0], v.n);
    }));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (std::pair<std::string, std::uint64_t>{"0", 10}));
    EXPECT_EQ(got[1], (std::pair<std::string, std::uint64_t>{"1", 20}));
    hits = 9;
    std::uint64_t n = 0;
    EXPECT_TRUE(r.collect("t_requests_total", [&](const auto&, value v) { n = v.n; }));
    EXPECT_EQ(n, 9u);
    EXPECT_FALSE(r.collect("t_missing", [](const auto&, value) { FAIL(); }));
}

TEST(metrics_registry, renders_prometheus_text) {
    std::uint64_t hits = 7;
    registry r;
    fill(r, hits);
    EXPECT_EQ(r.prometheus(),
              "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"
              "t_requests_total 7\n"
              "# HELP t_opened_total Opened per loop.\n# TYPE t_opened_total counter\n"
              "t_opened_total{loop=\"0\"} 10\nt_opened_total{loop=\"1\"} 20\n"
              "# HELP t_closed_total Closed.\n# TYPE t_closed_total counter\n"
              "t_closed_total 3\n"
              "# HELP t_queue Queue \"depth\".\n# TYPE t_queue gauge\n"
              "t_queue{listener=\"127.0.0.1:80\",socket=\"0\"} 3\n"
              "# HELP t_lag_seconds Lag.\n# TYPE t_lag_seconds gauge\n"
              "t_lag_seconds{loop=\"0\"} 0.001500\n"
              "# HELP t_empty_total Nothing yet, header kept.\n# TYPE t_empty_total counter\n");
    hits = 8;  // read at each render
    EXPECT_NE(r.prometheus().find("t_requests_total 8\n"), std::string::npos);
}

TEST(metrics_registry, renders_the_same_samples_as_json) {
    std::uint64_t hits = 7;
    registry r;
    fill(r, hits);
    const std::string j = r.json();
    EXPECT_TRUE(json::valid(j)) << j;
    EXPECT_EQ(j.find("t_off_total"), std::string::npos);
    EXPECT_NE(j.find("\"t_requests_total\":{\"type\":\"counter\",\"help\":\"Requests.\","
                     "\"samples\":[{\"labels\":{},\"value\":7}]}"),
              std::string::npos)
        << j;
    EXPECT_NE(j.find("\"t_opened_total\":{\"type\":\"counter\",\"help\":\"Opened per loop.\","
                     "\"samples\":[{\"labels\":{\"loop\":\"0\"},\"value\":10},"
                     "{\"labels\":{\"loop\":\"1\"},\"value\":20}]}"),
              std::string::npos)
        << j;
    EXPECT_NE(j.find("\"help\":\"Queue \\\"depth\\\".\""), std::string::npos) << j;
    EXPECT_NE(j.find("{\"labels\":{\"loop\":\"0\"},\"value\":0.0015}"), std::string::npos) << j;
    EXPECT_NE(j.find("\"t_empty_total\":{\"type\":\"counter\",\"help\":\"Nothing yet, header "
                     "kept.\",\"samples\":[]}"),
              std::string::npos)
        << j;
    auto d = json::document::parse(j);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->has("t_lag_seconds"));
}

TEST(metrics_registry, a_family_is_registered_once) {
    registry r;
    r.add_value({"t_x", kind::gauge, "X.", {}, false}, [] { return std::uint64_t{1}; });
    EXPECT_TRUE(r.contains("t_x"));
    EXPECT_THROW(
        r.add_value({"t_x", kind::gauge, "X.", {}, false}, [] { return std::uint64_t{1}; }),
        std::invalid_argument);
}

TEST(metrics_registry, label_values_are_escaped) {
    registry r;
    r.add({"t_l", kind::gauge, "L.", {"v"}, false}, [](emitter& e) { e.add({"a\"b\\c\nd"}, 1); });
    EXPECT_NE(r.prometheus().find("t_l{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

TEST(metrics_registry, refresh_runs_each_step_then_done) {
    registry r;
    std::string order;
    r.add_refresh([&order](std::function<void()> done) {
        order += 'a';
        done();
    });
    r.add_refresh([&order](std::function<void()> done) {
        order += 'b';
        done();
    });
    r.refresh([&order] { order += '!'; });
    EXPECT_EQ(order, "ab!");
    registry none;
    bool ran = false;
    none.refresh([&ran] { ran = true; });
    EXPECT_TRUE(ran);
}

// A per-object family: one unlabelled sum when aggregated, a sample per object otherwise; an
// untyped info family renders its type as Prometheus' "untyped".
TEST(metrics_registry, per_object_scope_and_untyped) {
    registry r;
    r.add({"t_queue_ready", kind::gauge, "Ready.", {"vhost", "queue"}, false}, [](emitter& e) {
        if (!e.per_object()) return e.add(5);
        e.add({"/", "a"}, 2);
        e.add({"/", "b"}, 3);
    });
    r.add({"t_info", kind::untyped, "Identity.", {"node"}, false},
          [](emitter& e) { e.add({"n@h"}, 1); });
    EXPECT_EQ(r.prometheus(),
              "# HELP t_queue_ready Ready.\n# TYPE t_queue_ready gauge\nt_queue_ready 5\n"
              "# HELP t_info Identity.\n# TYPE t_info untyped\nt_info{node=\"n@h\"} 1\n");
    const std::string per = r.prometheus(scope::per_object);
    EXPECT_NE(per.find("t_queue_ready{vhost=\"/\",queue=\"a\"} 2\n"
                       "t_queue_ready{vhost=\"/\",queue=\"b\"} 3\n"),
              std::string::npos)
        << per;
    EXPECT_EQ(per.find("t_queue_ready 5"), std::string::npos);
    const std::string j = r.json(scope::per_object);
    EXPECT_TRUE(json::valid(j)) << j;
    EXPECT_NE(j.find("{\"labels\":{\"vhost\":\"/\",\"queue\":\"b\"},\"value\":3}"),
              std::string::npos)
        << j;
    EXPECT_NE(r.json().find("\"type\":\"untyped\""), std::string::npos);
}

}  // namespace
}  // namespace sy::metrics
