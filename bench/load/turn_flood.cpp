// turn-flood: a STUN/TURN load client for bench/load/turn_vs_coturn.py, so that the server, not
// the client, sets the pace. Loopback only; bounded by a count and a time.
//
//     turn-flood MODE PORT [--seconds S] [--count N] [--flows F] [--window W] [--size B]
//                [--user NAME:PASSWORD]
//
//   binding  Binding requests on F sockets, W outstanding per socket; unit: a success answer.
//   alloc    F clients, each looping 401 -> authenticated Allocate -> Refresh LIFETIME 0 (the
//            long-term credential mechanism, MESSAGE-INTEGRITY); unit: an allocation freed.
//   relay    F allocations, each ChannelBind'd to a UDP sink peer in this process that echoes
//            every datagram back to the relayed address; W ChannelData messages in flight per
//            allocation; unit: a datagram relayed (client->peer and peer->client both count).
//
// One thread and one epoll loop; datagrams leave by sendmmsg and arrive by recvmmsg, 64 at a
// time. A flow that hears nothing for 200 ms forgets what it had in flight (counted as lost) and
// resends, so a dropped datagram does not stall the window. Prints one line of key=value.
// TURN_FLOOD_DEBUG=1 prints each error answer, TURN_FLOOD_TRACE=1 every answer (to stderr).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t k_cookie = 0x2112A442;
constexpr std::uint16_t k_binding = 0x001, k_allocate = 0x003, k_refresh = 0x004,
                        k_channel_bind = 0x009;
constexpr std::uint16_t a_username = 0x0006, a_integrity = 0x0008, a_error = 0x0009,
                        a_channel = 0x000C, a_lifetime = 0x000D, a_peer = 0x0012,
                        a_transport = 0x0019, a_realm = 0x0014, a_nonce = 0x0015;
constexpr unsigned k_batch = 64;
constexpr auto k_timeout = std::chrono::milliseconds(200);

struct options {
    std::string mode;
    int port = 0;
    double seconds = 5;
    std::uint64_t count = 0;  // 0: until the time is up
    unsigned flows = 8, window = 32;
    std::size_t size = 100;
    std::string user = "alice", password = "wonderland";
};

void put16(bytes& b, std::uint16_t v) {
    b.push_back(std::uint8_t(v >> 8));
    b.push_back(std::uint8_t(v));
}
void put32(bytes& b, std::uint32_t v) {
    put16(b, std::uint16_t(v >> 16));
    put16(b, std::uint16_t(v));
}
std::uint16_t get16(const std::uint8_t* p) {
    return std::uint16_t(p[0] << 8 | p[1]);
}

/// A STUN message under construction: header, attributes, MESSAGE-INTEGRITY last if asked.
struct message {
    bytes b;
    message(std::uint16_t type, std::uint32_t id_hi, std::uint32_t id_lo) {
        put16(b, type);
        put16(b, 0);
        put32(b, k_cookie);
        put32(b, 0x5359u);  // "SY"
        put32(b, id_hi);
        put32(b, id_lo);
    }
    void attr(std::uint16_t t, std::string_view v) {
        put16(b, t);
        put16(b, std::uint16_t(v.size()));
        b.insert(b.end(), v.begin(), v.end());
        while (b.size() % 4) b.push_back(0);
        fix_length();
    }
    void attr32(std::uint16_t t, std::uint32_t v) {
        put16(b, t);
        put16(b, 4);
        put32(b, v);
        fix_length();
    }
    void xor_addr(std::uint16_t t, const sockaddr_in& a) {
        put16(b, t);
        put16(b, 8);
        put16(b, 1);
        put16(b, std::uint16_t(ntohs(a.sin_port) ^ (k_cookie >> 16)));
        put32(b, ntohl(a.sin_addr.s_addr) ^ k_cookie);
        fix_length();
    }
    void integrity(const std::uint8_t (&key)[16]) {
        // RFC 8489 14.5: the length covers the attribute, the HMAC what precedes it.
        fix_length(24);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        HMAC(EVP_sha1(), key, 16, b.data(), b.size(), mac, &n);
        put16(b, a_integrity);
        put16(b, 20);
        b.insert(b.end(), mac, mac + 20);
    }
    void fix_length(std::size_t pending = 0) {
        const auto len = std::uint16_t(b.size() + pending - 20);
        b[2] = std::uint8_t(len >> 8);
        b[3] = std::uint8_t(len);
    }
};

