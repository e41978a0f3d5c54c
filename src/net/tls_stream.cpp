// tls_stream: OpenSSL over a non-blocking socket (socket BIO), driven by the connection.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switchyard/base/log.hpp"
#include "tls_internal.hpp"

namespace sy::net {

namespace {
// One TLS record's worth of plaintext: small slices are coalesced up to this so records are full.
constexpr std::size_t k_record = 16 * 1024;

unsigned char* scratch() {
    // writev/sendfile are synchronous on the loop thread: one buffer per thread suffices.
    thread_local unsigned char buf[k_record];
    return buf;
}

// The one table from OpenSSL's reason codes (ERR_LIB_SSL) to failure classes. Received alerts
// are reported as SSL_AD_REASON_OFFSET + the alert number (RFC 8446 6), so they are a range.
struct reason_class {
    int reason;
    tls_failure cls;
};
constexpr reason_class k_reasons[] = {
    {SSL_R_UNSUPPORTED_PROTOCOL, tls_failure::no_shared},  // e.g. a TLS 1.1-only client
    {SSL_R_VERSION_TOO_LOW, tls_failure::no_shared},
    {SSL_R_WRONG_SSL_VERSION, tls_failure::no_shared},
    {SSL_R_NO_PROTOCOLS_AVAILABLE, tls_failure::no_shared},
    {SSL_R_INAPPROPRIATE_FALLBACK, tls_failure::no_shared},
    {SSL_R_NO_SHARED_CIPHER, tls_failure::no_shared},
    {SSL_R_NO_CIPHERS_AVAILABLE, tls_failure::no_shared},
    {SSL_R_NO_SHARED_GROUPS, tls_failure::no_shared},
    {SSL_R_NO_SUITABLE_KEY_SHARE, tls_failure::no_shared},
    {SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS, tls_failure::no_shared},
    {SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, tls_failure::no_shared},
    {SSL_R_UNEXPECTED_EOF_WHILE_READING, tls_failure::other},  // peer vanished mid-handshake
};

/// ssl_error: SSL_get_error's answer; packed: ERR_peek_error() (0 when the queue is empty).
tls_failure classify_failure(int ssl_error, unsigned long packed) {
    if (ssl_error != SSL_ERROR_SSL || packed == 0 || ERR_GET_LIB(packed) != ERR_LIB_SSL)
        return tls_failure::other;  // SSL_ERROR_SYSCALL (reset, EOF), other libraries
    const int reason = ERR_GET_REASON(packed);
    if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
        return tls_failure::client_alert;
    for (const auto& r : k_reasons) {
        if (r.reason == reason) return r.cls;
    }
    // Everything else the SSL library rejects during a handshake is malformed or unexpected
    // input: "wrong version number" / "http request" (not TLS), bad records, decode errors.
    return tls_failure::protocol;
}
}  // namespace

const char* to_string(tls_failure f) {
    switch (f) {
        case tls_failure::timeout:
            return "timeout";
        case tls_failure::protocol:
            return "protocol";
        case tls_failure::no_shared:
            return "no_shared";
        case tls_failure::client_alert:
            return "client_alert";
        case tls_failure::other:
        case tls_failure::count_:
            break;
    }
    return "other";
}

// ---------------------------------------------------------------- tls_info

std::string_view tls_info::alpn() const {
    if (!ssl_) return {};
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view tls_info::server_name() const {
    const char* n = ssl_ ? SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name) : nullptr;
    return n ? std::string_view(n) : std::string_view();
}

bool tls_info::resumed() const {
    return ssl_ && SSL_session_reused(ssl_) == 1;
}

std::string_view tls_info::version() const {
    return ssl_ ? std::string_view(SSL_get_version(ssl_)) : std::string_view();
}

void tls_info::count_handshake_timeout() const {
    if (failed_ || done_) return;
    failed_ = true;
    if (counters_) counters_->failures[static_cast<std::size_t>(tls_failure::timeout)].add();
}

void tls_stream::ssl_deleter::operator()(tls_info* p) const {
    if (p->ssl_) SSL_free(p->ssl_);
    delete p;
}

// ---------------------------------------------------------------- tls_stream

tls_stream::~tls_stream() = default;

result<std::size_t, io_error> tls_stream::fail(int rc, bool reading) {
    SSL* ssl = st_->ssl_;
    const int err = SSL_get_error(ssl, rc);
    const int saved_errno = errno;
    ERR_clear_error();  // OpenSSL wants an empty queue before the next I/O call
    switch (err) {
        case SSL_ERROR_WANT_READ:
            // A write that must read first (a client's handshake waiting for the server's
            // flight) is retried when the socket is readable, not on EPOLLOUT (always true).
            if (!reading) st_->write_wants_read_ = true;
            return unexpected(io_error::would_block);
        case SSL_ERROR_WANT_WRITE:
            // A read that must write first (handshake flight, tickets, key update) waits for
            // writability; the connection asks read_wants_write() and arms EPOLLOUT.
            if (reading) st_->read_wants_write_ = true;
            return unexpected(io_error::would_block);
        case SSL_ERROR_ZERO_RETURN:
            return unexpected(io_error::eof);  // close_notify
        case SSL_ERROR_SYSCALL:
            if (saved_errno == 0) return unexpected(io_error::eof);
            return unexpected(io_error_from_errno(saved_errno));
        default:
            return unexpected(io_error::other);
    }
}

result<void, io_error> tls_stream::handshake(bool reading) {
    SSL* ssl = st_->ssl_;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
        st_->done_ = true;
        if (auto* k = st_->counters_) {
            const int v = SSL_version(ssl) == TLS1_3_VERSION ? 1 : 0;
            const auto proto = st_->alpn();
            const int a = proto == "h2" ? 0 : proto == "http/1.1" ? 1 : 2;
            k->handshakes[v][a].add();
            if (SSL_session_reused(ssl)) k->resumed.add();
            k->established.add();
        }
        return {};
    }
    const int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        const unsigned long packed = ERR_peek_error();
        if (!st_->failed_) {  // once per connection (a failed read is not retried, but be sure)
            st_->failed_ = true;
            if (auto* k = st_->counters_)
                k->failures[static_cast<std::size_t>(classify_failure(err, packed))].add();
        }
        if (err == SSL_ERROR_SSL) {
            char buf[160];
            ERR_error_string_n(packed, buf, sizeof buf);
            if (SSL_is_server(ssl) == 1) {
                log::debug("tls handshake failed on fd {}: {}", fd_.get(), buf);
            } else {
                // Our own outbound connection (tls_client): the operator needs the reason.
                const long v = SSL_get_verify_result(ssl);
                log::warn("tls: handshake with the server failed: {}{}{}", buf,
                          v != X509_V_OK ? ": " : "",
                          v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
            }
        }
    }
    return unexpected(fail(rc, reading).error());
}

