// rpc::service / rpc::call over a recording response_sink: framing, trailers, Trailers-Only,
// status mapping, gzip, deadlines, cancellation, every method kind.
#include <grpc/health/v1/health.pb.h>
#include <gtest/gtest.h>
#include <todo.pb.h>

#include <memory>
#include <string>
#include <vector>

#include "switchyard/core/loop.hpp"
#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/rpc/health.hpp"
#include "switchyard/rpc/service.hpp"

namespace sy::grpc {
using namespace ::sy::rpc;  // the typed API under test; the codec names stay sy::grpc
namespace {

using todoPackage::TodoItem;
using todoPackage::TodoItems;
using todoPackage::voidNoParam;

// Records everything the session would put on the wire, trailers included.
class sink : public http::response_sink {
  public:
    int head_status = 0;
    http::header_map head;
    std::optional<std::uint64_t> head_length;
    std::string body;
    http::header_map trailers;
    bool ended = false, was_reset = false, watermark = false;
    std::size_t queued = 0;

    void client_left() { notify_abort(); }
    void drained() { notify_drain(); }

  private:
    void do_begin(http::response_head& h) override {
        head_status = h.status;
        for (auto f : h.headers) head.add(f.name, f.value);
        head_length = h.content_length;
    }
    http::write_status do_write(byte_view b) override {
        body.append(as_string_view(b));
        return watermark ? http::write_status::above_high_watermark : http::write_status::ok;
    }
    http::write_status do_write(shared_bytes b) override {
        body.append(b.view());
        return http::write_status::ok;
    }
    http::write_status do_send_file(http::file_body) override { return http::write_status::ok; }
    void do_end(const http::header_map* t) override {
        ended = true;
        if (t)
            for (auto f : *t) trailers.add(f.name, f.value);
    }
    void do_reset() override { was_reset = true; }
    bool do_above_high_watermark() const override { return watermark; }
    std::size_t do_queued_bytes() const override { return queued; }
};

std::string frame(const std::string& payload, compression c = compression::identity) {
    byte_buffer out;
    auto r = encode(as_bytes(payload), out, c);
    EXPECT_TRUE(r.has_value());
    return std::string(as_string_view(out.readable()));
}

template <typename M>
std::string frame_msg(const M& m, compression c = compression::identity) {
    return frame(m.SerializeAsString(), c);
}

// Splits a response body into messages (asserting well-formed framing).
std::vector<std::string> messages(const std::string& body) {
    decoder dec({.encoding = compression::gzip});
    std::vector<std::string> out;
    byte_view in = as_bytes(body);
    while (!in.empty()) {
        message m;
        auto r = dec.feed(in, m);
        in = in.subspan(r.consumed);
        EXPECT_NE(r.out, outcome::error);
        if (r.out != outcome::complete) break;
        out.emplace_back(as_string_view(m.payload));
    }
    EXPECT_EQ(dec.offset(), 0u) << "partial message at the end";
    return out;
}

struct exchange {
    http::request req;
    std::shared_ptr<sink> s = std::make_shared<sink>();
    std::string grpc_status() const {
        if (auto v = s->trailers.get("grpc-status")) return std::string(*v);
        if (auto v = s->head.get("grpc-status")) return std::string(*v);  // Trailers-Only
        return "<none>";
    }
    bool trailers_only() const { return s->head.contains("grpc-status"); }
};

class rpc_test : public ::testing::Test {
  protected:
    void SetUp() override {
        lp.run_once(0);  // binds the loop to this thread (deadline timers)
        service s("todoPackage.Todo");
        s.unary<TodoItem, TodoItem>(
            "createTodo", [this](const TodoItem& in, context&) -> rpc::result<TodoItem> {
                if (in.text().empty()) return fail(status_code::invalid_argument, "empty text");
                TodoItem out = in;
                out.set_id(++next_id);
                todos.push_back(out);
                return out;
            });
        s.unary<voidNoParam, TodoItems>(
            "readTodos", [this](const voidNoParam&, context&) -> rpc::result<TodoItems> {
                TodoItems all;
                for (auto& t : todos) *all.add_items() = t;
                return all;
            });
        s.server_stream<voidNoParam, TodoItem>("readTodosStream",
                                               [this](const voidNoParam&, writer<TodoItem>& w) {
                                                   for (auto& t : todos) w.write(t);
                                               });
        s.server_stream<voidNoParam, TodoItem>("forever",
                                               [this](const voidNoParam&, writer<TodoItem>& w) {
                                                   held.push_back(w);
                                                   w.on_cancel([this] { ++cancels; });
                                               });
        s.unary_async<TodoItem, TodoItem>(
            "later",
            [this](const TodoItem&, unary_reply<TodoItem> reply) { replies.push_back(reply); });
        s.client_stream<TodoItem, TodoItems>("collect", [](stream<TodoItem, TodoItems>& st) {
            auto all = std::make_shared<TodoItems>();
            st.on_message([all](const TodoItem& t) { *all->add_items() = t; });
            st.on_end([st, all]() mutable {
                st.write(*all);
                st.finish();
            });
        });
        s.bidi<TodoItem, TodoItem>("echo", [](stream<TodoItem, TodoItem>& st) {
            st.on_message([st](const TodoItem& t) mutable {
                if (t.text() == "stop") {
                    st.finish({status_code::aborted, "stopped"});
                    return;
                }
                st.write(t);
            });
        });
        add_compression_and_timer_methods(s);
        s.install(r);
        health_.set("todoPackage.Todo", serving_status::serving);
        health_.install(r);
    }

