// The runtime's datagram endpoints: one socket per worker loop on one port, routes sharing an
// address split by first byte, a datagram handed to another loop (datagram_endpoint::forward),
// flows counted as connections and told about the shutdown.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/http/router.hpp"
#include "switchyard/server/runtime.hpp"

using namespace sy;

namespace {

struct counting_flow final : net::datagram_flow {
    std::atomic<int>* shutdowns;
    explicit counting_flow(std::atomic<int>* s) : shutdowns(s) {}
    void begin_shutdown() override {
        shutdowns->fetch_add(1);
        leave();  // nothing in flight: done at once
    }
    void close_now() override { leave(); }
    std::string_view protocol() const override { return "test"; }
    std::string peer_text() const override { return "-"; }
};

// Per loop: the flows the 'j' datagrams created (a loop slot, freed with the loop).
struct flows_slot {
    std::vector<std::unique_ptr<counting_flow>> flows;
};

std::string ask(int fd, std::uint16_t port, const std::string& m) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    char buf[256];
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    return r > 0 ? std::string(buf, static_cast<std::size_t>(r)) : std::string("timeout");
}

}  // namespace

TEST(DatagramRuntime, LoopsShareThePortSplitByFirstByteAndForward) {
    server::server_config cfg;
    cfg.model = server::execution_model::reuseport;
    cfg.workers = 2;
    cfg.listen.clear();
    cfg.limits.shutdown_grace_ms = 2000;
    http::router router;
    server::runtime rt(cfg, router);
    std::atomic<int> shutdowns{0};
    const std::string where = "127.0.0.1:0";
    // 'a'..'z': answers "<loop>:<text>"; "f..." is forwarded to the other loop first, "j..."
    // joins a flow on the loop.
    server::datagram_route letters;
    letters.scheme = "letters";
    letters.first_bytes = {{'a', 'z'}};
    letters.handler = [&rt, &shutdowns](server::datagram_endpoint& ep, const net::datagram& d) {
        const std::string text(reinterpret_cast<const char*>(d.data.data()), d.data.size());
        const unsigned me = ep.owner().index;
        if (text[0] == 'f' && !d.forwarded) {
            ep.forward((me + 1) % static_cast<unsigned>(rt.loop_count()), d);
            return;
        }
        if (text[0] == 'j') {
            auto* slot = ep.owner().loop->slot<flows_slot>();
            auto f = std::make_unique<counting_flow>(&shutdowns);
            if (f->join(ep.owner().flows, &rt.connection_limit(), &ep.owner().io))
                slot->flows.push_back(std::move(f));
        }
        const std::string reply = std::to_string(me) + ":" + text;
        ep.send_to(as_bytes(reply), *d.peer);
    };
    server::datagram_route digits;
    digits.scheme = "digits";
    digits.first_bytes = {{'0', '9'}};
    digits.handler = [](server::datagram_endpoint& ep, const net::datagram& d) {
        ep.send_to(as_bytes(std::string("digit")), *d.peer);
    };
    rt.add_datagram_route({where}, std::move(letters));
    rt.add_datagram_route({where}, std::move(digits));
    std::atomic<int> started{0};
    rt.on_loop_start([&started](server::loop_state& ls) {
        ls.loop->emplace_slot<flows_slot>();
        started.fetch_add(1);
    });

    std::atomic<bool> ok{false};
    std::string failure;
    std::thread client([&] {
        // The endpoints open before the loops start: listeners() is final once both started.
        while (started.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto& infos = rt.listeners();
        const std::string addr = infos[0].address;
        const auto port = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
        std::set<std::string> loops_seen;
        bool good = infos[0].transport == "udp" && infos[0].fds.size() == 2 &&
                    infos[1].address == addr && infos[1].scheme == "digits";
        for (int i = 0; i < 24 && good; ++i) {
            int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            timeval tv{2, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            const std::string r = ask(fd, port, "hello");
            loops_seen.insert(r.substr(0, 1));
            const std::string f = ask(fd, port, "fwd");
            // Forwarded: answered by the other loop, from the same port.
            good &= f == (r[0] == '0' ? "1:fwd" : "0:fwd");
            good &= ask(fd, port, "7") == "digit";
            if (i < 3) good &= ask(fd, port, "join").substr(1) == ":join";
            ::close(fd);
        }
        good &= loops_seen.size() == 2;  // the kernel spread the senders over both sockets
        good &= rt.connection_limit().current() == 3;  // the flows hold connection units
        if (!good) failure = "answers or counts wrong";
        ok = good;
        rt.request_stop();
    });
    EXPECT_EQ(rt.run(), 0);
    client.join();
    EXPECT_TRUE(ok) << failure;
    EXPECT_EQ(shutdowns.load(), 3);  // every flow heard the shutdown
    EXPECT_EQ(rt.connection_limit().current(), 0u);
    std::uint64_t forwarded = 0, opened = 0, closed = 0;
    for (std::size_t i = 0; i < rt.loop_count(); ++i) {
        forwarded += rt.loop_at(i).udp.rx_forwarded.get();
        opened += rt.loop_at(i).io.opened.get();
        closed += rt.loop_at(i).io.closed.get();
    }
    EXPECT_EQ(forwarded, 24u);
    EXPECT_EQ(opened, 3u);
    EXPECT_EQ(closed, 3u);
}

TEST(DatagramRuntime, OverlappingClaimsOnOneAddressAreAStartError) {
    server::server_config cfg;
    cfg.model = server::execution_model::single;
    cfg.listen.clear();
    http::router router;
    server::runtime rt(cfg, router);
    server::datagram_route a, b;
    a.scheme = "a";
    a.first_bytes = {net::k_stun_bytes};
    a.handler = [](server::datagram_endpoint&, const net::datagram&) {};
    b = a;
    b.scheme = "b";
    rt.add_datagram_route({"127.0.0.1:0"}, std::move(a));
    rt.add_datagram_route({"127.0.0.1:0"}, std::move(b));
    try {
        rt.run();
        FAIL() << "started";
    } catch (const server::config_error& e) {
        EXPECT_NE(std::string(e.what()).find("already claimed"), std::string::npos) << e.what();
    }
}
