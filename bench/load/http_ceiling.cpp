// http-ceiling: the epoll ceiling of HTTP/1.1 request-response on this machine, for
// bench/load/http_vs_nginx.py.
//
// A no-parsing epoll responder: it reads what a connection sent, counts the request heads in it
// (each "\r\n\r\n"), and writes that many canned "Hello, World!" responses in one send(); a head
// with "Connection: close" anywhere in the read closes the connection after its reply. No
// request line, no headers, no routing. One recv() and one send() per read is the least an
// epoll server can do per keep-alive request, so its figure is what switchyard's epoll build
// cannot exceed and what an io_uring build has to beat (issue 17 §3: ≥ 1.15× this).
//
//     http-ceiling PORT [THREADS]
//
// THREADS (default 2) loops on SO_REUSEPORT sockets, one thread each, level-triggered epoll.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::string_view k_reply =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(fd, 4096) < 0) {
        std::perror("http-ceiling: bind/listen");
        std::exit(1);
    }
    return fd;
}

/// Request heads in b (the end of each), and whether one asked to close.
int count_heads(std::string_view b, bool& close) {
    int n = 0;
    for (std::size_t at = b.find("\r\n\r\n"); at != std::string_view::npos;
         at = b.find("\r\n\r\n", at + 4))
        ++n;
    close = b.find("onnection: close") != std::string_view::npos;
    return n;
}

void serve(int port) {
    const int lfd = listen_on(port);
    const int ep = epoll_create1(0);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    std::string out;
    char buf[16384];
    epoll_event evs[256];
    for (;;) {
        const int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int c; (c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event ce{};
                    ce.events = EPOLLIN;
                    ce.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            const ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                close(fd);  // a short request split over two reads is not a case wrk makes
                continue;
            }
            bool close_after = false;
            const int heads =
                count_heads(std::string_view(buf, static_cast<std::size_t>(r)), close_after);
            out.clear();
            for (int h = 0; h < heads; ++h) out += k_reply;
            if (!out.empty()) (void)send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            if (close_after) close(fd);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: http-ceiling PORT [THREADS]\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) ts.emplace_back(serve, port);
    for (auto& t : ts) t.join();
}