    // Per-call response compression, the request's compressed flag, call timers.
    void add_compression_and_timer_methods(service& s) {
        s.unary<TodoItem, TodoItem>(
            "compress", [this](const TodoItem& in, context& ctx) -> rpc::result<TodoItem> {
                compressed_seen.push_back(ctx.message_compressed());
                gzip_taken = ctx.set_response_encoding(in.id() == 1 ? compression::gzip
                                                                    : compression::identity);
                TodoItem out;
                out.set_text(std::string(2000, 'z'));
                return out;
            });
        s.server_stream<voidNoParam, TodoItem>("mixed",
                                               [](const voidNoParam&, writer<TodoItem>& w) {
                                                   w.ctx().set_response_encoding(compression::gzip);
                                                   TodoItem t;
                                                   t.set_text(std::string(2000, 'm'));
                                                   w.write(t);
                                                   w.write(t, {.no_compression = true});
                                               });
        // Three messages 2, 4 and 6 ms after the call, from call timers holding writer copies.
        s.server_stream<voidNoParam, TodoItem>(
            "paced", [this](const voidNoParam&, writer<TodoItem>& w) {
                for (int i = 1; i <= 3; ++i) {
                    scheduled +=
                        w.ctx().schedule(std::chrono::microseconds(2000 * i), [w, i]() mutable {
                            TodoItem t;
                            t.set_id(i);
                            w.write(t);
                            if (i == 3) w.finish();
                        });
                }
            });
    }

    std::unique_ptr<exchange> start(std::string_view path,
                                    std::vector<std::pair<std::string, std::string>> headers = {
                                        {"content-type", "application/grpc"}}) {
        auto x = std::make_unique<exchange>();
        x->req.set_method("POST");
        EXPECT_TRUE(x->req.set_target(path).has_value());
        for (auto& [n, v] : headers) x->req.add_header(n, v);
        x->req.set_streaming_body();
        http::response res(x->s);
        r.dispatch(x->req, res);
        return x;
    }
    // Whole body in one chunk, split at every byte, or one byte at a time: chunk = 0 / n / 1.
    std::unique_ptr<exchange> call_with(std::string_view path, const std::string& body,
                                        std::size_t chunk = 0,
                                        std::vector<std::pair<std::string, std::string>> headers = {
                                            {"content-type", "application/grpc"}}) {
        auto x = start(path, std::move(headers));
        if (chunk == 0) chunk = body.size() ? body.size() : 1;
        for (std::size_t i = 0; i < body.size(); i += chunk)
            x->req.deliver_body_chunk(as_bytes(std::string_view(body).substr(i, chunk)));
        x->req.deliver_body_end();
        return x;
    }