result<std::size_t, io_error> tls_stream::read(mutable_byte_view buf) {
    if (!st_ || !st_->ssl_) return unexpected(io_error::other);
    st_->read_wants_write_ = false;
    if (!st_->done_) {
        if (auto h = handshake(true); !h) return unexpected(h.error());
    }
    std::size_t n = 0;
    int rc = SSL_read_ex(st_->ssl_, buf.data(), buf.size(), &n);
    if (rc == 1) return n;
    return fail(rc, true);
}

result<std::size_t, io_error> tls_stream::writev(const iovec* iov, int n) {
    if (!st_ || !st_->ssl_) return unexpected(io_error::other);
    st_->write_wants_read_ = false;
    if (!st_->done_) {
        // A client writes first: its first write sends the ClientHello and drives the rest.
        if (auto h = handshake(false); !h) return unexpected(h.error());
    }
    std::size_t total = 0;
    int i = 0;
    std::size_t off = 0;  // into iov[i]
    while (i < n) {
        const unsigned char* p;
        std::size_t len;
        const std::size_t left = iov[i].iov_len - off;
        if (left >= k_record || i + 1 == n) {
            // Large slice (or the last one): encrypt straight from it.
            p = static_cast<const unsigned char*>(iov[i].iov_base) + off;
            len = left;
        } else {
            // Coalesce small slices into one record. The same bytes are gathered again on a
            // retry, since the connection re-offers everything it did not consume.
            unsigned char* s = scratch();
            len = 0;
            int j = i;
            std::size_t o = off;
            while (j < n && len < k_record) {
                std::size_t take = std::min(iov[j].iov_len - o, k_record - len);
                std::memcpy(s + len, static_cast<const unsigned char*>(iov[j].iov_base) + o, take);
                len += take;
                o = 0;
                ++j;
            }
            p = s;
        }
        if (len == 0) {
            ++i;
            off = 0;
            continue;
        }
        std::size_t w = 0;
        int rc = SSL_write_ex(st_->ssl_, p, len, &w);
        if (rc != 1) {
            if (total > 0) {
                ERR_clear_error();
                return total;  // report progress; the retry re-offers the failed bytes
            }
            return fail(rc, false);
        }
        total += w;
        // Advance the cursor by w bytes.
        while (w > 0 && i < n) {
            std::size_t avail = iov[i].iov_len - off;
            if (w < avail) {
                off += w;
                w = 0;
            } else {
                w -= avail;
                ++i;
                off = 0;
            }
        }
        while (i < n && iov[i].iov_len == off) {
            ++i;
            off = 0;
        }
    }
    return total;
}

result<std::size_t, io_error> tls_stream::sendfile(int file_fd, off_t off, std::size_t len) {
    if (!st_ || !st_->ssl_) return unexpected(io_error::other);
    st_->write_wants_read_ = false;
    std::size_t total = 0;
    unsigned char* s = scratch();
    while (total < len) {
        std::size_t want = std::min(len - total, k_record);
        ssize_t r = ::pread(file_fd, s, want, off + static_cast<off_t>(total));
        if (r <= 0) {
            if (total > 0) return total;
            return unexpected(r == 0 ? io_error::other : io_error_from_errno(errno));
        }
        std::size_t w = 0;
        int rc = SSL_write_ex(st_->ssl_, s, static_cast<std::size_t>(r), &w);
        if (rc != 1) {
            if (total > 0) {
                ERR_clear_error();
                return total;
            }
            return fail(rc, false);
        }
        total += w;
    }
    return total;
}

std::size_t tls_stream::buffered() const {
    return st_ && st_->ssl_ && st_->done_ ? static_cast<std::size_t>(SSL_pending(st_->ssl_)) : 0;
}

void tls_stream::shutdown_write() {
    if (st_ && st_->ssl_ && st_->done_) {
        (void)SSL_shutdown(st_->ssl_);  // close_notify; best effort (the socket may be full)
        ERR_clear_error();
    }
    if (fd_) ::shutdown(fd_.get(), SHUT_WR);
}

void tls_stream::close(bool abort) {
    if (st_ && st_->done_ && !st_->ended_) {
        st_->ended_ = true;  // the connection closes its stream once, on its loop
        if (st_->counters_) st_->counters_->ended.add();
    }
    if (abort && fd_) (void)set_linger_zero(fd_.get());
    // The SSL object stays until destruction (tls_info readers); the fd goes now.
    fd_.reset();
}

}  // namespace sy::net