/// An answer's class (0 request, 1 indication, 2 success, 3 error), error code and texts.
struct answer {
    int klass = -1, code = 0;
    std::uint16_t method = 0;
    std::uint32_t id_lo = 0;
    std::string realm, nonce;
};

bool parse(const std::uint8_t* p, std::size_t n, answer& a) {
    if (n < 20 || (p[0] & 0xC0) != 0) return false;
    const std::uint16_t type = get16(p);
    a.klass = ((type >> 4) & 1) | ((type >> 7) & 2);
    a.method = std::uint16_t((type & 0xF) | ((type >> 1) & 0x70) | ((type >> 2) & 0xF80));
    a.id_lo = std::uint32_t(p[16]) << 24 | std::uint32_t(p[17]) << 16 | p[18] << 8 | p[19];
    std::size_t off = 20;
    const std::size_t end = std::min<std::size_t>(n, 20 + get16(p + 2));
    while (off + 4 <= end) {
        const std::uint16_t t = get16(p + off), len = get16(p + off + 2);
        const auto* v = p + off + 4;
        if (off + 4 + len > end) break;
        if (t == a_error && len >= 4) a.code = (v[2] & 7) * 100 + v[3];
        if (t == a_realm) a.realm.assign(reinterpret_cast<const char*>(v), len);
        if (t == a_nonce) a.nonce.assign(reinterpret_cast<const char*>(v), len);
        off += 4 + ((len + 3u) & ~3u);
    }
    return true;
}

/// Batched send (sendmmsg, runs of one socket's datagrams, k_batch at a time) and receive
/// (recvmmsg).
struct batch_io {
    struct pending {
        int fd;
        bytes b;
        sockaddr_in to;
    };
    std::vector<pending> out;
    std::uint8_t in[k_batch][2048];
    sockaddr_in from[k_batch];
    mmsghdr msgs[k_batch];
    iovec iov[k_batch];

    void queue(int fd, const bytes& b, const sockaddr_in& dst) { out.push_back({fd, b, dst}); }
    void queue(int fd, const std::uint8_t* p, std::size_t n, const sockaddr_in& dst) {
        out.push_back({fd, bytes(p, p + n), dst});
    }
    void flush() {
        for (std::size_t i = 0; i < out.size();) {
            const int fd = out[i].fd;
            unsigned n = 0;
            for (; n < k_batch && i + n < out.size() && out[i + n].fd == fd; ++n) {
                auto& p = out[i + n];
                iov[n] = {p.b.data(), p.b.size()};
                msgs[n] = {};
                msgs[n].msg_hdr.msg_iov = &iov[n];
                msgs[n].msg_hdr.msg_iovlen = 1;
                msgs[n].msg_hdr.msg_name = &p.to;
                msgs[n].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            }
            // A full socket buffer drops the rest of the run: the window's timeout resends.
            (void)::sendmmsg(fd, msgs, n, MSG_DONTWAIT);
            i += n;
        }
        out.clear();
    }
    int receive(int fd) {
        for (unsigned j = 0; j < k_batch; ++j) {
            iov[j] = {in[j], sizeof in[j]};
            msgs[j] = {};
            msgs[j].msg_hdr.msg_iov = &iov[j];
            msgs[j].msg_hdr.msg_iovlen = 1;
            msgs[j].msg_hdr.msg_name = &from[j];
            msgs[j].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        }
        return ::recvmmsg(fd, msgs, k_batch, MSG_DONTWAIT, nullptr);
    }
};

