// tls_server / tls_stream against an in-process OpenSSL client over a socketpair: handshake
// driven through read(), ALPN, SNI, versions, coalesced and partial writes (OpenSSL's retry rule),
// buffered plaintext, resumption with our ticket keys, reload.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "switchyard/net/tls.hpp"

namespace fs = std::filesystem;
using namespace sy;
using namespace sy::net;

namespace {

struct cert_files {
    std::string cert, key;
};

const fs::path& dir() {
    static fs::path d = [] {
        fs::path p = fs::temp_directory_path() / ("sy-tls-unit-" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    return d;
}

cert_files make_cert(const std::string& cn) {
    cert_files f{(dir() / (cn + ".crt")).string(), (dir() / (cn + ".key")).string()};
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout " +
        f.key + " -out " + f.cert + " -days 1 -subj /CN=" + cn + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return f;
}

const cert_files& main_cert() {
    static cert_files f = make_cert("localhost");
    return f;
}
const cert_files& other_cert() {
    static cert_files f = make_cert("other.test");
    return f;
}

std::unique_ptr<tls_server> make_server() {
    tls_settings s;
    s.cert_file = main_cert().cert;
    s.key_file = main_cert().key;
    s.sni.push_back({"*.test", other_cert().cert, other_cert().key});
    auto r = tls_server::create(s);
    EXPECT_TRUE(r) << (r ? "" : r.error());
    return r ? std::move(*r) : nullptr;
}

/// This test's "loop" counters (every test runs on one thread, like one loop).
tls_loop_counters g_counters;

std::uint64_t failures(tls_failure f) {
    return g_counters.failures[static_cast<std::size_t>(f)].get();
}

/// A client SSL on one end of a socketpair, the server tls_stream on the other.
struct pair {
    SSL_CTX* cctx = nullptr;
    SSL* c = nullptr;
    int cfd = -1;
    tls_stream s;
    std::string received;  // server side plaintext

    pair(tls_server& srv, const char* alpn_wire, std::size_t alpn_len, const char* sni = nullptr,
         int max_version = 0, SSL_SESSION* resume = nullptr) {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
        int small = 8192;  // small buffers so writes hit would_block
        ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        ::setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        cfd = fds[0];
        s = srv.make_stream(unique_fd(fds[1]), &g_counters);
        cctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
        if (max_version) SSL_CTX_set_max_proto_version(cctx, max_version);
        if (max_version && max_version < TLS1_2_VERSION)
            SSL_CTX_set_cipher_list(cctx, "DEFAULT@SECLEVEL=0");
        c = SSL_new(cctx);
        SSL_set_fd(c, cfd);
        SSL_set_connect_state(c);
        if (alpn_wire)
            SSL_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(alpn_wire),
                                static_cast<unsigned>(alpn_len));
        if (sni) SSL_set_tlsext_host_name(c, sni);
        if (resume) SSL_set_session(c, resume);
    }
    ~pair() {
        SSL_free(c);
        SSL_CTX_free(cctx);
        ::close(cfd);
    }

    /// Steps both sides until the handshake finished (true) or failed (false).
    bool handshake() {
        char buf[256];
        for (int i = 0; i < 100; ++i) {
            int rc = SSL_do_handshake(c);
            if (rc != 1) {
                int e = SSL_get_error(c, rc);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    ERR_clear_error();
                    return false;
                }
            }
            auto r = s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
            if (!r && r.error() != io_error::would_block) return false;
            if (rc == 1 && s.info().handshake_done()) return true;
        }
        return false;
    }
    /// Client reads whatever is there (non-blocking).
    std::string client_read(int max_reads = 1 << 30) {
        std::string out;
        char buf[65536];
        for (int i = 0; i < max_reads; ++i) {
            int n = SSL_read(c, buf, sizeof buf);
            if (n <= 0) {
                ERR_clear_error();
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
};

}  // namespace

TEST(tls_sni_spec, parses_and_rejects) {
    tls_certificate c;
    ASSERT_TRUE(parse_sni_spec("API.example.com:/a.crt:/a.key", c));
    EXPECT_EQ(c.server_name, "api.example.com");
    EXPECT_EQ(c.cert_file, "/a.crt");
    EXPECT_EQ(c.key_file, "/a.key");
    EXPECT_FALSE(parse_sni_spec("name:cert", c));
    EXPECT_FALSE(parse_sni_spec(":cert:key", c));
    EXPECT_FALSE(parse_sni_spec("name::key", c));
    EXPECT_FALSE(parse_sni_spec("name:cert:", c));
}

TEST(tls_server, create_reports_bad_files) {
    tls_settings s;
    EXPECT_FALSE(tls_server::create(s));
    s.cert_file = main_cert().cert;
    s.key_file = "/nonexistent.key";
    auto r = tls_server::create(s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("private key"), std::string::npos) << r.error();
    s.key_file = other_cert().key;  // does not match the certificate
    r = tls_server::create(s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("mismatch"), std::string::npos) << r.error();
}

TEST(tls_stream, handshake_alpn_h2_then_data_both_ways) {
    auto srv = make_server();
    const std::uint64_t h2_before = g_counters.handshakes[1][0].get();
    static const char alpn[] = "\x08http/1.1\x02h2";
    pair p(*srv, alpn, sizeof alpn - 1);
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.s.info().alpn(), "h2");  // server preference wins
    EXPECT_EQ(p.s.info().version(), "TLSv1.3");
    ASSERT_EQ(SSL_write(p.c, "ping", 4), 4);
    char buf[64];
    auto r = p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(buf, *r), "ping");
    // Several small slices go out as one record and arrive in order.
    std::string a = "hello ", b = "tls ", c = "world";
    iovec iov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    auto w = p.s.writev(iov, 3);
    ASSERT_TRUE(w);
    EXPECT_EQ(*w, 15u);
    EXPECT_EQ(p.client_read(), "hello tls world");
    EXPECT_EQ(g_counters.handshakes[1][0].get(), h2_before + 1);  // TLSv1.3, h2
}

TEST(tls_stream, http11_only_client_and_no_alpn) {
    auto srv = make_server();
    static const char alpn[] = "\x08http/1.1";
    pair p(*srv, alpn, sizeof alpn - 1);
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.s.info().alpn(), "http/1.1");
    const std::uint64_t none_before = g_counters.handshakes[1][2].get();
    pair q(*srv, nullptr, 0);
    ASSERT_TRUE(q.handshake());
    EXPECT_EQ(q.s.info().alpn(), "");
    EXPECT_EQ(g_counters.handshakes[1][2].get(), none_before + 1);  // TLSv1.3, no ALPN
}

