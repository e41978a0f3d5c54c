#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "chunk_splitter.hpp"
#include "fault_stream.hpp"
#include "loopback.hpp"
#include "switchyard/net/connection.hpp"

using namespace sy;
using namespace sy::net;
using namespace std::chrono_literals;

namespace {

// Records everything; behaviour is configured per test through the public fields.
struct probe {
    std::string data;
    int opens = 0, backpressure = 0, drains = 0, peer_closed = 0, closes = 0;
    close_reason reason = close_reason::local;
    std::vector<timeout_kind> timeouts;
    connection* conn = nullptr;
};

struct recording_handler : connection_handler {
    probe& p;
    bool echo = false;
    bool consume = true;
    explicit recording_handler(probe& pr) : p(pr) {}
    void on_open(connection& c) override {
        ++p.opens;
        p.conn = &c;
    }
    void on_data(connection& c, byte_buffer& in) override {
        if (!consume) return;
        p.data.append(in.view());
        if (echo) c.write(in.readable());
        in.consume(in.size());
    }
    void on_backpressure(connection&) override { ++p.backpressure; }
    void on_drain(connection&) override { ++p.drains; }
    void on_peer_closed(connection& c) override {
        ++p.peer_closed;
        connection_handler::on_peer_closed(c);
    }
    timeout_action on_timeout(connection&, timeout_kind k) override {
        p.timeouts.push_back(k);
        return timeout_action::close;
    }
    void on_close(connection&, close_reason r) override {
        ++p.closes;
        p.reason = r;
        p.conn = nullptr;
    }
};

struct fixture {
    core::loop loop;
    connection_list list;  // closes whatever a test left open, so nothing leaks
    connection_options opts;
    io_counters counters;
    probe p;
    test::socket_pair sp = test::make_socket_pair();
    std::shared_ptr<test::fault_plan> plan = std::make_shared<test::fault_plan>();
    recording_handler* h = nullptr;

    connection* open_fault() {
        opts.counters = &counters;
        auto handler = std::make_unique<recording_handler>(p);
        h = handler.get();
        return connection::create(loop, test::fault_stream(std::move(sp.a), plan),
                                  std::move(handler), opts, {}, &list);
    }
    ~fixture() {
        list.close_all(close_mode::immediate);
        loop.run_once(0);
    }
    void turn() { loop.run_once(0); }
};

}  // namespace

TEST(Connection, CompactStruct) {
    // Keep per-connection memory small: 10k idle keep-alive connections in <= 2 KiB each.
    EXPECT_LE(sizeof(tcp_connection), 320u);
}

TEST(Connection, EchoOverSocketPair) {
    fixture f;
    auto* c = f.open_fault();
    ASSERT_NE(c, nullptr);
    f.h->echo = true;
    EXPECT_EQ(f.p.opens, 1);
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "hello"));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.data == "hello"; }));
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 5), "hello");
    EXPECT_EQ(f.counters.bytes_in.get(), 5u);
    EXPECT_EQ(f.counters.bytes_out.get(), 5u);
    // Idle: buffers released.
    EXPECT_EQ(c->input().capacity(), 0u);
    EXPECT_EQ(c->queued_bytes(), 0u);
}

TEST(Connection, WritesAreCoalescedIntoOneWritevPerTurn) {
    fixture f;
    auto* c = f.open_fault();
    f.loop.post([&] {
        c->write(std::string_view("a"));
        c->write(shared_bytes::copy_of("bb"));
        byte_buffer b;
        b.append(std::string_view("ccc"));
        c->write(std::move(b));
        c->write(std::string_view("d"));
    });
    f.loop.run_once(100);
    EXPECT_EQ(f.plan->writevs, 1);
    ASSERT_EQ(f.plan->writev_bytes.size(), 1u);
    EXPECT_EQ(f.plan->writev_bytes[0], 7u);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 7), "abbcccd");
    f.turn();
    EXPECT_EQ(f.plan->writevs, 1);  // nothing queued: no syscall
}