/// A UDP socket on 127.0.0.1. `cycle`: the port is the next free one of 10000-29999 in turn,
/// not the kernel's pick, so a new client 5-tuple is not one a server still remembers (the
/// kernel hands recently freed ports out again soon).
int udp_socket_on_loopback(bool cycle = false) {
    static unsigned next = 0;
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int buf = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int tries = 0; fd >= 0 && tries < 20000; ++tries) {
        if (cycle) a.sin_port = htons(std::uint16_t(10000 + next++ % 20000));
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
        if (!cycle) break;
    }
    std::perror("turn-flood: socket");
    std::exit(2);
}

sockaddr_in local_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return a;
}

/// One client 5-tuple and what it is doing.
struct flow {
    enum class step { challenge, allocate, bind, refresh, flooding };
    int fd = -1;
    step at = step::challenge;
    unsigned in_flight = 0;
    std::uint32_t seq = 0;
    std::string realm, nonce;
    clock_type::time_point last_heard;
    bytes last_sent;       // the request a timeout resends
    bytes data;            // relay: the ChannelData message this flow floods
    bool renewed = false;  // alloc: fd replaced (poll set to update)
};

struct flood {
    options o;
    sockaddr_in server{}, sink_addr{};
    std::uint8_t key[16]{};
    std::vector<flow> flows;
    batch_io io;
    int sink = -1, ep = -1;
    std::uint64_t units = 0, lost = 0, errors = 0, sink_rx = 0;
    bytes payload;

    void make_key(std::string_view realm) {
        const std::string s = o.user + ":" + std::string(realm) + ":" + o.password;
        unsigned n = 0;
        EVP_Digest(s.data(), s.size(), key, &n, EVP_md5(), nullptr);
    }
    void authenticate(message& m, const flow& f) {
        m.attr(a_username, o.user);
        m.attr(a_realm, f.realm);
        m.attr(a_nonce, f.nonce);
        m.integrity(key);
    }
    /// The next request of a flow's TURN conversation (allocate, bind, refresh).
    void send_step(flow& f, std::size_t index) {
        const auto id = std::uint32_t(index);
        if (f.at == flow::step::challenge || f.at == flow::step::allocate) {
            message m(k_allocate, id, ++f.seq);
            m.attr32(a_transport, 17u << 24);
            if (f.at == flow::step::allocate) authenticate(m, f);
            f.last_sent = m.b;
        } else if (f.at == flow::step::bind) {
            message m(k_channel_bind, id, ++f.seq);
            m.attr32(a_channel, std::uint32_t(0x4000 + index) << 16);
            m.xor_addr(a_peer, sink_addr);
            authenticate(m, f);
            f.last_sent = m.b;
        } else if (f.at == flow::step::refresh) {
            message m(k_refresh, id, ++f.seq);
            m.attr32(a_lifetime, 0);
            authenticate(m, f);
            f.last_sent = m.b;
        }
        f.in_flight = 1;
        io.queue(f.fd, f.last_sent, server);
    }
    void fill_window(flow& f, std::size_t index) {
        if (o.mode == "binding") {
            for (; f.in_flight < o.window; ++f.in_flight) {
                message m(k_binding, std::uint32_t(index), ++f.seq);
                io.queue(f.fd, m.b, server);
            }
        } else if (f.at == flow::step::flooding) {
            for (; f.in_flight < o.window; ++f.in_flight) io.queue(f.fd, f.data, server);
        } else if (f.in_flight == 0) {
            send_step(f, index);
        }
    }
    void renew(flow& f) {
        ::close(f.fd);
        f.fd = udp_socket_on_loopback(true);
        f.renewed = true;
    }
    void on_answer(flow& f, std::size_t index, const std::uint8_t* p, std::size_t n);
    void on_stun(flow& f, std::size_t index, const answer& a);
    void drain_sink();
    void watch(int fd, std::uint32_t index);
    void receive_flow(std::size_t i, clock_type::time_point now);
    void check_timeouts(clock_type::time_point now);
    int run();
};