    core::loop lp;
    http::router r;
    health health_;
    std::vector<TodoItem> todos;
    int next_id = 0;
    std::vector<writer<TodoItem>> held;
    std::vector<unary_reply<TodoItem>> replies;
    int cancels = 0;
    std::vector<bool> compressed_seen;
    bool gzip_taken = false;
    int scheduled = 0;
};

TodoItem item(int id, std::string text) {
    TodoItem t;
    t.set_id(id);
    t.set_text(std::move(text));
    return t;
}

TEST_F(rpc_test, unary_round_trip_whole_split_and_bytewise) {
    std::string body = frame_msg(item(0, "buy milk"));
    for (std::size_t chunk :
         {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{6}}) {
        auto x = call_with("/todoPackage.Todo/createTodo", body, chunk);
        EXPECT_EQ(x->s->head_status, 200);
        EXPECT_EQ(x->s->head.get("content-type").value_or(""), "application/grpc");
        EXPECT_TRUE(x->s->ended);
        EXPECT_FALSE(x->trailers_only());
        EXPECT_EQ(x->grpc_status(), "0");
        auto msgs = messages(x->s->body);
        ASSERT_EQ(msgs.size(), 1u);
        TodoItem out;
        ASSERT_TRUE(out.ParseFromString(msgs[0]));
        EXPECT_EQ(out.text(), "buy milk");
        EXPECT_EQ(out.id(), next_id);
    }
    // Split at every byte into two feeds.
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        auto x = start("/todoPackage.Todo/createTodo");
        x->req.deliver_body_chunk(as_bytes(std::string_view(body).substr(0, cut)));
        x->req.deliver_body_chunk(as_bytes(std::string_view(body).substr(cut)));
        x->req.deliver_body_end();
        EXPECT_EQ(x->grpc_status(), "0") << cut;
        EXPECT_EQ(messages(x->s->body).size(), 1u);
    }
}

TEST_F(rpc_test, handler_error_is_trailers_only_with_message) {
    auto x = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "")));
    EXPECT_EQ(x->s->head_status, 200);
    EXPECT_TRUE(x->trailers_only());
    EXPECT_EQ(x->grpc_status(), "3");
    EXPECT_EQ(x->s->head.get("grpc-message").value_or(""), "empty text");
    EXPECT_EQ(x->s->head_length, 0u);
    EXPECT_TRUE(x->s->body.empty());
}

TEST_F(rpc_test, unary_and_stream_of_stored_items) {
    call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")));
    call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "b")));
    auto all = call_with("/todoPackage.Todo/readTodos", frame_msg(voidNoParam{}));
    auto msgs = messages(all->s->body);
    ASSERT_EQ(msgs.size(), 1u);
    TodoItems items;
    ASSERT_TRUE(items.ParseFromString(msgs[0]));
    EXPECT_EQ(items.items_size(), 2);

    auto st = call_with("/todoPackage.Todo/readTodosStream", frame_msg(voidNoParam{}));
    msgs = messages(st->s->body);
    ASSERT_EQ(msgs.size(), 2u);
    TodoItem second;
    ASSERT_TRUE(second.ParseFromString(msgs[1]));
    EXPECT_EQ(second.text(), "b");
    EXPECT_EQ(st->grpc_status(), "0");
    EXPECT_FALSE(st->trailers_only());
}

TEST_F(rpc_test, empty_stream_is_ok_trailers_only) {
    auto st = call_with("/todoPackage.Todo/readTodosStream", frame_msg(voidNoParam{}));
    EXPECT_TRUE(st->trailers_only());
    EXPECT_EQ(st->grpc_status(), "0");
}

TEST_F(rpc_test, empty_message_payload_is_a_valid_request) {
    // voidNoParam serializes to zero bytes: the frame is just the 5-byte prefix.
    auto x = call_with("/todoPackage.Todo/readTodos", std::string("\0\0\0\0\0", 5), 1);
    EXPECT_EQ(x->grpc_status(), "0");
    EXPECT_EQ(messages(x->s->body).size(), 1u);
}

TEST_F(rpc_test, unknown_method_and_service_are_unimplemented_http_200) {
    for (std::string_view path : {"/todoPackage.Todo/deleteTodo", "/no.Such/Thing"}) {
        auto x = call_with(path, frame_msg(voidNoParam{}));
        EXPECT_EQ(x->s->head_status, 200) << path;
        EXPECT_TRUE(x->trailers_only()) << path;
        EXPECT_EQ(x->grpc_status(), "12") << path;
    }
    // Not gRPC: plain 404.
    auto x = call_with("/no.Such/Thing", "x", 0, {{"content-type", "text/plain"}});
    EXPECT_EQ(x->s->head_status, 404);
}

TEST_F(rpc_test, content_type_checks) {
    auto x = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")), 0,
                       {{"content-type", "application/json"}});
    EXPECT_EQ(x->s->head_status, 415);
    auto y = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")), 0,
                       {{"content-type", "application/grpc+json"}});
    EXPECT_EQ(y->s->head_status, 200);
    EXPECT_EQ(y->grpc_status(), "12");
    auto z = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")), 0,
                       {{"content-type", "application/grpc+proto"}});
    EXPECT_EQ(z->grpc_status(), "0");
}