TEST(Connection, ShortReadsAndShortWritesDeliverEverything) {
    fixture f;
    f.plan->max_read = 3;
    f.plan->max_write = 5;
    auto* c = f.open_fault();
    f.h->echo = true;
    std::string msg(1000, 'x');
    for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(test::write_all(f.sp.b.get(), msg));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.data.size() == msg.size(); }));
    std::string back;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        back += test::read_available(f.sp.b.get());
        return back.size() == msg.size();
    }));
    EXPECT_EQ(f.p.data, msg);
    EXPECT_EQ(back, msg);
    EXPECT_GE(f.plan->writevs, 200);
    (void)c;
}

TEST(Connection, EagainOnWriteArmsWritableAndCompletes) {
    fixture f;
    f.plan->eagain_writes = 2;
    auto* c = f.open_fault();
    f.loop.post([&] { c->write(std::string_view("later")); });
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.counters.bytes_out.get() == 5; }));
    EXPECT_EQ(c->queued_bytes(), 0u);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 5), "later");
    EXPECT_EQ(f.counters.eagain_writes.get(), 2u);
}

TEST(Connection, ResetOnReadClosesWithReset) {
    fixture f;
    f.plan->reset_next_read = true;
    f.open_fault();
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "x"));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.p.reason, close_reason::reset);
}

TEST(Connection, ResetOnWriteClosesWithReset) {
    fixture f;
    f.plan->reset_next_write = true;
    auto* c = f.open_fault();
    f.loop.post([&] { c->write(std::string_view("x")); });
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.p.reason, close_reason::reset);
}

TEST(Connection, InputSplitAtEveryByteArrivesIntact) {
    const std::string msg = "GET / HTTP/1.1\r\n\r\n";
    test::for_each_split(msg, [&](const std::vector<std::string_view>& chunks) {
        fixture f;
        f.open_fault();
        for (auto ch : chunks) {
            ASSERT_TRUE(test::write_all(f.sp.b.get(), ch));
            f.turn();
        }
        ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.data.size() == msg.size(); }));
        EXPECT_EQ(f.p.data, msg);
    });
}

TEST(Connection, WatermarksPauseAndResumeReading) {
    fixture f;
    f.opts.high_watermark = 256 * 1024;
    f.opts.low_watermark = 64 * 1024;
    int small = 16 * 1024;
    ::setsockopt(f.sp.b.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    auto* c = f.open_fault();
    std::string chunk(64 * 1024, 'z');
    f.loop.post([&] {
        for (int i = 0; i < 8; ++i) c->write(std::string_view(chunk));  // 512 KiB, peer not reading
    });
    f.loop.run_once(10);
    EXPECT_EQ(f.p.backpressure, 1);
    EXPECT_FALSE(c->reading());
    // While paused, input from the peer is not read.
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "ping"));
    for (int i = 0; i < 5; ++i) f.loop.run_once(2);
    EXPECT_EQ(f.p.data, "");
    EXPECT_GT(c->queued_bytes(), f.opts.low_watermark);
    // The peer drains: below the low watermark reading resumes, on_drain fires, "ping" arrives.
    std::size_t got = 0;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        got += test::read_available(f.sp.b.get()).size();
        return got == 8 * chunk.size() && f.p.data == "ping";
    }));
    EXPECT_EQ(f.p.drains, 1);
    EXPECT_TRUE(c->reading());
}

TEST(Connection, InputCapPausesReadingUntilConsumed) {
    fixture f;
    f.opts.max_input = 1024;
    f.opts.read_chunk = 512;
    auto* c = f.open_fault();
    f.h->consume = false;
    ASSERT_TRUE(test::write_all(f.sp.b.get(), std::string(4096, 'q')));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return !c->reading(); }));
    EXPECT_EQ(c->input().size(), 1024u);
    // The handler catches up (e.g. async work done) and resumes: buffered input is re-delivered.
    f.h->consume = true;
    c->resume_reading();  // re-delivers the buffered input; consuming it lifts the cap
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.data.size() == 4096; }));
}

