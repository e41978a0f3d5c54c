// Minimal leveled logging to stderr. Thread-safe (one write(2) per line). Not for hot paths:
// per-message events are counted in metrics, not logged.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace sy::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(level l);
level current_level();
bool parse_level(std::string_view s, level& out);
void write(level l, std::string_view msg);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
    if (current_level() <= level::debug)
        write(level::debug, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
    if (current_level() <= level::info)
        write(level::info, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
    if (current_level() <= level::warn)
        write(level::warn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
    if (current_level() <= level::error)
        write(level::error, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace sy::log
