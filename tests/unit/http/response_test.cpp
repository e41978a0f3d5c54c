#include "switchyard/http/response.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "fake_sink.hpp"

namespace sy::http {
namespace {

using testing::fake_sink;
using strings = std::vector<std::string>;

TEST(Response, SendSetsHeadLengthAndType) {
    auto sink = std::make_shared<fake_sink>();
    {
        response res(sink);
        res.set_header("X-A", "1").set_header("Content-Length", "999");  // framing: ignored
        res.send(201, "hi");
    }
    EXPECT_EQ(sink->calls, (strings{"begin 201", "write 2", "end"}));
    EXPECT_EQ(sink->head_length, 2u);
    EXPECT_EQ(sink->header("x-a"), "1");
    EXPECT_EQ(sink->header("content-type"), "text/plain; charset=utf-8");
    EXPECT_FALSE(sink->header("content-length").has_value());
    EXPECT_EQ(sink->body, "hi");
    EXPECT_TRUE(sink->finished());
}

TEST(Response, SecondAnswerIgnored) {
    auto sink = std::make_shared<fake_sink>();
    response res(sink);
    res.send(200, "a");
    res.send(500, "b");
    EXPECT_EQ(res.write("x"), write_status::closed);
    res.end();
    EXPECT_EQ(sink->calls, (strings{"begin 200", "write 1", "end"}));
}

TEST(Response, StreamingWithWatermarkAndDrain) {
    auto sink = std::make_shared<fake_sink>();
    response res(sink);
    ASSERT_TRUE(res.begin(200, {{"Content-Type", "text/event-stream"}}));
    EXPECT_FALSE(res.begin(200));
    EXPECT_FALSE(sink->head_length.has_value());
    EXPECT_EQ(res.write("one"), write_status::ok);
    sink->watermark = true;
    EXPECT_EQ(res.write(shared_bytes::copy_of("two")), write_status::above_high_watermark);
    EXPECT_TRUE(res.above_high_watermark());
    int drains = 0;
    res.on_drain([&] { ++drains; });
    sink->watermark = false;
    sink->drained();
    EXPECT_EQ(drains, 1);
    header_map trailers;
    trailers.add("grpc-status", "0");
    res.end(&trailers);
    EXPECT_EQ(sink->calls, (strings{"begin 200", "write 3", "write_shared 3", "end"}));
    EXPECT_EQ(sink->trailer_count, 1);
    EXPECT_EQ(sink->header("content-type"), "text/event-stream");
    sink->drained();  // after end: callback dropped
    EXPECT_EQ(drains, 1);
}

TEST(Response, LateCompletionAfterHandlerReturns) {
    auto sink = std::make_shared<fake_sink>();
    std::function<void()> later;
    {
        response res(sink);
        auto handler = [&](response& r) { later = [r]() mutable { r.send(200, "late"); }; };
        handler(res);
    }  // the session's handle is gone; the callback still holds one
    EXPECT_TRUE(sink->calls.empty());
    later();
    EXPECT_EQ(sink->calls, (strings{"begin 200", "write 4", "end"}));
    later = nullptr;  // dropping the last handle after completion: nothing more
    EXPECT_EQ(sink->calls.size(), 3u);
}

TEST(Response, WritesAfterAbortAreNoOps) {
    auto sink = std::make_shared<fake_sink>();
    response res(sink);
    int aborts = 0;
    res.begin(200);
    res.on_abort([&] { ++aborts; });
    EXPECT_FALSE(res.closed());
    sink->client_left();
    sink->client_left();
    EXPECT_EQ(aborts, 1);
    EXPECT_TRUE(res.closed());
    EXPECT_EQ(res.write("x"), write_status::closed);
    EXPECT_EQ(res.write(shared_bytes::copy_of("y")), write_status::closed);
    res.end();
    res.reset();
    EXPECT_EQ(sink->calls, (strings{"begin 200"}));
    int late = 0;
    res.on_abort([&] { ++late; });  // registering after the fact runs at once
    EXPECT_EQ(late, 1);
}

TEST(Response, ShutdownNotifiesOnceAndLateRegistrationRunsAtOnce) {
    auto sink = std::make_shared<fake_sink>();
    response res(sink);
    int calls = 0;
    res.on_shutdown([&] {
        ++calls;
        res.send(503, "bye\n");  // answering from the callback is allowed
    });
    sink->server_shutdown();
    sink->server_shutdown();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(sink->head_status, 503);
    EXPECT_TRUE(sink->shutting_down());

    // A response that begins during the drain hears of it when it subscribes.
    auto later = std::make_shared<fake_sink>();
    later->server_shutdown();
    response res2(later);
    int at_once = 0;
    res2.on_shutdown([&] { ++at_once; });
    EXPECT_EQ(at_once, 1);
    res2.send(200);
}

TEST(Response, ShutdownAfterFinishOrAbortRunsNothing) {
    auto done = std::make_shared<fake_sink>();
    response a(done);
    int calls = 0;
    a.on_shutdown([&] { ++calls; });
    a.send(200);
    done->server_shutdown();
    auto gone = std::make_shared<fake_sink>();
    response b(gone);
    b.on_shutdown([&] { ++calls; });
    gone->client_left();
    gone->server_shutdown();
    EXPECT_EQ(calls, 0);
}

TEST(Response, AbortBeforeBeginThenSendIsNoOp) {
    auto sink = std::make_shared<fake_sink>();
    std::function<void()> later;
    {
        response res(sink);
        later = [r = res]() mutable { r.send(200, "too late"); };
    }
    sink->client_left();
    later();
    later = nullptr;
    EXPECT_TRUE(sink->calls.empty());
}

TEST(Response, AbandonedBeforeHeadIs500) {
    auto sink = std::make_shared<fake_sink>();
    {
        response res(sink);
        res.set_header("X-Lost", "1");
        response copy = res;  // copies share the count
    }
    EXPECT_EQ(sink->head_status, 500);
    EXPECT_FALSE(sink->header("x-lost").has_value());
    EXPECT_TRUE(sink->ended);
}

TEST(Response, AbandonedMidStreamResets) {
    auto sink = std::make_shared<fake_sink>();
    {
        response res(sink);
        res.begin(200);
        res.write("partial");
    }
    EXPECT_EQ(sink->calls, (strings{"begin 200", "write 7", "reset"}));
}

TEST(Response, MoveDoesNotDoubleCount) {
    auto sink = std::make_shared<fake_sink>();
    {
        response a(sink);
        response b(std::move(a));
        response c;
        c = b;
        b = response{};
        EXPECT_TRUE(sink->calls.empty());
        c.send(204);
    }
    EXPECT_EQ(sink->calls, (strings{"begin 204", "end"}));
}

TEST(Response, SendFileAndRedirect) {
    auto sink = std::make_shared<fake_sink>();
    {
        response res(sink);
        res.send_file(200, file_body{unique_fd{}, 10, 0}, "text/plain");
    }
    EXPECT_EQ(sink->calls, (strings{"begin 200", "end"}));  // empty range: no file call
    auto s2 = std::make_shared<fake_sink>();
    {
        response res(s2);
        res.redirect(301, "/dir/");
    }
    EXPECT_EQ(s2->head_status, 301);
    EXPECT_EQ(s2->header("location"), "/dir/");
    EXPECT_EQ(s2->head_length, 0u);
}

TEST(Response, Upgrade) {
    auto sink = std::make_shared<fake_sink>();
    response res(sink);
    EXPECT_EQ(res.upgrade_kind(), upgrade_support::none);
    EXPECT_EQ(res.upgrade(101), nullptr);
    sink->upgrade_mode = upgrade_support::connection_takeover;
    EXPECT_EQ(res.upgrade_kind(), upgrade_support::connection_takeover);
    auto t = res.upgrade(101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(sink->calls, (strings{"upgrade 101"}));
    EXPECT_EQ(sink->header("connection"), "Upgrade");
    EXPECT_TRUE(res.finished());
    res.send(200, "x");
    EXPECT_EQ(sink->calls.size(), 1u);
}

TEST(Response, UpgradeUnavailableAfterBegin) {
    auto sink = std::make_shared<fake_sink>();
    sink->upgrade_mode = upgrade_support::extended_connect;
    response res(sink);
    res.begin(200);
    EXPECT_EQ(res.upgrade_kind(), upgrade_support::none);
    EXPECT_EQ(res.upgrade(200), nullptr);
    res.end();
}

TEST(HeaderMap, SetRemove) {
    header_map h;
    h.add("A", "1");
    h.add("b", "2");
    h.add("a", "3");
    h.set("A", "4");
    EXPECT_EQ(h.size(), 2u);
    EXPECT_EQ(h.get("a"), "4");
    EXPECT_EQ(h.remove("B"), 1u);
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(h.at(0).name, "A");
}

}  // namespace
}  // namespace sy::http