TEST(Connection, PauseResumeRedeliversBufferedInput) {
    fixture f;
    auto* c = f.open_fault();
    struct pausing : connection_handler {
        std::vector<std::string> seen;
        void on_data(connection& c, byte_buffer& in) override {
            // Take one "request" line, then pause as if waiting for a backend.
            auto v = in.view();
            auto nl = v.find('\n');
            if (nl == std::string_view::npos) return;
            seen.emplace_back(v.substr(0, nl));
            in.consume(nl + 1);
            c.pause_reading();
        }
    };
    auto h = std::make_unique<pausing>();
    auto* hp = h.get();
    c->set_handler(std::move(h));
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "one\ntwo\nthree\n"));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return hp->seen.size() == 1; }));
    f.turn();
    EXPECT_EQ(hp->seen.size(), 1u);
    c->resume_reading();
    f.turn();
    EXPECT_EQ(hp->seen.size(), 2u);
    c->resume_reading();
    f.turn();
    EXPECT_EQ(hp->seen, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(Connection, HandlerSwapGetsTheRestOfTheInput) {
    fixture f;
    auto* c = f.open_fault();
    struct second : connection_handler {
        std::string& out;
        explicit second(std::string& o) : out(o) {}
        void on_data(connection&, byte_buffer& in) override {
            out.append(in.view());
            in.consume(in.size());
        }
    };
    std::string rest;
    struct first : connection_handler {
        std::string& rest;
        explicit first(std::string& r) : rest(r) {}
        void on_data(connection& c, byte_buffer& in) override {
            auto nl = in.view().find('\n');
            if (nl == std::string_view::npos) return;
            in.consume(nl + 1);
            c.set_handler(std::make_unique<second>(rest));  // destroys this at end of turn
        }
    };
    c->set_handler(std::make_unique<first>(rest));
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "UPGRADE\nframes-after"));
    ASSERT_TRUE(test::run_until(f.loop, [&] { return rest == "frames-after"; }));
}

TEST(Connection, HalfCloseLetsTheHandlerReplyThenCloses) {
    fixture f;
    auto* c = f.open_fault();
    struct replier : recording_handler {
        using recording_handler::recording_handler;
        void on_peer_closed(connection& c) override {
            ++p.peer_closed;
            c.write("you said " + p.data);
            c.close();
        }
    };
    c->set_handler(std::make_unique<replier>(f.p));
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "bye"));
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    bool eof = false;
    EXPECT_EQ(test::read_to_eof(f.sp.b.get(), &eof), "you said bye");
    EXPECT_TRUE(eof);
    EXPECT_EQ(f.p.peer_closed, 1);
    EXPECT_EQ(f.p.reason, close_reason::local);
    EXPECT_EQ(f.plan->shutdowns, 1);
}

TEST(Connection, DefaultPeerCloseClosesGracefully) {
    fixture f;
    f.open_fault();
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.p.peer_closed, 1);
    EXPECT_EQ(f.p.reason, close_reason::peer_closed);
}

TEST(Connection, GracefulCloseFlushesThenLingersUntilPeerFin) {
    fixture f;
    auto* c = f.open_fault();
    std::string big(300 * 1024, 'g');
    // Unread input at close time is what makes a lingering close necessary (closing with it
    // would send an RST that destroys the reply in flight).
    f.loop.post([&] { c->pause_reading(); });
    test::run_until(
        f.loop, [&] { return false; }, 10);
    ASSERT_TRUE(test::write_all(f.sp.b.get(), "unread"));
    f.loop.post([&] {
        c->write(std::string_view(big));
        c->close();
        EXPECT_FALSE(c->write(std::string_view("dropped")));
    });
    std::string got;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        got += test::read_available(f.sp.b.get());
        return got.size() == big.size() && f.plan->shutdowns == 1;
    }));
    EXPECT_EQ(f.p.closes, 0);  // lingering: waiting for the peer's FIN
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.p.reason, close_reason::local);
    EXPECT_EQ(f.plan->aborts, 0);
}

TEST(Connection, GracefulCloseLingersByDefaultEvenWithNothingUnread) {
    fixture f;
    auto* c = f.open_fault();
    f.loop.post([&] { c->close(); });
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.plan->shutdowns == 1; }));
    test::run_until(
        f.loop, [&] { return false; }, 20);
    EXPECT_EQ(f.p.closes, 0);  // waiting for the peer's FIN
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
}

