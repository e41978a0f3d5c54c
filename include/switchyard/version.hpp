#pragma once

namespace sy {
inline constexpr const char* k_version = "0.1.0";
}
