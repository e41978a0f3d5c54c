// fuzz_grpc_message: the first byte picks the chunk size (1 + b % 64); the second picks the
// decoder's encoding (bit 0: gzip) and a small size limit; the rest is fed in chunks. Every
// decoded message is re-encoded and decoded again and must round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "switchyard/proto/grpc/message.hpp"
#include "switchyard/proto/grpc/metadata.hpp"

using namespace sy::grpc;

namespace {
void round_trip(sy::byte_view payload, compression enc) {
    sy::byte_buffer out;
    if (!encode(payload, out, enc)) return;
    decoder d({.max_message_size = 1 << 20, .max_inflated_size = 1 << 20, .encoding = enc});
    message m;
    auto r = d.feed(out.readable(), m);
    if (r.out != outcome::complete || sy::as_string_view(m.payload) != sy::as_string_view(payload))
        std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::size_t chunk = 1 + data[0] % 64;
    compression enc = (data[1] & 1) ? compression::gzip : compression::identity;
    std::size_t limit = 16 + (data[1] >> 1) * 64;
    data += 2;
    size -= 2;
    // The text helpers get the raw bytes too.
    std::string_view text(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
    if (percent_decode(percent_encode(text)) != text) std::abort();
    (void)parse_timeout(text);
    (void)classify_content_type(text);

    decoder dec({.max_message_size = limit, .max_inflated_size = limit, .encoding = enc});
    for (std::size_t off = 0; off < size; off += chunk) {
        sy::byte_view in(data + off, size - off < chunk ? size - off : chunk);
        while (true) {
            message m;
            auto r = dec.feed(in, m);
            in = in.subspan(r.consumed);
            if (r.out == outcome::error) return 0;
            if (r.out == outcome::need_more) break;
            if (m.payload.size() > limit) std::abort();
            round_trip(m.payload, enc);
            if (in.empty()) break;
        }
    }
    return 0;
}
