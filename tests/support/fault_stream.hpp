// fault_stream: a net::byte_stream over a real fd (usually one end of a socketpair) that injects
// faults and counts calls, for connection and session tests:
//   short reads / short writes (caps per call), EAGAIN on the next N reads / writes,
//   ECONNRESET on the next read / write, and per-call counters (e.g. "one writev per turn").
// The plan is shared (std::shared_ptr) so the test keeps a handle after the stream is moved into
// a connection: net::connection::create(loop, fault_stream(fd, plan), handler, opts).
// Header-only; test code.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <vector>

#include "switchyard/net/stream.hpp"

namespace sy::test {

struct fault_plan {
    std::size_t max_read = std::numeric_limits<std::size_t>::max();   ///< bytes per read call
    std::size_t max_write = std::numeric_limits<std::size_t>::max();  ///< bytes per writev call
    int eagain_reads = 0;   ///< the next N reads report would_block without reading
    int eagain_writes = 0;  ///< the next N writevs report would_block without writing
    bool reset_next_read = false;
    bool reset_next_write = false;

    int reads = 0, writevs = 0, sendfiles = 0, shutdowns = 0, closes = 0, aborts = 0;
    std::vector<std::size_t> writev_bytes;  ///< bytes accepted by each successful writev
};

class fault_stream {
  public:
    fault_stream(net::unique_fd fd, std::shared_ptr<fault_plan> plan)
        : inner_(std::move(fd)), plan_(std::move(plan)) {}

    int fd() const { return inner_.fd(); }

    result<std::size_t, net::io_error> read(mutable_byte_view buf) {
        ++plan_->reads;
        if (plan_->reset_next_read) {
            plan_->reset_next_read = false;
            return unexpected(net::io_error::reset);
        }
        if (plan_->eagain_reads > 0) {
            --plan_->eagain_reads;
            return unexpected(net::io_error::would_block);
        }
        if (buf.size() > plan_->max_read) buf = buf.first(plan_->max_read);
        return inner_.read(buf);
    }

    result<std::size_t, net::io_error> writev(const iovec* iov, int n) {
        ++plan_->writevs;
        if (plan_->reset_next_write) {
            plan_->reset_next_write = false;
            return unexpected(net::io_error::reset);
        }
        if (plan_->eagain_writes > 0) {
            --plan_->eagain_writes;
            return unexpected(net::io_error::would_block);
        }
        // Truncate the iovec list to max_write bytes to force a short write.
        std::vector<iovec> cut;
        std::size_t budget = plan_->max_write;
        for (int i = 0; i < n && budget > 0; ++i) {
            iovec v = iov[i];
            if (v.iov_len > budget) v.iov_len = budget;
            budget -= v.iov_len;
            cut.push_back(v);
        }
        auto r = inner_.writev(cut.data(), static_cast<int>(cut.size()));
        if (r) plan_->writev_bytes.push_back(*r);
        return r;
    }

    result<std::size_t, net::io_error> sendfile(int file_fd, off_t off, std::size_t len) {
        ++plan_->sendfiles;
        if (len > plan_->max_write) len = plan_->max_write;
        return inner_.sendfile(file_fd, off, len);
    }

    void shutdown_write() {
        ++plan_->shutdowns;
        inner_.shutdown_write();
    }
    void close(bool abort) {
        ++plan_->closes;
        if (abort) ++plan_->aborts;
        inner_.close(abort);
    }

  private:
    net::tcp_stream inner_;
    std::shared_ptr<fault_plan> plan_;
};
static_assert(net::byte_stream<fault_stream>);

}  // namespace sy::test