TEST(Connection, GracefulCloseWithNothingUnreadClosesAfterTheFlush) {
    fixture f;
    auto* c = f.open_fault();
    std::string big(300 * 1024, 'h');
    f.loop.post([&] {
        c->set_linger_only_if_unread(true);
        c->write(std::string_view(big));
        c->close();
    });
    std::string got;
    bool eof = false;
    ASSERT_TRUE(test::run_until(f.loop, [&] {
        got += test::read_available(f.sp.b.get());
        return got.size() == big.size() && f.p.closes == 1;
    }));
    test::read_to_eof(f.sp.b.get(), &eof);
    EXPECT_TRUE(eof);
    EXPECT_EQ(f.plan->shutdowns, 1);
    EXPECT_EQ(f.plan->aborts, 0);
}

TEST(Connection, CloseTimeoutEndsALingeringClose) {
    fixture f;
    f.opts.close_timeout = 30ms;
    auto* c = f.open_fault();
    f.loop.post([&] { c->close(); });
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.p.reason, close_reason::local);  // nothing was pending: not a close_timeout
}

TEST(Connection, AbortSendsRst) {
    fixture f;
    auto* c = f.open_fault();
    f.loop.post([&] { c->close(close_mode::abort, close_reason::io_error); });
    ASSERT_TRUE(test::run_until(f.loop, [&] { return f.p.closes == 1; }));
    EXPECT_EQ(f.plan->aborts, 1);
    EXPECT_EQ(f.p.reason, close_reason::io_error);
}

TEST(Connection, IdleTimeoutFiresAfterInactivityOnly) {
    fixture f;
    f.opts.idle_timeout = 60ms;
    f.open_fault();
    f.h->echo = true;
    // Activity every 20 ms keeps it open past the idle timeout.
    auto start = sy::now_ms();
    while (sy::now_ms() - start < 150) {
        ASSERT_TRUE(test::write_all(f.sp.b.get(), "k"));
        test::run_until(
            f.loop, [&] { return false; }, 20);
        ASSERT_EQ(f.p.closes, 0);
    }
    // Graceful: FIN first, then on_close once the peer closes too (lingering close).
    ASSERT_TRUE(test::run_until(
        f.loop, [&] { return f.plan->shutdowns == 1; }, 1000));
    test::read_available(f.sp.b.get());
    bool eof = false;
    test::read_to_eof(f.sp.b.get(), &eof);
    EXPECT_TRUE(eof);
    ::shutdown(f.sp.b.get(), SHUT_WR);
    ASSERT_TRUE(test::run_until(
        f.loop, [&] { return f.p.closes == 1; }, 1000));
    EXPECT_EQ(f.p.reason, close_reason::idle_timeout);
    ASSERT_EQ(f.p.timeouts.size(), 1u);
    EXPECT_EQ(f.p.timeouts[0], timeout_kind::idle);
}

TEST(Connection, ReadDeadlineFiresUnlessCleared) {
    fixture f;
    f.opts.close_timeout = 20ms;  // the peer never sends FIN: the linger ends at close_timeout
    auto* c = f.open_fault();
    f.loop.post([&] { c->set_read_deadline(30ms); });
    ASSERT_TRUE(test::run_until(
        f.loop, [&] { return f.p.closes == 1; }, 1000));
    EXPECT_EQ(f.p.reason, close_reason::read_timeout);

    fixture g;
    auto* d = g.open_fault();
    g.loop.post([&] {
        d->set_read_deadline(30ms);
        d->clear_read_deadline();
    });
    test::run_until(
        g.loop, [&] { return false; }, 80);
    EXPECT_EQ(g.p.closes, 0);
}

TEST(Connection, WriteTimeoutWhenPeerDoesNotRead) {
    fixture f;
    f.opts.write_timeout = 50ms;
    f.opts.high_watermark = 64 * 1024 * 1024;
    auto* c = f.open_fault();
    std::string chunk(1024 * 1024, 'w');
    f.loop.post([&] {
        for (int i = 0; i < 4; ++i) c->write(std::string_view(chunk));
    });
    ASSERT_TRUE(test::run_until(
        f.loop, [&] { return f.p.closes == 1; }, 2000));
    EXPECT_EQ(f.p.reason, close_reason::write_timeout);
    EXPECT_EQ(f.plan->aborts, 1);
}

