// Monotonic and wall clocks in the units the rest of the code uses.
#pragma once

#include <chrono>
#include <cstdint>

namespace sy {

using mono_clock = std::chrono::steady_clock;
using millis = std::chrono::milliseconds;

inline std::int64_t now_ms() {
    return std::chrono::duration_cast<millis>(mono_clock::now().time_since_epoch()).count();
}
inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               mono_clock::now().time_since_epoch())
        .count();
}

}  // namespace sy