TEST_F(rpc_test, request_count_errors) {
    auto none = call_with("/todoPackage.Todo/createTodo", "");
    EXPECT_EQ(none->grpc_status(), "13");
    auto two = call_with("/todoPackage.Todo/createTodo",
                         frame_msg(item(0, "a")) + frame_msg(item(0, "b")));
    EXPECT_EQ(two->grpc_status(), "13");
    EXPECT_TRUE(todos.empty());
    auto cut = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "abc")).substr(0, 7));
    EXPECT_EQ(cut->grpc_status(), "13");
    auto garbage = call_with("/todoPackage.Todo/createTodo", frame("\xff\xff\xff"));
    EXPECT_EQ(garbage->grpc_status(), "13");
    EXPECT_EQ(garbage->s->head.get("grpc-message").value_or(""),
              "cannot parse the request message");
}

// A declared field with a wire type it cannot have (int32 id sent length-delimited): protobuf
// would keep it as an unknown field under number 1; stored and served, it breaks every reader.
const std::string k_id_as_bytes = std::string(
    "\x0a\x03"
    "abc"
    "\x12\x01"
    "x");
// text "ok" plus fields the type does not declare (3: varint, 4: bytes, 5: fixed32). No NULs.
const std::string k_with_unknown = std::string(
    "\x12\x02"
    "ok"
    "\x18\x05"
    "\x22\x01"
    "z"
    "\x2d\x01\x02\x03\x04");

TEST_F(rpc_test, a_declared_field_with_another_wire_type_is_a_parse_failure) {
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}}) {
        auto x = call_with("/todoPackage.Todo/createTodo", frame(k_id_as_bytes), chunk);
        EXPECT_EQ(x->grpc_status(), "13");
        EXPECT_EQ(x->s->head.get("grpc-message").value_or(""), "cannot parse the request message");
    }
    EXPECT_TRUE(todos.empty());  // the handler never ran
    // The streaming path parses the same way.
    auto e = start("/todoPackage.Todo/echo");
    e->req.deliver_body_chunk(as_bytes(frame_msg(item(1, "fine")) + frame(k_id_as_bytes)));
    EXPECT_TRUE(e->s->ended);
    EXPECT_EQ(e->grpc_status(), "13");
    EXPECT_EQ(messages(e->s->body).size(), 1u);
}

TEST_F(rpc_test, unknown_fields_never_reach_a_handler) {
    auto x = call_with("/todoPackage.Todo/createTodo", frame(k_with_unknown));
    EXPECT_EQ(x->grpc_status(), "0");
    ASSERT_EQ(todos.size(), 1u);
    EXPECT_EQ(todos[0].text(), "ok");
    EXPECT_TRUE(todos[0].GetReflection()->GetUnknownFields(todos[0]).empty());
    auto all = call_with("/todoPackage.Todo/readTodos", frame_msg(voidNoParam{}));
    auto msgs = messages(all->s->body);
    ASSERT_EQ(msgs.size(), 1u);
    TodoItems canonical;
    *canonical.add_items() = item(1, "ok");
    EXPECT_EQ(msgs[0], canonical.SerializeAsString());
}

TEST(declared_fields, nested_messages_are_checked_and_cleaned) {
    auto nest = [](const std::string& inner) {
        return std::string("\x0a") + static_cast<char>(inner.size()) + inner;  // items = 1
    };
    TodoItems bad;
    ASSERT_TRUE(bad.ParseFromString(nest(k_id_as_bytes)));  // protobuf itself accepts it
    EXPECT_FALSE(only_declared_fields(bad));
    TodoItems unknown;
    ASSERT_TRUE(unknown.ParseFromString(nest(k_with_unknown) + "\x10\x01"));  // + top-level 2
    ASSERT_TRUE(only_declared_fields(unknown));
    ASSERT_EQ(unknown.items_size(), 1);
    EXPECT_EQ(unknown.items(0).text(), "ok");
    EXPECT_EQ(unknown.SerializeAsString(), nest("\x12\x02"
                                                "ok"));
}

