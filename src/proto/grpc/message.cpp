// gRPC Length-Prefixed-Message codec (grpc/doc/PROTOCOL-HTTP2.md) and gzip via zlib.
#include "switchyard/proto/grpc/message.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sy::grpc {

std::optional<compression> parse_encoding(std::string_view s) {
    if (s.empty() || s == "identity") return compression::identity;
    if (s == "gzip") return compression::gzip;
    return std::nullopt;
}

std::string_view to_string(compression c) {
    return c == compression::gzip ? "gzip" : "identity";
}

namespace {
struct error_row {
    error e;
    std::string_view name;
    status_code status;
};
// The one table: codec error -> name and the gRPC status that ends the call.
constexpr std::array<error_row, 7> error_table = {{
    {error::none, "none", status_code::ok},
    {error::bad_compressed_flag, "bad_compressed_flag", status_code::internal},
    // PROTOCOL-HTTP2.md: a compressed message without grpc-encoding MUST fail with INTERNAL.
    {error::compressed_without_encoding, "compressed_without_encoding", status_code::internal},
    {error::message_too_large, "message_too_large", status_code::resource_exhausted},
    {error::inflated_too_large, "inflated_too_large", status_code::resource_exhausted},
    {error::inflate_failed, "inflate_failed", status_code::internal},
    {error::deflate_failed, "deflate_failed", status_code::internal},
}};
}  // namespace

std::string_view to_string(error e) {
    for (const auto& r : error_table)
        if (r.e == e) return r.name;
    return "unknown";
}

status_code status_for(error e) {
    for (const auto& r : error_table)
        if (r.e == e) return r.status;
    return status_code::internal;
}

decoder::decoder(const decoder_config& cfg) : cfg_(cfg) {}
decoder::~decoder() = default;
decoder::decoder(decoder&&) noexcept = default;
decoder& decoder::operator=(decoder&&) noexcept = default;

decode_result decoder::fail(error e, std::size_t consumed) {
    err_ = e;
    state_ = decode_state::failed;
    return {outcome::error, consumed};
}

decode_result decoder::finish(byte_view payload, bool zero_copy, std::size_t consumed,
                              message& msg) {
    state_ = decode_state::prefix;
    have_ = 0;
    msg.compressed = flag_;
    msg.zero_copy = zero_copy;
    if (flag_) {
        auto r = gzip_decompress(payload, cfg_.max_inflated_size, inflated_);
        if (!r) return fail(r.error(), consumed);
        msg.payload = byte_view(inflated_.data(), inflated_.size());
        msg.zero_copy = false;
    } else {
        msg.payload = payload;
    }
    return {outcome::complete, consumed};
}

decode_result decoder::feed(byte_view in, message& msg) {
    if (state_ == decode_state::failed) return {outcome::error, 0};
    std::size_t pos = 0;
    if (state_ == decode_state::prefix) {
        std::size_t n = std::min<std::size_t>(5 - have_, in.size());
        std::memcpy(prefix_.data() + have_, in.data(), n);
        have_ += n;
        pos = n;
        if (have_ < 5) return {outcome::need_more, pos};
        if (prefix_[0] > 1) return fail(error::bad_compressed_flag, pos);
        flag_ = prefix_[0] == 1;
        if (flag_ && cfg_.encoding == compression::identity)
            return fail(error::compressed_without_encoding, pos);
        length_ = (std::uint32_t(prefix_[1]) << 24) | (std::uint32_t(prefix_[2]) << 16) |
                  (std::uint32_t(prefix_[3]) << 8) | std::uint32_t(prefix_[4]);
        if (length_ > cfg_.max_message_size) return fail(error::message_too_large, pos);
        state_ = decode_state::payload;
        have_ = 0;
        buf_.clear();
    }
    std::size_t avail = in.size() - pos;
    if (have_ == 0 && avail >= length_) {
        // Whole payload in this feed: hand out a view into the caller's bytes.
        return finish(in.subspan(pos, length_), true, pos + length_, msg);
    }
    std::size_t n = std::min<std::size_t>(avail, length_ - have_);
    buf_.insert(buf_.end(), in.begin() + pos, in.begin() + pos + n);
    have_ += n;
    pos += n;
    if (have_ < length_) return {outcome::need_more, pos};
    return finish(byte_view(buf_.data(), buf_.size()), false, pos, msg);
}

std::array<std::uint8_t, 5> encode_prefix(std::uint32_t length, bool compressed) {
    return {std::uint8_t(compressed ? 1 : 0), std::uint8_t(length >> 24),
            std::uint8_t(length >> 16), std::uint8_t(length >> 8), std::uint8_t(length)};
}

sy::result<void, error> encode(byte_view msg, byte_buffer& out, compression encoding,
                               std::size_t min_compress_size) {
    if (encoding == compression::gzip && msg.size() >= min_compress_size) {
        std::vector<std::uint8_t> z;
        auto r = gzip_compress(msg, z);
        if (!r) return r;
        auto p = encode_prefix(static_cast<std::uint32_t>(z.size()), true);
        out.append(p.data(), p.size());
        out.append(z.data(), z.size());
        return {};
    }
    auto p = encode_prefix(static_cast<std::uint32_t>(msg.size()), false);
    out.append(p.data(), p.size());
    out.append(msg);
    return {};
}

sy::result<void, error> gzip_compress(byte_view in, std::vector<std::uint8_t>& out) {
    z_stream zs{};
    // windowBits 16 + 15: gzip wrapper (RFC 1952), as grpc-encoding: gzip requires.
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return sy::unexpected(error::deflate_failed);
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    int rv = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rv != Z_STREAM_END) return sy::unexpected(error::deflate_failed);
    return {};
}

sy::result<void, error> gzip_decompress(byte_view in, std::size_t limit,
                                        std::vector<std::uint8_t>& out) {
    out.clear();
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return sy::unexpected(error::inflate_failed);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    constexpr std::size_t step = 16 * 1024;
    limit = std::min<std::size_t>(limit, SIZE_MAX - 1);
    int rv = Z_OK;
    while (rv != Z_STREAM_END) {
        std::size_t used = out.size();
        if (used >= limit + 1) break;
        // Never grow past limit + 1 bytes: one byte over the limit proves the bomb.
        std::size_t grow = std::min(step, limit + 1 - used);
        out.resize(used + grow);
        zs.next_out = out.data() + used;
        zs.avail_out = static_cast<uInt>(grow);
        rv = inflate(&zs, Z_NO_FLUSH);
        out.resize(used + grow - zs.avail_out);
        if (rv == Z_STREAM_END) break;
        if (rv != Z_OK && rv != Z_BUF_ERROR) break;
        if (rv == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
    }
    inflateEnd(&zs);
    if (out.size() > limit) return sy::unexpected(error::inflated_too_large);
    if (rv != Z_STREAM_END || zs.avail_in != 0) return sy::unexpected(error::inflate_failed);
    return {};
}

}  // namespace sy::grpc
