// gRPC length-prefixed messages (grpc/doc/PROTOCOL-HTTP2.md, "Length-Prefixed-Message"), sans-IO.
//
//   Length-Prefixed-Message = Compressed-Flag(1 byte: 0|1) Message-Length(4 bytes, big endian)
//                             Message
//
// Usage (one decoder per call direction, owned by the stream's loop):
//   sy::grpc::decoder dec({.max_message_size = 4 << 20, .encoding = compression::gzip});
//   sy::grpc::message msg;
//   while (!data.empty()) {
//       auto r = dec.feed(data, msg);
//       data = data.subspan(r.consumed);
//       if (r.out == outcome::need_more) break;
//       if (r.out == outcome::error) { finish_call(status_for(dec.last_error())); break; }
//       handle(msg.payload);
//   }
//
// Contract:
// - feed() consumes bytes up to and including the message it completes and returns complete
//   with it; otherwise consumes everything and returns need_more (partial prefixes and
//   payloads are kept inside the decoder, so the caller may always drop consumed bytes).
// - msg.payload lifetime: when msg.zero_copy it points into the caller's input (the whole
//   uncompressed message was in this feed); otherwise into the decoder's buffer. Either way it
//   is valid until the next feed() (and, for zero_copy, while the caller keeps those bytes).
// - Errors are sticky: every later feed() returns the same error. status_for(error) is the ONE
//   table to the gRPC status to end the call with.
// - Size limits: the declared length is checked against max_message_size from the prefix,
//   before any payload is buffered; compressed messages are also limited after inflating
//   (max_inflated_size), checked while inflating (zip-bomb safe).
// Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/grpc/status.hpp"

namespace sy::grpc {

enum class compression : std::uint8_t { identity, gzip };
/// "identity" / "gzip" (grpc-encoding values); nullopt for anything else (-> UNIMPLEMENTED).
std::optional<compression> parse_encoding(std::string_view s);
std::string_view to_string(compression c);

enum class outcome : std::uint8_t { complete, need_more, error };

enum class error : std::uint8_t {
    none,
    bad_compressed_flag,          // flag byte not 0 or 1
    compressed_without_encoding,  // flag 1 but grpc-encoding is identity/absent
    message_too_large,            // declared length > max_message_size
    inflated_too_large,           // inflated size > max_inflated_size
    inflate_failed,               // corrupt gzip data
    deflate_failed,               // encoder: zlib error
};
std::string_view to_string(error e);
/// The one table: codec error -> gRPC status to finish the call with.
status_code status_for(error e);

enum class decode_state : std::uint8_t { prefix, payload, failed };

struct decoder_config {
    std::size_t max_message_size = 4 * 1024 * 1024;
    std::size_t max_inflated_size = 4 * 1024 * 1024;
    /// From the peer's grpc-encoding header; identity means compressed messages are an error.
    compression encoding = compression::identity;
};

struct message {
    byte_view payload;
    bool compressed = false;  // arrived compressed (payload is the inflated bytes)
    bool zero_copy = false;   // payload points into the caller's input
};

struct decode_result {
    outcome out = outcome::need_more;
    std::size_t consumed = 0;
};

class decoder {
  public:
    explicit decoder(const decoder_config& cfg = {});
    ~decoder();
    decoder(decoder&&) noexcept;
    decoder& operator=(decoder&&) noexcept;

    decode_result feed(byte_view in, message& msg);
    error last_error() const { return err_; }
    decode_state state() const { return state_; }
    /// Bytes of the current message received so far (diagnostics).
    std::size_t offset() const { return have_; }
    /// The current message's length as its prefix declared it (diagnostics).
    std::uint32_t declared_length() const { return length_; }
    std::size_t max_message_size() const { return cfg_.max_message_size; }

  private:
    decode_result fail(error e, std::size_t consumed);
    decode_result finish(byte_view payload, bool zero_copy, std::size_t consumed, message& msg);

    decoder_config cfg_;
    decode_state state_ = decode_state::prefix;
    error err_ = error::none;
    std::array<std::uint8_t, 5> prefix_{};
    std::size_t have_ = 0;  // bytes of prefix or payload collected
    bool flag_ = false;
    std::uint32_t length_ = 0;
    std::vector<std::uint8_t> buf_;  // payload assembled across feeds
    std::vector<std::uint8_t> inflated_;
};

/// Writes the 5-byte prefix for a message of `length` bytes.
std::array<std::uint8_t, 5> encode_prefix(std::uint32_t length, bool compressed);

/// Appends one length-prefixed message to `out`, compressing with gzip when
/// encoding == gzip and the message is at least `min_compress_size` bytes.
sy::result<void, error> encode(byte_view msg, byte_buffer& out,
                               compression encoding = compression::identity,
                               std::size_t min_compress_size = 0);
/// gzip helpers (RFC 1952 via zlib). inflate fails with inflated_too_large past `limit`.
sy::result<void, error> gzip_compress(byte_view in, std::vector<std::uint8_t>& out);
sy::result<void, error> gzip_decompress(byte_view in, std::size_t limit,
                                        std::vector<std::uint8_t>& out);

}  // namespace sy::grpc
