// unique_fd: owns a file descriptor and closes it on destruction. Move-only, any thread (the
// owner decides). Used by net/ (sockets) and http/ (files sent with sendfile).
#pragma once

#include <utility>

namespace sy {

class unique_fd {
  public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    /// Closes the descriptor held (if any) and takes fd.
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

}  // namespace sy
