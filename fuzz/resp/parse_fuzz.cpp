// fuzz_resp_parse: the RESP2 reply parser fed in chunks (size from the first byte) through an
// accumulating buffer, as the backplane's connection does. Checks the parse invariants and that
// a parsed tree can be walked.
#include <cstddef>
#include <cstdint>
#include <string>

#include "switchyard/proto/resp/resp.hpp"

namespace {
std::size_t walk(sy::resp::value v) {
    std::size_t n = 1;
    for (std::size_t i = 0; i < v.size(); ++i) n += walk(v[i]);
    return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    data += 1;
    size -= 1;
    sy::resp::parser_config cfg;
    cfg.max_bulk = 1 << 16;
    cfg.max_array = 1 << 12;
    sy::resp::parser p(cfg);
    std::string buf;
    for (std::size_t off = 0; off < size; off += chunk) {
        buf.append(reinterpret_cast<const char*>(data + off),
                   size - off < chunk ? size - off : chunk);
        while (true) {
            auto r = p.parse(sy::as_bytes(buf));
            if (r.out == sy::resp::outcome::error) return 0;
            if (r.out == sy::resp::outcome::need_more) {
                if (r.needed <= buf.size()) __builtin_trap();
                break;
            }
            if (r.consumed == 0 || r.consumed > buf.size()) __builtin_trap();
            (void)walk(p.root());
            buf.erase(0, r.consumed);
        }
    }
    return 0;
}