TEST(Connection, SendfileFromAFile) {
    fixture f;
    auto* c = f.open_fault();
    char path[] = "/tmp/sy-sendfile-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    std::string body = "0123456789abcdef";
    ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
    f.loop.post([&] {
        c->write(std::string_view("[["));
        c->write_file(fd, 4, 8, /*own_fd=*/true);
        c->write(std::string_view("]]"));
    });
    f.loop.run_once(100);
    EXPECT_EQ(test::read_exact(f.sp.b.get(), 12), "[[456789ab]]");
    EXPECT_EQ(f.plan->sendfiles, 1);
}

TEST(Connection, ListCloseAll) {
    core::loop loop;
    connection_options opts;
    connection_list list;
    std::vector<test::socket_pair> pairs;
    std::vector<probe> probes(3);
    for (int i = 0; i < 3; ++i) {
        pairs.push_back(test::make_socket_pair());
        connection::create(loop, tcp_stream(std::move(pairs.back().a)),
                           std::make_unique<recording_handler>(probes[i]), opts, {}, &list);
    }
    EXPECT_EQ(list.size(), 3u);
    list.close_all(close_mode::immediate);
    EXPECT_EQ(list.size(), 0u);
    for (auto& p : probes) EXPECT_EQ(p.reason, close_reason::shutdown);
    loop.run_once(0);
}

TEST(Connection, ListDrainReachesConnectionsAddedLater) {
    // Shutdown: a socket handed to this loop after the drain began hears it too.
    core::loop loop;
    connection_options opts;
    connection_list list;
    std::vector<test::socket_pair> pairs;
    std::vector<probe> probes(2);
    std::vector<connection*> drained;
    pairs.push_back(test::make_socket_pair());
    connection::create(loop, tcp_stream(std::move(pairs.back().a)),
                       std::make_unique<recording_handler>(probes[0]), opts, {}, &list);
    EXPECT_FALSE(list.draining());
    list.drain([&](connection& c) { drained.push_back(&c); });
    EXPECT_TRUE(list.draining());
    ASSERT_EQ(drained.size(), 1u);
    pairs.push_back(test::make_socket_pair());
    auto* late =
        connection::create(loop, tcp_stream(std::move(pairs.back().a)),
                           std::make_unique<recording_handler>(probes[1]), opts, {}, &list);
    ASSERT_EQ(drained.size(), 2u);
    EXPECT_EQ(drained[1], late);
    EXPECT_EQ(probes[1].opens, 1);  // on_open ran first
    list.close_all(close_mode::immediate);
    loop.run_once(0);
}

TEST(Connection, BytesBeforeAResetAreDeliveredThenTheResetCloses) {
    // A TLS client that rejects the certificate sends its alert and closes with the server's
    // last records unread, so the kernel sends an RST right behind the alert: the alert must
    // still reach the handler (it is what gets classified and counted).
    net::unique_fd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto any = net::address::ipv4_loopback(0);
    ASSERT_EQ(::bind(lfd.get(), any.sa(), any.len()), 0);
    ASSERT_EQ(::listen(lfd.get(), 4), 0);
    sockaddr_in bound{};
    socklen_t blen = sizeof bound;
    ASSERT_EQ(::getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&bound), &blen), 0);
    auto peer = test::connect_tcp(ntohs(bound.sin_port));
    ASSERT_TRUE(peer);
    net::unique_fd accepted(::accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    ASSERT_TRUE(accepted);
    ASSERT_TRUE(test::write_all(peer.get(), "alert"));
    linger lg{1, 0};  // close() = RST
    ASSERT_EQ(::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    peer.reset();
    ::usleep(20000);  // both the bytes and the RST are queued before the first epoll_wait

    core::loop loop;
    connection_list list;
    connection_options opts;
    probe p;
    connection::create(loop, net::tcp_stream(std::move(accepted)),
                       std::make_unique<recording_handler>(p), opts, {}, &list);
    ASSERT_TRUE(test::run_until(loop, [&] { return p.closes == 1; }));
    EXPECT_EQ(p.data, "alert");
    EXPECT_EQ(p.reason, close_reason::reset);
}