TEST(tls_stream, tls11_refused_tls12_accepted) {
    auto srv = make_server();
    const std::uint64_t before = failures(tls_failure::no_shared);
    pair old(*srv, nullptr, 0, nullptr, TLS1_1_VERSION);
    EXPECT_FALSE(old.handshake());
    EXPECT_EQ(failures(tls_failure::no_shared), before + 1);
    const std::uint64_t v12 = g_counters.handshakes[0][2].get();
    pair p12(*srv, nullptr, 0, nullptr, TLS1_2_VERSION);
    ASSERT_TRUE(p12.handshake());
    EXPECT_EQ(p12.s.info().version(), "TLSv1.2");
    EXPECT_EQ(g_counters.handshakes[0][2].get(), v12 + 1);
}

TEST(tls_stream, sni_wildcard_picks_the_other_certificate) {
    auto srv = make_server();
    auto subject = [](SSL* c) {
        X509* x = SSL_get1_peer_certificate(c);
        char buf[256] = {};
        X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
        X509_free(x);
        return std::string(buf);
    };
    pair p(*srv, nullptr, 0, "other.test");
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(subject(p.c), "/CN=other.test");
    EXPECT_EQ(p.s.info().server_name(), "other.test");
    pair q(*srv, nullptr, 0, "nobody.example");
    ASSERT_TRUE(q.handshake());
    EXPECT_EQ(subject(q.c), "/CN=localhost");
}

