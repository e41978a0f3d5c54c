// os_error: a failed system call, carrying errno. Core and net functions that wrap syscalls
// return result<T, os_error>; callers that need a finer policy switch on code (EAGAIN, EMFILE...).
#pragma once

#include <string>

namespace sy::core {

struct os_error {
    int code = 0;           ///< errno value at the failing call
    const char* what = "";  ///< the failing operation, e.g. "bind" (static string)

    std::string message() const;  ///< "bind: Address already in use"
};

/// os_error{errno, what} for the current errno.
os_error last_os_error(const char* what);

}  // namespace sy::core
