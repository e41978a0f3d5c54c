// Fuzzes the response parser. The first byte picks the chunk size (1 + b % 64) and, with its
// top bit, whether the first response answers a HEAD request. The rest is fed whole and in
// chunks, then the connection is closed (finish()); both runs must agree exactly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transcript.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sy::http1;
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    response_parser whole(fuzz::fuzz_limits()), split(fuzz::fuzz_limits());
    if (data[0] & 0x80) {
        whole.expect_head_response();
        split.expect_head_response();
    }
    const fuzz::transcript a = fuzz::run(whole, input, 0, true);
    const fuzz::transcript b = fuzz::run(split, input, chunk, true);
    if (!(a == b)) __builtin_trap();
    return 0;
}