TEST(tls_stream, partial_writes_resume_with_the_same_bytes) {
    auto srv = make_server();
    pair p(*srv, nullptr, 0);
    ASSERT_TRUE(p.handshake());
    // Big payload in uneven slices; the "connection" re-offers unconsumed bytes like the real
    // output queue does, while the client drains a little at a time.
    std::string payload(600 * 1024, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 13);
    std::size_t sent = 0;
    std::string got;
    int stalls = 0;
    while (sent < payload.size() || got.size() < payload.size()) {
        if (sent < payload.size()) {
            std::vector<iovec> iov;
            for (std::size_t off = sent; off < payload.size() && iov.size() < 8;) {
                std::size_t n = std::min<std::size_t>(payload.size() - off, 3000 + off % 20000);
                iov.push_back({payload.data() + off, n});
                off += n;
            }
            auto w = p.s.writev(iov.data(), static_cast<int>(iov.size()));
            if (w) {
                sent += *w;
            } else {
                ASSERT_EQ(w.error(), io_error::would_block);
                ++stalls;
            }
        }
        got += p.client_read(1);
        ASSERT_LT(stalls, 100000);
    }
    EXPECT_GT(stalls, 0);  // the socket buffer did push back
    ASSERT_EQ(got.size(), payload.size());
    EXPECT_TRUE(got == payload);
}

TEST(tls_stream, buffered_plaintext_is_reported) {
    auto srv = make_server();
    pair p(*srv, nullptr, 0);
    ASSERT_TRUE(p.handshake());
    std::string big(16000, 'x');
    ASSERT_EQ(SSL_write(p.c, big.data(), static_cast<int>(big.size())), 16000);
    char buf[100];
    auto r = p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 100u);
    // The rest of the record is inside OpenSSL: no poller event would announce it.
    EXPECT_EQ(p.s.buffered(), 15900u);
}

TEST(tls_stream, close_notify_reads_as_eof) {
    auto srv = make_server();
    pair p(*srv, nullptr, 0);
    ASSERT_TRUE(p.handshake());
    SSL_shutdown(p.c);
    char buf[64];
    auto r = p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), io_error::eof);
}

TEST(tls_stream, tls12_ticket_resumes_across_reload) {
    auto srv = make_server();
    SSL_SESSION* sess = nullptr;
    {
        pair p(*srv, nullptr, 0, nullptr, TLS1_2_VERSION);
        ASSERT_TRUE(p.handshake());
        EXPECT_FALSE(p.s.info().resumed());
        sess = SSL_get1_session(p.c);
        ASSERT_NE(sess, nullptr);
        ASSERT_TRUE(SSL_SESSION_has_ticket(sess));
        SSL_shutdown(p.c);  // an unclean end would mark the session not resumable
    }
    ASSERT_TRUE(srv->reload());  // ticket keys survive a certificate reload
    EXPECT_EQ(srv->reloads().ok.load(), 1u);
    const std::uint64_t resumed_before = g_counters.resumed.get();
    pair q(*srv, nullptr, 0, nullptr, TLS1_2_VERSION, sess);
    ASSERT_TRUE(q.handshake());
    EXPECT_EQ(SSL_session_reused(q.c), 1);
    EXPECT_TRUE(q.s.info().resumed());
    EXPECT_EQ(g_counters.resumed.get(), resumed_before + 1);
    SSL_SESSION_free(sess);
    // A ticket from another server (other master secret) is not accepted: full handshake.
    auto other = make_server();
    SSL_SESSION* s2 = nullptr;
    {
        pair p(*other, nullptr, 0, nullptr, TLS1_2_VERSION);
        ASSERT_TRUE(p.handshake());
        s2 = SSL_get1_session(p.c);
        SSL_shutdown(p.c);
    }
    pair r(*srv, nullptr, 0, nullptr, TLS1_2_VERSION, s2);
    ASSERT_TRUE(r.handshake());
    EXPECT_FALSE(r.s.info().resumed());
    SSL_SESSION_free(s2);
}

