#include "switchyard/net/output_queue.hpp"

#include <unistd.h>

namespace sy::net {

std::size_t output_queue::segment::remaining() const {
    switch (k) {
        case kind::copy:
        case kind::owned:
            return buf.size();
        case kind::shared:
            return len;
        case kind::file:
            return file.length;
    }
    return 0;
}

void output_queue::append_copy(byte_view b) {
    if (b.empty()) return;
    if (empty() || segs_.back().k != kind::copy) {
        segs_.push_back(segment{kind::copy});
        // Small first allocation: most responses are small; byte_buffer grows when needed.
        segs_.back().buf.reserve(b.size() < 1024 ? 1024 : b.size());
    }
    segs_.back().buf.append(b);
    bytes_ += b.size();
}

void output_queue::append_buffer(byte_buffer&& b) {
    if (b.empty()) return;
    bytes_ += b.size();
    segs_.push_back(segment{kind::owned});
    segs_.back().buf = std::move(b);
}

void output_queue::append_shared(shared_bytes b, std::size_t offset, std::size_t length) {
    if (length == 0) return;
    bytes_ += length;
    segment s{kind::shared};
    s.sb = std::move(b);
    s.off = offset;
    s.len = length;
    segs_.push_back(std::move(s));
}

void output_queue::append_file(int fd, off_t offset, std::size_t length, bool own_fd) {
    if (length == 0) {
        if (own_fd) ::close(fd);
        return;
    }
    bytes_ += length;
    segment s{kind::file};
    s.own_fd = own_fd;
    s.file = file_range{fd, offset, length};
    segs_.push_back(std::move(s));
}

int output_queue::gather(iovec* iov, int max) const {
    int n = 0;
    for (std::size_t i = head_; i < segs_.size() && n < max; ++i) {
        const segment& s = segs_[i];
        switch (s.k) {
            case kind::copy:
            case kind::owned:
                iov[n].iov_base = const_cast<std::uint8_t*>(s.buf.data());
                iov[n].iov_len = s.buf.size();
                break;
            case kind::shared:
                iov[n].iov_base = const_cast<std::uint8_t*>(s.sb.data() + s.off);
                iov[n].iov_len = s.len;
                break;
            case kind::file:
                return n;
        }
        ++n;
    }
    return n;
}

const output_queue::file_range* output_queue::front_file() const {
    if (empty() || segs_[head_].k != kind::file) return nullptr;
    return &segs_[head_].file;
}

void output_queue::pop_front() {
    segment& s = segs_[head_];
    if (s.k == kind::file && s.own_fd) ::close(s.file.fd);
    s.own_fd = false;
    s.buf = byte_buffer();
    s.sb = shared_bytes();
    if (++head_ == segs_.size()) {
        segs_.clear();
        head_ = 0;
    }
}

void output_queue::consume(std::size_t n) {
    bytes_ -= n;
    while (n > 0 && !empty()) {
        segment& s = segs_[head_];
        std::size_t r = s.remaining();
        if (n < r) {
            switch (s.k) {
                case kind::copy:
                case kind::owned:
                    s.buf.consume(n);
                    break;
                case kind::shared:
                    s.off += n;
                    s.len -= n;
                    break;
                case kind::file:
                    s.file.offset += static_cast<off_t>(n);
                    s.file.length -= n;
                    break;
            }
            return;
        }
        n -= r;
        pop_front();
    }
}

void output_queue::clear() {
    while (!empty()) pop_front();
    bytes_ = 0;
    std::vector<segment>().swap(segs_);
}

}  // namespace sy::net
