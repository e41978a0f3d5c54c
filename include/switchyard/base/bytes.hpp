// Byte views and small helpers shared by every layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sy {

using byte_view = std::span<const std::uint8_t>;
using mutable_byte_view = std::span<std::uint8_t>;

inline std::string_view as_string_view(byte_view b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline byte_view as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace sy