TEST_F(rpc_test, codec_errors_map_through_the_one_table) {
    // Compressed flag without grpc-encoding -> INTERNAL; bad flag byte -> INTERNAL.
    std::string body = frame_msg(item(0, "a"));
    body[0] = 1;
    auto x = call_with("/todoPackage.Todo/createTodo", body);
    EXPECT_EQ(x->grpc_status(),
              std::string(status_text(status_for(error::compressed_without_encoding))));
    body[0] = 7;
    auto y = call_with("/todoPackage.Todo/createTodo", body);
    EXPECT_EQ(y->grpc_status(), std::string(status_text(status_for(error::bad_compressed_flag))));
    // Declared length over the limit: RESOURCE_EXHAUSTED before any payload is buffered.
    std::string huge("\0\x7f\xff\xff\xff", 5);
    auto z = call_with("/todoPackage.Todo/createTodo", huge);
    EXPECT_EQ(z->grpc_status(), "8");
}

TEST_F(rpc_test, gzip_request_gets_gzip_response) {
    std::string text(2000, 'x');
    auto x =
        call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, text), compression::gzip), 3,
                  {{"content-type", "application/grpc"},
                   {"grpc-encoding", "gzip"},
                   {"grpc-accept-encoding", "identity,deflate,gzip"}});
    EXPECT_EQ(x->grpc_status(), "0");
    EXPECT_EQ(x->s->head.get("grpc-encoding").value_or(""), "gzip");
    ASSERT_GT(x->s->body.size(), 5u);
    EXPECT_EQ(x->s->body[0], 1) << "compressed flag";
    EXPECT_LT(x->s->body.size(), 200u);
    auto msgs = messages(x->s->body);
    ASSERT_EQ(msgs.size(), 1u);
    TodoItem out;
    ASSERT_TRUE(out.ParseFromString(msgs[0]));
    EXPECT_EQ(out.text(), text);
}

TEST_F(rpc_test, handler_chooses_gzip_when_the_client_accepts_it) {
    const std::vector<std::pair<std::string, std::string>> accepts = {
        {"content-type", "application/grpc"}, {"grpc-accept-encoding", "identity,gzip"}};
    auto x = call_with("/todoPackage.Todo/compress", frame_msg(item(1, "a")), 0, accepts);
    EXPECT_TRUE(gzip_taken);
    EXPECT_EQ(x->grpc_status(), "0");
    EXPECT_EQ(x->s->head.get("grpc-encoding").value_or(""), "gzip");
    ASSERT_GT(x->s->body.size(), 5u);
    EXPECT_EQ(x->s->body[0], 1) << "compressed flag";
    auto msgs = messages(x->s->body);
    ASSERT_EQ(msgs.size(), 1u);
    TodoItem out;
    ASSERT_TRUE(out.ParseFromString(msgs[0]));
    EXPECT_EQ(out.text(), std::string(2000, 'z'));
    // No grpc-accept-encoding and an identity request: gzip is refused, identity goes out.
    auto y = call_with("/todoPackage.Todo/compress", frame_msg(item(1, "a")));
    EXPECT_FALSE(gzip_taken);
    EXPECT_FALSE(y->s->head.contains("grpc-encoding"));
    EXPECT_EQ(y->s->body[0], 0);
    // A gzip request answered identity when the handler asks for it.
    auto z = call_with("/todoPackage.Todo/compress", frame_msg(item(2, "a"), compression::gzip), 0,
                       {{"content-type", "application/grpc"}, {"grpc-encoding", "gzip"}});
    EXPECT_TRUE(gzip_taken);
    EXPECT_FALSE(z->s->head.contains("grpc-encoding"));
    EXPECT_EQ(z->s->body[0], 0);
}

TEST_F(rpc_test, handler_sees_whether_the_request_was_compressed) {
    call_with("/todoPackage.Todo/compress", frame_msg(item(2, "plain")));
    call_with("/todoPackage.Todo/compress", frame_msg(item(2, "gz"), compression::gzip), 1,
              {{"content-type", "application/grpc"}, {"grpc-encoding", "gzip"}});
    // gzip encoding, but this message sent with flag 0.
    call_with("/todoPackage.Todo/compress", frame_msg(item(2, "flag 0")), 0,
              {{"content-type", "application/grpc"}, {"grpc-encoding", "gzip"}});
    EXPECT_EQ(compressed_seen, (std::vector<bool>{false, true, false}));
}

