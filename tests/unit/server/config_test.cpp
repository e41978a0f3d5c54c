#include "switchyard/server/config.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sy::server {
namespace {

TEST(config, toml_sets_nested_keys) {
    server_config c;
    apply_toml(c, R"(
listen = ["127.0.0.1:0", "[::1]:0"]
model = "acceptor"
workers = 3
pin = true
[limits]
max_body = 1024
[hub]
slow_policy = "disconnect"
)",
               "t.toml");
    EXPECT_EQ(c.listen.size(), 2u);
    EXPECT_EQ(c.model, execution_model::acceptor);
    EXPECT_EQ(c.workers, 3u);
    EXPECT_TRUE(c.pin);
    EXPECT_EQ(c.limits.max_body, 1024u);
    EXPECT_EQ(c.hub.slow_policy, "disconnect");
}

TEST(config, unknown_key_names_the_line) {
    server_config c;
    try {
        apply_toml(c, "workers = 1\n\nbogus = 2\n", "x.toml");
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("x.toml:3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
    }
}

TEST(config, unknown_section_and_bad_types) {
    server_config c;
    EXPECT_THROW(apply_toml(c, "[nope]\nx = 1\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "workers = \"two\"\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "workers = -1\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "model = \"threads\"\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "pin = 3\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "listen = [\n", "a"), config_error);
}

TEST(config, flags_override_file_and_every_key_has_a_flag) {
    server_config c;
    std::vector<std::string> args{
        "switchyard", "--listen",   "127.0.0.1:0", "--listen", "127.0.0.1:1",         "--model",
        "single",     "--max-body", "77",          "--pin",    "--hub-history-count", "5"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int code = -1;
    ASSERT_TRUE(parse_command_line(c, static_cast<int>(argv.size()), argv.data(), code));
    EXPECT_EQ(c.listen, (std::vector<std::string>{"127.0.0.1:0", "127.0.0.1:1"}));
    EXPECT_EQ(c.model, execution_model::single);
    EXPECT_EQ(c.limits.max_body, 77u);
    EXPECT_TRUE(c.pin);
    EXPECT_EQ(c.hub.history_count, 5u);
    EXPECT_NE(describe_options({}, server_config{}).find("--tls-cert"), std::string::npos);
}

TEST(config, bad_flag_value_fails) {
    server_config c;
    std::vector<std::string> args{"switchyard", "--workers", "many"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int code = 0;
    EXPECT_THROW(parse_command_line(c, static_cast<int>(argv.size()), argv.data(), code),
                 config_error);
}

TEST(config, every_error_of_a_file_in_line_order) {
    server_config c;
    try {
        apply_toml(c, "workers = \"two\"\n[limits]\nmax_bdy = 1\n[nope]\nx = 1\n", "f.toml");
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        const std::string w = e.what();
        const auto a = w.find("f.toml:1: workers");
        const auto b = w.find(
            "f.toml:3: unknown key 'limits.max_bdy' (did you mean "
            "limits.max_body?)");
        const auto d = w.find("f.toml:4: unknown section [nope]");
        ASSERT_NE(a, std::string::npos) << w;
        ASSERT_NE(b, std::string::npos) << w;
        ASSERT_NE(d, std::string::npos) << w;
        EXPECT_LT(a, b);
        EXPECT_LT(b, d);
    }
}

TEST(config, string_choices_are_checked) {
    server_config c;
    EXPECT_THROW(apply_toml(c, "log_level = \"loud\"\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "[amqp]\nfsync = \"sometimes\"\n", "a"), config_error);
    EXPECT_THROW(apply_toml(c, "[hub]\nslow_policy = \"wait\"\n", "a"), config_error);
    apply_toml(c, "log_level = \"warn\"\n", "a");
    EXPECT_EQ(c.log_level, "warn");
}

TEST(config, unknown_flag_suggests_the_closest) {
    server_config c;
    std::vector<std::string> args{"switchyard", "--listn", "127.0.0.1:0", "--zzzzzzzz"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int code = 0;
    try {
        parse_command_line(c, static_cast<int>(argv.size()), argv.data(), code);
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find("unknown flag '--listn' (did you mean --listen?)"), std::string::npos)
            << w;
        EXPECT_TRUE(w.ends_with("unknown flag '--zzzzzzzz'")) << w;  // nothing close: no guess
    }
}

TEST(config, routes_tables_are_read_with_their_lines) {
    server_config c;
    apply_toml(c, R"(
[[routes]]
path = "/rooms/:id"
websocket = "room.:id"
sse = "room.:id"
publish = true
history = 10
resume = false
slow_policy = "disconnect"
framing = "envelope"
origins = ["https://a.example"]
[[routes]]
path = "/stream"
sse = "clock"
)",
               "r.toml");
    ASSERT_EQ(c.routes.size(), 2u);
    const route_config& r = c.routes[0];
    EXPECT_EQ(r.path, "/rooms/:id");
    EXPECT_EQ(r.websocket, "room.:id");
    EXPECT_TRUE(r.publish);
    EXPECT_FALSE(r.publish_post);
    EXPECT_EQ(r.history, 10u);
    EXPECT_FALSE(r.resume);
    EXPECT_EQ(r.slow_policy, "disconnect");
    EXPECT_EQ(r.framing, "envelope");
    EXPECT_EQ(r.origins, std::vector<std::string>{"https://a.example"});
    EXPECT_EQ(r.line, 2u);
    EXPECT_EQ(c.routes[1].line, 12u);
    EXPECT_EQ(routes_from_toml("workers = 2\n[[routes]]\npath = \"/\"\nsse = \"x\"\n", "f").size(),
              1u);
}

TEST(config, bad_routes_name_their_lines) {
    server_config c;
    try {
        apply_toml(c,
                   "[[routes]]\npath = \"/a\"\nsse = 3\nframing = \"xml\"\nwat = 1\n"
                   "[[routes]]\npath = \"b\"\n",
                   "r.toml");
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find("r.toml:3: routes.sse: expected a string"), std::string::npos) << w;
        EXPECT_NE(w.find("r.toml:4: routes.framing: unknown value 'xml'"), std::string::npos) << w;
        EXPECT_NE(w.find("r.toml:5: unknown key 'routes.wat'"), std::string::npos) << w;
        EXPECT_NE(w.find("r.toml:6: routes: path 'b' must start with '/'"), std::string::npos) << w;
    }
}

}  // namespace
}  // namespace sy::server
