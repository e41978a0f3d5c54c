#include "switchyard/base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <string>

namespace sy::log {

namespace {
std::atomic<level> g_level{level::info};
constexpr std::string_view k_names[] = {"debug", "info", "warn", "error", "off"};
}  // namespace

void set_level(level l) {
    g_level.store(l, std::memory_order_relaxed);
}
level current_level() {
    return g_level.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view s, level& out) {
    for (int i = 0; i < 5; ++i) {
        if (s == k_names[i]) {
            out = static_cast<level>(i);
            return true;
        }
    }
    return false;
}

void write(level l, std::string_view msg) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    std::string line =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}\n", t.tm_year + 1900,
                    t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000,
                    k_names[static_cast<int>(l)], msg);
    // One write per line so lines from different threads never interleave.
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sy::log