TEST(tls_server, failed_reload_keeps_the_current_certificates) {
    auto dirp = dir() / "reload";
    fs::create_directories(dirp);
    fs::copy_file(main_cert().cert, dirp / "c.pem", fs::copy_options::overwrite_existing);
    fs::copy_file(main_cert().key, dirp / "k.pem", fs::copy_options::overwrite_existing);
    tls_settings s;
    s.cert_file = (dirp / "c.pem").string();
    s.key_file = (dirp / "k.pem").string();
    auto srv = tls_server::create(s);
    ASSERT_TRUE(srv);
    fs::copy_file(other_cert().key, dirp / "k.pem", fs::copy_options::overwrite_existing);
    auto r = (*srv)->reload();
    ASSERT_FALSE(r);
    EXPECT_EQ((*srv)->reloads().failed.load(), 1u);
    EXPECT_EQ((*srv)->reloads().ok.load(), 0u);
    pair p(**srv, nullptr, 0);
    EXPECT_TRUE(p.handshake());
}

TEST(tls_stream, handshake_failures_are_classified_once) {
    auto srv = make_server();
    char buf[64];
    auto read_fails = [&](pair& p) {
        for (int i = 0; i < 10; ++i) {
            auto r = p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
            if (!r && r.error() != io_error::would_block) return true;
        }
        return false;
    };
    {  // Plain HTTP to the TLS port: not a TLS record at all.
        const std::uint64_t before = failures(tls_failure::protocol);
        const std::uint64_t timeouts = failures(tls_failure::timeout);
        pair p(*srv, nullptr, 0);
        const std::string_view req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_EQ(::write(p.cfd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
        EXPECT_TRUE(read_fails(p));
        (void)p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
        p.s.info().count_handshake_timeout();  // already failed: not counted again
        EXPECT_EQ(failures(tls_failure::protocol), before + 1);
        EXPECT_EQ(failures(tls_failure::timeout), timeouts);
    }
    {  // The client does not trust our certificate: it sends a fatal alert.
        const std::uint64_t before = failures(tls_failure::client_alert);
        pair p(*srv, nullptr, 0);
        SSL_set_verify(p.c, SSL_VERIFY_PEER, nullptr);
        EXPECT_FALSE(p.handshake());
        EXPECT_TRUE(read_fails(p));
        EXPECT_EQ(failures(tls_failure::client_alert), before + 1);
    }
    {  // The client goes away mid-handshake.
        const std::uint64_t before = failures(tls_failure::other);
        pair p(*srv, nullptr, 0);
        ::shutdown(p.cfd, SHUT_WR);
        EXPECT_TRUE(read_fails(p));
        EXPECT_EQ(failures(tls_failure::other), before + 1);
    }
    {  // The handler's deadline: counted once, and never after a finished handshake.
        const std::uint64_t before = failures(tls_failure::timeout);
        pair p(*srv, nullptr, 0);
        (void)p.s.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
        p.s.info().count_handshake_timeout();
        p.s.info().count_handshake_timeout();
        EXPECT_EQ(failures(tls_failure::timeout), before + 1);
        pair q(*srv, nullptr, 0);
        ASSERT_TRUE(q.handshake());
        q.s.info().count_handshake_timeout();
        EXPECT_EQ(failures(tls_failure::timeout), before + 1);
    }
}

TEST(tls_stream, open_connections_gauge_counts_established_until_close) {
    auto srv = make_server();
    const std::uint64_t est = g_counters.established.get();
    const std::uint64_t ended = g_counters.ended.get();
    pair p(*srv, nullptr, 0);
    pair never(*srv, nullptr, 0);  // no handshake: not established, its close does not count
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(g_counters.established.get(), est + 1);
    p.s.close(false);
    p.s.close(false);
    never.s.close(false);
    EXPECT_EQ(g_counters.ended.get(), ended + 1);
}
