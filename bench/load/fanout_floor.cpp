// fanout-floor: the physical limit of push fan-out on this machine, for
// bench/load/push_vs_nchan.py.
//
// It accepts the same requests sy-bench sends to a pub/sub server (GET /sub/{topic} as SSE or a
// WebSocket upgrade, POST /pub/{topic}) and does the least a server can do with them: each
// published body is framed once (one SSE chunk, or one WebSocket text frame) and written to every
// subscriber with one send() each. No topics (every subscriber gets every message), no history,
// no ids, no parsing beyond finding the end of a request head and its Content-Length. What it
// spends per delivery is the cost of one send() of a small frame to a loopback TCP socket, the
// floor a server with one write per delivery cannot go below.
//
//     fanout-floor PORT
//
// One thread, one epoll loop: the figure it serves is server CPU per delivery, which does not
// depend on how many threads share the work (the cost is the send() itself).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

enum class kind { unknown, publisher, sse, ws };

struct conn {
    int fd = -1;
    kind k = kind::unknown;
    std::string in;
    std::string pending;  // bytes a full socket did not take; sent on EPOLLOUT
};

int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16384) != 0) {
        std::perror("fanout-floor: bind/listen");
        std::exit(1);
    }
    return fd;
}

std::string header_value(const std::string& head, const char* name) {
    // Case-insensitive search for "\r\nName:" in the request head.
    std::string lower = head, key = std::string("\r\n") + name + ":";
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto p = lower.find(key);
    if (p == std::string::npos) return {};
    p += key.size();
    auto e = head.find("\r\n", p);
    std::string v = head.substr(p, e - p);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return v;
}

std::string ws_accept(const std::string& key) {
    std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
    unsigned char out[64];
    int n = EVP_EncodeBlock(out, md, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

class loop {
  public:
    explicit loop(int port) : lfd_(listen_on(port)), ep_(epoll_create1(0)) { add(lfd_, EPOLLIN); }

    void run() {
        epoll_event evs[256];
        for (;;) {
            int n = epoll_wait(ep_, evs, 256, -1);
            for (int i = 0; i < n; ++i) {
                int fd = evs[i].data.fd;
                if (fd == lfd_) {
                    accept_all();
                    continue;
                }
                auto it = conns_.find(fd);
                if (it == conns_.end()) continue;
                if (evs[i].events & EPOLLOUT) flush(*it->second);
                if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(*it->second);
            }
        }
    }

  private:
    void add(int fd, uint32_t ev) {
        epoll_event e{};
        e.events = ev;
        e.data.fd = fd;
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e);
    }

    void accept_all() {
        for (;;) {
            int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK);
            if (fd < 0) return;
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<conn>();
            c->fd = fd;
            add(fd, EPOLLIN);
            conns_.emplace(fd, std::move(c));
        }
    }

    void close_conn(conn& c) {
        int fd = c.fd;
        if (c.k == kind::sse || c.k == kind::ws) {
            for (auto& s : subs_)
                if (s == &c) {
                    s = subs_.back();
                    subs_.pop_back();
                    break;
                }
        }
        close(fd);
        conns_.erase(fd);
    }

    void on_readable(conn& c) {
        char buf[65536];
        for (;;) {
            ssize_t n = recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                if (c.k == kind::sse || c.k == kind::ws) continue;  // subscribers' input ignored
                c.in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) return close_conn(c);
            if (errno == EAGAIN) break;
        }
        handle_requests(c);
    }

    void handle_requests(conn& c) {
        while (c.k == kind::unknown || c.k == kind::publisher) {
            auto end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) return;
            std::string head = c.in.substr(0, end);
            if (head.rfind("GET /sub/", 0) == 0) {
                c.in.clear();
                subscribe(c, head);
                return;
            }
            std::size_t len =
                std::strtoul(header_value(head, "Content-Length").c_str(), nullptr, 10);
            if (c.in.size() < end + 4 + len) return;
            std::string body = c.in.substr(end + 4, len);
            c.in.erase(0, end + 4 + len);
            c.k = kind::publisher;
            send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            if (head.rfind("POST /pub/", 0) == 0) fan_out(body);
        }
    }

    void subscribe(conn& c, const std::string& head) {
        std::string key = header_value(head, "Sec-WebSocket-Key");
        if (!key.empty()) {
            c.k = kind::ws;
            send_all(c,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Accept: " +
                         ws_accept(key) + "\r\n\r\n");
        } else {
            c.k = kind::sse;
            send_all(c,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
                     "no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
        }
        subs_.push_back(&c);
    }

    // Each message is framed once per transport; then one send() per subscriber.
    void fan_out(const std::string& body) {
        std::string sse = "data: " + body + "\n\n";
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", sse.size());
        sse = size + sse + "\r\n";
        std::string ws;
        ws.push_back(static_cast<char>(0x81));
        if (body.size() < 126) {
            ws.push_back(static_cast<char>(body.size()));
        } else {
            ws.push_back(126);
            ws.push_back(static_cast<char>(body.size() >> 8));
            ws.push_back(static_cast<char>(body.size() & 0xff));
        }
        ws += body;
        for (std::size_t i = 0; i < subs_.size(); ++i)
            send_all(*subs_[i], subs_[i]->k == kind::ws ? ws : sse);
    }

    void send_all(conn& c, const std::string& bytes) {
        if (!c.pending.empty()) {
            c.pending += bytes;
            return;
        }
        ssize_t n = send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(bytes.size())) return;
        c.pending.assign(bytes, n > 0 ? static_cast<std::size_t>(n) : 0);
        if (n < 0 && errno != EAGAIN) return;  // closed: the read side reports it
        watch_out(c, true);
    }

    void flush(conn& c) {
        while (!c.pending.empty()) {
            ssize_t n = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            c.pending.erase(0, static_cast<std::size_t>(n));
        }
        watch_out(c, false);
    }

    void watch_out(conn& c, bool on) {
        epoll_event e{};
        e.events = EPOLLIN | (on ? EPOLLOUT : 0u);
        e.data.fd = c.fd;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e);
    }

    int lfd_;
    int ep_;
    std::unordered_map<int, std::unique_ptr<conn>> conns_;
    std::vector<conn*> subs_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fanout-floor PORT\n");
        return 2;
    }
    loop l(std::atoi(argv[1]));
    std::printf("fanout-floor listening on 127.0.0.1:%s\n", argv[1]);
    std::fflush(stdout);
    l.run();
}
