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
}  // namespace

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

result<void, io_error> tls_stream::handshake() {
    SSL* ssl = st_->ssl_;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
        st_->done_ = true;
        auto& k = *st_->counters_;
        k.handshakes.fetch_add(1, std::memory_order_relaxed);
        if (SSL_session_reused(ssl)) k.resumed.fetch_add(1, std::memory_order_relaxed);
        auto proto = st_->alpn();
        if (proto == "h2") {
            k.alpn_h2.fetch_add(1, std::memory_order_relaxed);
        } else {
            k.alpn_http11.fetch_add(1, std::memory_order_relaxed);
        }
        return {};
    }
    const int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        st_->counters_->failures.fetch_add(1, std::memory_order_relaxed);
        if (err == SSL_ERROR_SSL) {
            char buf[160];
            ERR_error_string_n(ERR_peek_error(), buf, sizeof buf);
            log::debug("tls handshake failed on fd {}: {}", fd_.get(), buf);
        }
    }
    return unexpected(fail(rc, true).error());
}

result<std::size_t, io_error> tls_stream::read(mutable_byte_view buf) {
    if (!st_ || !st_->ssl_) return unexpected(io_error::other);
    st_->read_wants_write_ = false;
    if (!st_->done_) {
        if (auto h = handshake(); !h) return unexpected(h.error());
    }
    std::size_t n = 0;
    int rc = SSL_read_ex(st_->ssl_, buf.data(), buf.size(), &n);
    if (rc == 1) return n;
    return fail(rc, true);
}

result<std::size_t, io_error> tls_stream::writev(const iovec* iov, int n) {
    if (!st_ || !st_->ssl_) return unexpected(io_error::other);
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
    if (abort && fd_) (void)set_linger_zero(fd_.get());
    // The SSL object stays until destruction (tls_info readers); the fd goes now.
    fd_.reset();
}

}  // namespace sy::net
