#include "switchyard/base/fd.hpp"

#include <unistd.h>

namespace sy {

void unique_fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

}  // namespace sy