TEST_F(rpc_test, one_message_can_skip_compression) {
    auto x = call_with("/todoPackage.Todo/mixed", frame_msg(voidNoParam{}), 0,
                       {{"content-type", "application/grpc"}, {"grpc-accept-encoding", "gzip"}});
    EXPECT_EQ(x->grpc_status(), "0");
    EXPECT_EQ(x->s->head.get("grpc-encoding").value_or(""), "gzip");
    ASSERT_GT(x->s->body.size(), 5u);
    EXPECT_EQ(x->s->body[0], 1);
    std::uint32_t first = (std::uint8_t(x->s->body[1]) << 24) |
                          (std::uint8_t(x->s->body[2]) << 16) | (std::uint8_t(x->s->body[3]) << 8) |
                          std::uint8_t(x->s->body[4]);
    ASSERT_GT(x->s->body.size(), 5u + first + 5u);
    EXPECT_EQ(x->s->body[5 + first], 0) << "second message uncompressed";
    EXPECT_EQ(x->s->body.size(), 5u + first + 5u + 2000u + 3u);  // tag + length varint + text
    EXPECT_EQ(messages(x->s->body).size(), 2u);
}

TEST_F(rpc_test, call_timers_fire_in_order_on_the_loop) {
    auto x = call_with("/todoPackage.Todo/paced", frame_msg(voidNoParam{}));
    EXPECT_EQ(scheduled, 3);
    EXPECT_TRUE(x->s->body.empty());
    EXPECT_FALSE(x->s->ended);
    for (int i = 0; i < 100 && !x->s->ended; ++i) lp.run_once(5);
    ASSERT_TRUE(x->s->ended);
    EXPECT_EQ(x->grpc_status(), "0");
    auto msgs = messages(x->s->body);
    ASSERT_EQ(msgs.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        TodoItem t;
        ASSERT_TRUE(t.ParseFromString(msgs[static_cast<std::size_t>(i)]));
        EXPECT_EQ(t.id(), i + 1);
    }
}

TEST_F(rpc_test, call_timers_go_with_the_call) {
    const std::size_t before = lp.timer_count();
    auto x = call_with("/todoPackage.Todo/paced", frame_msg(voidNoParam{}));
    EXPECT_EQ(lp.timer_count(), before + 3);
    // The timers' callbacks hold the only writer copies: the client leaving must free them.
    x->s->client_left();
    EXPECT_EQ(lp.timer_count(), before);
    for (int i = 0; i < 3; ++i) lp.run_once(5);
    EXPECT_TRUE(x->s->body.empty());
    EXPECT_FALSE(x->s->ended);
}

TEST_F(rpc_test, unknown_encoding_is_unimplemented) {
    auto x = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")), 0,
                       {{"content-type", "application/grpc"}, {"grpc-encoding", "snappy"}});
    EXPECT_EQ(x->grpc_status(), "12");
    EXPECT_EQ(x->s->head.get("grpc-accept-encoding").value_or(""), "identity,gzip");
}

TEST_F(rpc_test, deadline_exceeded_cancels_the_writer) {
    auto x = call_with("/todoPackage.Todo/forever", frame_msg(voidNoParam{}), 0,
                       {{"content-type", "application/grpc"}, {"grpc-timeout", "20m"}});
    ASSERT_EQ(held.size(), 1u);
    EXPECT_TRUE(held[0].write(item(1, "x")));
    for (int i = 0; i < 50 && !x->s->ended; ++i) lp.run_once(10);
    EXPECT_TRUE(x->s->ended);
    EXPECT_EQ(x->grpc_status(), "4");
    EXPECT_TRUE(held[0].cancelled());
    EXPECT_FALSE(held[0].write(item(2, "y")));
    EXPECT_EQ(cancels, 1);
}

TEST_F(rpc_test, malformed_timeout_is_internal) {
    auto x = call_with("/todoPackage.Todo/createTodo", frame_msg(item(0, "a")), 0,
                       {{"content-type", "application/grpc"}, {"grpc-timeout", "10x"}});
    EXPECT_EQ(x->grpc_status(), "13");
}

TEST_F(rpc_test, client_reset_cancels_and_releases_the_call) {
    auto x = call_with("/todoPackage.Todo/forever", frame_msg(voidNoParam{}));
    ASSERT_EQ(held.size(), 1u);
    std::weak_ptr<call> weak = held[0].ctx().shared_from_this();
    x->s->client_left();
    EXPECT_EQ(cancels, 1);
    EXPECT_TRUE(held[0].cancelled());
    EXPECT_FALSE(held[0].write(item(1, "x")));
    held.clear();
    EXPECT_TRUE(weak.expired()) << "the call leaked";
    EXPECT_FALSE(x->s->ended);
}

