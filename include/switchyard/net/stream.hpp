// Byte streams: the only place a connection touches the socket.
//
// A stream type is any class meeting net::byte_stream (below). tcp_stream is the plain-socket one;
// a tls_stream (OpenSSL) will be a second type with the same members, and connections are created
// as basic_connection<tcp_stream> or basic_connection<tls_stream> (connection.hpp) - no runtime
// "is this TLS" flag anywhere. tests/support/fault_stream.hpp is a third one that injects short
// reads/writes, EAGAIN and resets.
//
// Contract for every member: non-blocking, never throws, called on the owning loop's thread.
// Errors are io_error values; would_block means "try again when the poller says so". A TLS stream
// may later add want_read/want_write variants of would_block.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <concepts>
#include <cstddef>

#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/net/socket.hpp"

namespace sy::net {

enum class io_error : std::uint8_t {
    would_block,  ///< EAGAIN: nothing now, wait for readiness
    eof,          ///< read only: the peer finished sending (FIN)
    reset,        ///< ECONNRESET / EPIPE: the peer is gone
    other,        ///< any other failure (ENOTCONN, EBADF, EIO...)
};
const char* to_string(io_error e);

template <typename S>
concept byte_stream = requires(S s, mutable_byte_view buf, const iovec* iov, int n, int file_fd,
                               off_t off, std::size_t len) {
    { s.fd() } -> std::same_as<int>;
    /// Reads up to buf.size() bytes (> 0 on success).
    { s.read(buf) } -> std::same_as<result<std::size_t, io_error>>;
    /// Writes from iov[0..n) (n <= IOV_MAX); may be short.
    { s.writev(iov, n) } -> std::same_as<result<std::size_t, io_error>>;
    /// Sends len bytes of file_fd from off (zero copy for TCP); may be short.
    { s.sendfile(file_fd, off, len) } -> std::same_as<result<std::size_t, io_error>>;
    /// Half-close: no more writes (FIN after queued data).
    { s.shutdown_write() } -> std::same_as<void>;
    /// Closes the fd; abort=true makes it an RST (SO_LINGER 0).
    { s.close(true) } -> std::same_as<void>;
};

/// A TCP (or any stream socket) fd. Owns the fd.
class tcp_stream {
  public:
    tcp_stream() = default;
    explicit tcp_stream(unique_fd fd) : fd_(std::move(fd)) {}

    int fd() const { return fd_.get(); }
    result<std::size_t, io_error> read(mutable_byte_view buf);
    result<std::size_t, io_error> writev(const iovec* iov, int n);
    result<std::size_t, io_error> sendfile(int file_fd, off_t off, std::size_t len);
    void shutdown_write();
    void close(bool abort);
    /// close() alone ends the stream properly (the kernel sends the FIN).
    static constexpr bool close_sends_fin = true;

  private:
    unique_fd fd_;
};
static_assert(byte_stream<tcp_stream>);

/// errno -> io_error (EAGAIN/EWOULDBLOCK -> would_block, ECONNRESET/EPIPE -> reset).
io_error io_error_from_errno(int e);

}  // namespace sy::net
