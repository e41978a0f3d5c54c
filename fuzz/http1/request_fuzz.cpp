// Fuzzes the request parser. The first byte picks the chunk size (1 + b % 64); the rest is fed
// whole and in chunks of that size, and the two runs must agree exactly (same events, same
// head, same body bytes, same final outcome and error), else __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transcript.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sy::http1;
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const limits lim = (data[0] & 0x80) ? limits{} : fuzz::fuzz_limits();
    request_parser whole(lim), split(lim);
    const fuzz::transcript a = fuzz::run(whole, input, 0, false);
    const fuzz::transcript b = fuzz::run(split, input, chunk, false);
    if (!(a == b)) __builtin_trap();
    if (a.last == outcome::error && reply_for(a.err).status < 400) __builtin_trap();
    return 0;
}