TEST_F(rpc_test, held_writer_finishes_ok_when_dropped) {
    auto x = call_with("/todoPackage.Todo/forever", frame_msg(voidNoParam{}));
    held[0].write(item(1, "x"));
    EXPECT_FALSE(x->s->ended);
    held.clear();
    EXPECT_TRUE(x->s->ended);
    EXPECT_EQ(x->grpc_status(), "0");
}

TEST_F(rpc_test, async_unary_answers_later_or_internal_when_dropped) {
    auto x = call_with("/todoPackage.Todo/later", frame_msg(item(5, "later")));
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_FALSE(x->s->ended);
    replies[0](item(6, "done"));
    EXPECT_EQ(x->grpc_status(), "0");
    EXPECT_EQ(messages(x->s->body).size(), 1u);
    replies.clear();
    auto y = call_with("/todoPackage.Todo/later", frame_msg(item(5, "later")));
    replies.clear();
    EXPECT_EQ(y->grpc_status(), "13");
}

TEST_F(rpc_test, client_streaming_collects_every_message) {
    std::string body;
    for (int i = 0; i < 5; ++i) body += frame_msg(item(i, "t" + std::to_string(i)));
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        auto x = call_with("/todoPackage.Todo/collect", body, chunk);
        auto msgs = messages(x->s->body);
        ASSERT_EQ(msgs.size(), 1u);
        TodoItems all;
        ASSERT_TRUE(all.ParseFromString(msgs[0]));
        EXPECT_EQ(all.items_size(), 5);
        EXPECT_EQ(x->grpc_status(), "0");
    }
}

TEST_F(rpc_test, bidi_echoes_before_half_close_and_can_finish_from_a_callback) {
    auto x = start("/todoPackage.Todo/echo");
    std::string one = frame_msg(item(1, "one"));
    x->req.deliver_body_chunk(as_bytes(one));
    EXPECT_EQ(messages(x->s->body).size(), 1u);
    EXPECT_FALSE(x->s->ended);
    std::string stop = frame_msg(item(2, "stop")) + frame_msg(item(3, "after"));
    x->req.deliver_body_chunk(as_bytes(stop));
    EXPECT_TRUE(x->s->ended);
    EXPECT_EQ(x->grpc_status(), "10");
    EXPECT_EQ(messages(x->s->body).size(), 1u);
    x->req.deliver_body_end();  // ignored
}

TEST_F(rpc_test, bidi_without_handle_copies_ends_at_half_close) {
    auto x = start("/todoPackage.Todo/echo");
    x->req.deliver_body_chunk(as_bytes(frame_msg(item(1, "a"))));
    x->req.deliver_body_end();
    // The on_message callback (holding the stream) is dropped at half-close: finished with OK.
    EXPECT_TRUE(x->s->ended);
    EXPECT_EQ(x->grpc_status(), "0");
}

TEST_F(rpc_test, health_check) {
    ::grpc::health::v1::HealthCheckRequest req;
    auto x = call_with("/grpc.health.v1.Health/Check", frame_msg(req));
    auto msgs = messages(x->s->body);
    ASSERT_EQ(msgs.size(), 1u);
    ::grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(resp.ParseFromString(msgs[0]));
    EXPECT_EQ(resp.status(), ::grpc::health::v1::HealthCheckResponse::SERVING);
    req.set_service("nope");
    auto y = call_with("/grpc.health.v1.Health/Check", frame_msg(req));
    EXPECT_EQ(y->grpc_status(), "5");
    req.set_service("todoPackage.Todo");
    auto w = call_with("/grpc.health.v1.Health/Watch", frame_msg(req));
    EXPECT_EQ(messages(w->s->body).size(), 1u);
    EXPECT_FALSE(w->s->ended);
    w->s->client_left();
}

TEST_F(rpc_test, get_is_not_a_call) {
    auto x = std::make_unique<exchange>();
    x->req.set_method("GET");
    ASSERT_TRUE(x->req.set_target("/todoPackage.Todo/createTodo").has_value());
    http::response res(x->s);
    r.dispatch(x->req, res);
    EXPECT_EQ(x->s->head_status, 405);
}

}  // namespace
}  // namespace sy::grpc
