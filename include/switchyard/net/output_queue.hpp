// output_queue: what a connection still has to send, in order, as segments:
//   copy   - bytes copied in (appended to the tail byte_buffer while the tail is a copy segment)
//   owned  - a byte_buffer handed over whole (no copy)
//   shared - a slice of sy::shared_bytes (zero copy, refcounted; the fan-out path)
//   file   - a file range sent with sendfile (the fd is closed after sending if owned)
// gather() exposes the leading memory segments as iovecs for one writev; consume(n) drops what the
// kernel took (a sent segment's buffer is freed at once). clear() drops everything and frees the
// storage.
// Not thread-safe (one loop).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "switchyard/base/buffer.hpp"

namespace sy::net {

class output_queue {
  public:
    struct file_range {
        int fd;
        off_t offset;
        std::size_t length;
    };

    output_queue() = default;
    output_queue(const output_queue&) = delete;
    output_queue& operator=(const output_queue&) = delete;
    ~output_queue() { clear(); }

    void append_copy(byte_view b);
    void append_buffer(byte_buffer&& b);
    void append_shared(shared_bytes b, std::size_t offset, std::size_t length);
    /// own_fd: close fd once the range is sent or the queue is cleared.
    void append_file(int fd, off_t offset, std::size_t length, bool own_fd);

    std::size_t bytes() const { return bytes_; }
    bool empty() const { return head_ == segs_.size(); }
    std::size_t segments() const { return segs_.size() - head_; }

    /// Fills up to max iovecs from the leading memory segments (stops at a file segment).
    int gather(iovec* iov, int max) const;
    /// The front segment as a file range, or nullptr if the front is memory (or empty).
    const file_range* front_file() const;
    /// Drops n bytes from the front (n <= bytes()).
    void consume(std::size_t n);
    /// Drops everything (closing owned fds) and frees the storage.
    void clear();

  private:
    enum class kind : std::uint8_t { copy, owned, shared, file };
    struct segment {
        kind k;
        bool own_fd = false;
        byte_buffer buf;  // copy / owned
        shared_bytes sb;  // shared
        file_range file{-1, 0, 0};
        std::size_t off = 0;  // shared: current offset
        std::size_t len = 0;  // shared: remaining length
        std::size_t remaining() const;
    };
    void pop_front();

    std::vector<segment> segs_;
    std::size_t head_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace sy::net