void flood::on_answer(flow& f, std::size_t index, const std::uint8_t* p, std::size_t n) {
    if (n >= 4 && (p[0] & 0xC0) == 0x40) {  // ChannelData: a datagram back from the peer
        ++units;
        if (f.in_flight) --f.in_flight;
        return;
    }
    answer a;
    if (!parse(p, n, a) || a.klass < 2) return;
    if (o.mode == "binding") {
        if (a.klass == 2) {
            ++units;
        } else {
            ++errors;
        }
        if (f.in_flight) --f.in_flight;
        return;
    }
    if (std::getenv("TURN_FLOOD_TRACE"))
        std::fprintf(stderr, "flow %zu step %d seq %u: answer %u/%d code %d\n", index, int(f.at),
                     f.seq, a.id_lo, a.klass, a.code);
    if (a.id_lo != f.seq) return;  // an answer to a request resent since
    on_stun(f, index, a);
}

void flood::on_stun(flow& f, std::size_t index, const answer& a) {
    f.in_flight = 0;
    if (a.klass == 3 && (a.code == 401 || a.code == 438) && !a.nonce.empty()) {
        if (f.realm != a.realm) make_key(a.realm);
        f.realm = a.realm;
        f.nonce = a.nonce;
        if (f.at == flow::step::challenge) f.at = flow::step::allocate;
        return send_step(f, index);
    }
    if (a.klass == 3 && !(f.at == flow::step::refresh && a.code == 437)) {
        ++errors;
        if (std::getenv("TURN_FLOOD_DEBUG"))
            std::fprintf(stderr, "step %d: error %d\n", int(f.at),
                         a.code);  // start over, with a new 401 round trip
        f.at = flow::step::challenge;
        return send_step(f, index);
    }
    switch (f.at) {
        case flow::step::challenge:
            ++errors;  // an Allocate without credentials must not succeed
            return;
        case flow::step::allocate:
            f.at = o.mode == "relay" ? flow::step::bind : flow::step::refresh;
            return send_step(f, index);
        case flow::step::refresh:
            // The next allocation from a new 5-tuple, as a new client would (coturn keeps a
            // freed allocation's 5-tuple for a while and answers it 437).
            ++units;
            renew(f);
            f.at = flow::step::challenge;
            return send_step(f, index);
        case flow::step::bind:
            f.at = flow::step::flooding;
            f.data = payload;
            f.data[0] = std::uint8_t(0x40 + (index >> 8));
            f.data[1] = std::uint8_t(index);
            return;
        case flow::step::flooding:
            return;
    }
}

void flood::drain_sink() {
    for (;;) {
        const int n = io.receive(sink);
        if (n <= 0) return;
        for (int j = 0; j < n; ++j) {
            ++sink_rx;
            ++units;
            io.queue(sink, io.in[j], io.msgs[j].msg_len, io.from[j]);
        }
        io.flush();
    }
}

void flood::watch(int fd, std::uint32_t index) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = index;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/// What arrived on flow i's socket, then its timeout: what it had in flight is forgotten
/// (counted lost) and a conversation's request is sent again.
void flood::receive_flow(std::size_t i, clock_type::time_point now) {
    auto& f = flows[i];
    for (int n; (n = io.receive(f.fd)) > 0;) {
        f.last_heard = now;
        for (int j = 0; j < n; ++j) on_answer(f, i, io.in[j], io.msgs[j].msg_len);
        if (f.renewed) break;  // the rest were for the old socket
    }
    if (f.renewed) {
        f.renewed = false;
        watch(f.fd, std::uint32_t(i));  // close() took the old one out of the epoll set
    }
}

void flood::check_timeouts(clock_type::time_point now) {
    for (auto& f : flows) {
        if (!f.in_flight || now - f.last_heard <= k_timeout) continue;
        lost += f.in_flight;
        f.in_flight = 0;
        f.last_heard = now;
        if (!f.last_sent.empty() && f.at != flow::step::flooding) {
            f.in_flight = 1;
            io.queue(f.fd, f.last_sent, server);  // the same transaction again
        }
    }
}

