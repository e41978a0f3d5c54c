// The poller implementations create_poller (src/core/epoll_poller.cpp) chooses from.
#pragma once

#include <memory>

#include "switchyard/core/poller.hpp"

namespace sy::core {

/// src/core/uring_poller.cpp. Throws std::system_error when io_uring_queue_init fails.
std::unique_ptr<poller> make_uring_poller();

}  // namespace sy::core
