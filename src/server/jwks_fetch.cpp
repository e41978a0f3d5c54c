// fetch_url (server/jwks.hpp): one blocking HTTP/1.1 GET with a deadline, for the thread pool and
// the start-up thread (never a loop). Plain sockets with poll(2) for the deadline, OpenSSL for
// https, the project's HTTP/1.1 response parser for the framing (Content-Length, chunked, or
// until close).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include "jwks.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/fd.hpp"
#include "switchyard/proto/http1/response_parser.hpp"

namespace sy::server {

namespace {

using steady = std::chrono::steady_clock;
using fetch_result = result<std::string, std::string>;

struct url_parts {
    bool tls = false;
    std::string host;  // without brackets
    std::string port;
    std::string target;  // "/path?query"
};

result<url_parts, std::string> parse_url(std::string_view url) {
    url_parts u;
    if (url.starts_with("https://")) {
        u.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return unexpected(std::string("not an http:// or https:// URL"));
    }
    const std::size_t slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (authority.find('@') != std::string_view::npos)
        return unexpected(std::string("user information in the URL is not supported"));
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return unexpected(std::string("bad IPv6 host"));
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':')
            port = authority.substr(close + 2);
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return unexpected(std::string("no host in the URL"));
    u.host = std::string(host);
    u.port = port.empty() ? (u.tls ? "443" : "80") : std::string(port);
    return u;
}

int ms_left(steady::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits for events on fd until the deadline: false on timeout or error.
bool wait_for(int fd, short events, steady::time_point deadline) {
    pollfd p{fd, events, 0};
    for (;;) {
        const int n = ::poll(&p, 1, ms_left(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

result<unique_fd, std::string> connect_to(const url_parts& u, steady::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (const int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &list); rc != 0)
        return unexpected(fmt::format("resolve {}: {}", u.host, ::gai_strerror(rc)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
        unique_fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) continue;
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last = std::strerror(errno);
            continue;
        }
        if (!wait_for(fd.get(), POLLOUT, deadline)) return unexpected(std::string("timed out"));
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) return fd;
        last = std::strerror(err);
    }
    return unexpected(fmt::format("connect {}:{}: {}", u.host, u.port, last));
}

std::string ssl_error_text() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "TLS failure";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// One connection, plain or TLS, with the fetch's deadline on every wait.
class channel {
  public:
    channel(unique_fd fd, steady::time_point deadline) : fd_(std::move(fd)), deadline_(deadline) {}

    result<void, std::string> start_tls(const url_parts& u, const fetch_options& o) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        if (!ctx_) return unexpected(ssl_error_text());
        SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        // A server that closes without close_notify (many do) ends the body; the HTTP framing
        // still detects a truncated response.
        SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
        const int loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_.get())
                                             : SSL_CTX_load_verify_locations(
                                                   ctx_.get(), o.ca_file.c_str(), nullptr);
        if (loaded != 1)
            return unexpected(fmt::format("CA file {}: {}", o.ca_file, ssl_error_text()));
        ssl_.reset(SSL_new(ctx_.get()));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1) return unexpected(ssl_error_text());
        in6_addr ip{};
        const bool is_ip = ::inet_pton(AF_INET, u.host.c_str(), &ip) == 1 ||
                           ::inet_pton(AF_INET6, u.host.c_str(), &ip) == 1;
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), u.host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl_.get(), u.host.c_str());
            SSL_set1_host(ssl_.get(), u.host.c_str());
        }
        for (;;) {
            const int rc = SSL_connect(ssl_.get());
            if (rc == 1) return {};
            if (!wait_ssl(rc)) {
                const long v = SSL_get_verify_result(ssl_.get());
                if (v != X509_V_OK)
                    return unexpected(
                        fmt::format("TLS: certificate: {}", X509_verify_cert_error_string(v)));
                return unexpected("TLS: " + ssl_error_text());
            }
        }
    }

    bool write_all(std::string_view data) {
        while (!data.empty()) {
            long n = 0;
            if (ssl_) {
                n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
                if (n <= 0) {
                    if (!wait_ssl(static_cast<int>(n))) return false;
                    continue;
                }
            } else {
                n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
                if (n < 0) {
                    if ((errno != EAGAIN && errno != EINTR) ||
                        !wait_for(fd_.get(), POLLOUT, deadline_))
                        return false;
                    continue;
                }
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Bytes read (>0), 0 at the end of the stream, -1 on an error or the deadline.
    long read_some(char* buf, std::size_t cap) {
        for (;;) {
            if (ssl_) {
                const int n = SSL_read(ssl_.get(), buf, static_cast<int>(cap));
                if (n > 0) return n;
                const int e = SSL_get_error(ssl_.get(), n);
                if (e == SSL_ERROR_ZERO_RETURN) return 0;
                if (!wait_ssl(n)) return -1;
            } else {
                const long n = ::recv(fd_.get(), buf, cap, 0);
                if (n >= 0) return n;
                if ((errno != EAGAIN && errno != EINTR) || !wait_for(fd_.get(), POLLIN, deadline_))
                    return -1;
            }
        }
    }

  private:
    // After an SSL call returned rc <= 0: waits for what it wants; false for a real error.
    bool wait_ssl(int rc) {
        switch (SSL_get_error(ssl_.get(), rc)) {
            case SSL_ERROR_WANT_READ:
                return wait_for(fd_.get(), POLLIN, deadline_);
            case SSL_ERROR_WANT_WRITE:
                return wait_for(fd_.get(), POLLOUT, deadline_);
            default:
                return false;
        }
    }

    struct ctx_free {
        void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
    };
    struct ssl_free {
        void operator()(SSL* s) const { SSL_free(s); }
    };
    unique_fd fd_;
    steady::time_point deadline_;
    std::unique_ptr<SSL_CTX, ctx_free> ctx_;
    std::unique_ptr<SSL, ssl_free> ssl_;
};

// The body of a complete 200 response in raw (read until the peer closed).
fetch_result parse_response(const std::string& raw, std::uint64_t max_bytes) {
    http1::limits lim;
    lim.max_body_bytes = max_bytes;
    http1::response_parser p(lim);
    byte_view in = as_bytes(raw);
    std::string body;
    int status = 0;
    bool finished = false;
    for (;;) {
        http1::parse_result r = p.feed(in);
        if (r.out == http1::outcome::need_more && r.ev == http1::event::none) {
            in = in.subspan(r.consumed);
            if (r.consumed > 0 && !in.empty()) continue;
            r = p.finish();  // the peer closed: ends an until-close body
            finished = true;
        }
        if (r.out == http1::outcome::error)
            return unexpected(std::string(finished ? "truncated response" : "bad HTTP response"));
        if (r.ev == http1::event::head) status = p.head().status;
        if (r.ev == http1::event::body) {
            body.append(as_string_view(r.body));
            if (body.size() > max_bytes) return unexpected(std::string("response too large"));
        }
        if (r.ev == http1::event::end && status >= 200) break;
        if (finished) return unexpected(std::string("truncated response"));
        in = in.subspan(r.consumed);
    }
    if (status != 200) return unexpected(fmt::format("HTTP status {}", status));
    return body;
}

}  // namespace

fetch_result fetch_url(const std::string& url, const fetch_options& o) {
    auto u = parse_url(url);
    if (!u) return unexpected(u.error());
    const auto deadline = steady::now() + std::chrono::milliseconds(o.timeout_ms);
    auto fd = connect_to(*u, deadline);
    if (!fd) return unexpected(fd.error());
    channel ch(std::move(*fd), deadline);
    if (u->tls) {
        if (auto r = ch.start_tls(*u, o); !r) return unexpected(r.error());
    }
    const bool v6 = u->host.find(':') != std::string::npos;
    const std::string request = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nAccept: application/json\r\n"
        "User-Agent: switchyard\r\nConnection: close\r\n\r\n",
        u->target, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
    if (!ch.write_all(request)) return unexpected(std::string("sending the request failed"));
    std::string raw;
    char buf[16384];
    const std::uint64_t cap = o.max_bytes + 64 * 1024;  // the body plus a generous head
    for (;;) {
        const long n = ch.read_some(buf, sizeof buf);
        if (n < 0) return unexpected(std::string("reading the response failed or timed out"));
        if (n == 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
        if (raw.size() > cap) return unexpected(std::string("response too large"));
    }
    return parse_response(raw, o.max_bytes);
}

}  // namespace sy::server