int flood::run() {
    server.sin_family = AF_INET;
    server.sin_port = htons(std::uint16_t(o.port));
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ep = ::epoll_create1(0);
    const auto sink_index = std::uint32_t(o.flows);
    if (o.mode == "relay") {
        sink = udp_socket_on_loopback();
        sink_addr = local_of(sink);
        watch(sink, sink_index);
    }
    flows.resize(o.flows);
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < flows.size(); ++i) {
        flows[i].fd = udp_socket_on_loopback(o.mode == "alloc");
        flows[i].last_heard = t0;
        watch(flows[i].fd, std::uint32_t(i));
    }
    const auto deadline = t0 + std::chrono::duration<double>(o.seconds);
    // The relay's setup (allocations, channels) is not measured: the clock starts at flooding.
    auto started = o.mode == "relay" ? clock_type::time_point{} : t0;
    std::uint64_t base = 0;
    auto now = t0;
    epoll_event evs[256];
    while ((o.count == 0 || units - base < o.count) && now < deadline) {
        for (std::size_t i = 0; i < flows.size(); ++i) fill_window(flows[i], i);
        io.flush();
        const int n = ::epoll_wait(ep, evs, 256, 20);
        now = clock_type::now();
        for (int e = 0; e < n; ++e) {
            if (evs[e].data.u32 == sink_index) {
                drain_sink();
            } else {
                receive_flow(evs[e].data.u32, now);
            }
        }
        check_timeouts(now);
        if (started == clock_type::time_point{} &&
            std::all_of(flows.begin(), flows.end(),
                        [](const flow& f) { return f.at == flow::step::flooding; })) {
            started = now;
            base = units;
            lost = 0;
        }
    }
    if (started == clock_type::time_point{}) {
        std::printf("mode=%s error=setup_failed errors=%llu\n", o.mode.c_str(),
                    (unsigned long long)errors);
        return 1;
    }
    const double secs = std::chrono::duration<double>(now - started).count();
    const auto done = units - base;
    std::printf("mode=%s units=%llu seconds=%.3f rate=%.0f lost=%llu errors=%llu\n", o.mode.c_str(),
                (unsigned long long)done, secs, double(done) / secs, (unsigned long long)lost,
                (unsigned long long)errors);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: turn-flood binding|alloc|relay PORT [--seconds S] [--count N]"
                     " [--flows F] [--window W] [--size B] [--user NAME:PASSWORD]\n");
        return 2;
    }
    flood f;
    f.o.mode = argv[1];
    f.o.port = std::atoi(argv[2]);
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--seconds") f.o.seconds = std::atof(v);
        if (k == "--count") f.o.count = std::strtoull(v, nullptr, 10);
        if (k == "--flows") f.o.flows = unsigned(std::atoi(v));
        if (k == "--window") f.o.window = unsigned(std::atoi(v));
        if (k == "--size") f.o.size = std::size_t(std::atoi(v));
        if (k == "--user") {
            const std::string u = v;
            f.o.user = u.substr(0, u.find(':'));
            f.o.password = u.substr(u.find(':') + 1);
        }
    }
    if (f.o.mode != "binding" && f.o.mode != "alloc" && f.o.mode != "relay") return 2;
    if (f.o.port <= 0 || f.o.port > 65535 || f.o.flows == 0 || f.o.flows > 1000) return 2;
    // ChannelData: channel 0x4000 + flow, the length, then the payload (a multiple of 4: no
    // padding).
    f.o.size =
        std::min<std::size_t>((std::max<std::size_t>(f.o.size, 4) + 3) & ~std::size_t(3), 1200);
    f.payload.assign(4 + f.o.size, 0x5a);
    f.payload[2] = std::uint8_t(f.o.size >> 8);
    f.payload[3] = std::uint8_t(f.o.size);
    return f.run();
}
