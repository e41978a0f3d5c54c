// Internal machinery shared by the request and response parsers: an incremental CRLF line
// reader over a head or trailer section, the field-line grammar, and framing-header state.
// Not a public API; it lives in a header only because the parsers embed it by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "switchyard/base/bytes.hpp"
#include "switchyard/proto/http1/message.hpp"

namespace sy::http1::detail {

/// A field line as offsets from the section start: the input buffer may move between feed()
/// calls while a section is incomplete, so views are materialised only when it completes.
struct raw_field {
    std::uint32_t name_off;
    std::uint32_t name_len;
    std::uint32_t value_off;
    std::uint32_t value_len;
};

enum class line_step : std::uint8_t { line, need_more, error };

/// Limits and error codes a line_reader applies to one line.
struct line_rules {
    std::uint32_t line_limit;   // max bytes of this line before CRLF
    std::uint32_t total_limit;  // max offset (from section start) of any byte before CRLF
    error line_err;             // reported when line_limit is exceeded
    error total_err;            // reported when total_limit is exceeded
    error ctl_err;              // reported for a CTL (other than HTAB) or DEL in the line
};

/// Inline members are defined in src/proto/http1/lines.hpp (used only by the codec sources).
/// Finds CRLF-terminated lines in a section that stays at the start of the caller's
/// unconsumed input until it completes. Remembers where it stopped scanning, so every byte
/// is scanned once however the input is split. Limits are checked at the position where a
/// scan stops, before content errors, so the reported error does not depend on how the input
/// was split (the fuzzer checks this).
class line_reader {
  public:
    void reset() { line_start_ = scan_ = 0; }
    /// On line_step::line, [begin, end) is the line without CRLF and the reader is past it.
    /// On line_step::error, err and err_off (section offset) are set.
    inline line_step next(const std::uint8_t* data, std::size_t n, const line_rules& rules,
                          std::uint32_t& begin, std::uint32_t& end, error& err,
                          std::uint32_t& err_off);
    /// Offset just past the last complete line.
    std::uint32_t pos() const { return line_start_; }
    bool fresh() const { return scan_ == 0; }

  private:
    std::uint32_t line_start_ = 0;
    std::uint32_t scan_ = 0;
};

/// Parses `field-name ":" OWS field-value OWS` (RFC 9112 section 5) in line [begin, end).
/// The line reader already rejected CTLs, so only the name and the colon are checked here.
/// `readable` is the number of bytes from base that may be loaded (>= end + 2, the CRLF).
inline error parse_field_line(const std::uint8_t* base, std::uint32_t begin, std::uint32_t end,
                              raw_field& out, std::size_t readable);

/// Framing and connection fields accumulated over a head (RFC 9112 sections 6 and 9).
struct framing {
    std::uint64_t content_length = 0;
    bool has_content_length = false;
    bool has_transfer_encoding = false;
    bool conn_close = false;
    bool conn_keep_alive = false;
    bool conn_upgrade = false;

    /// Strict reading of RFC 9110 section 8.6: exactly 1*DIGIT, one field line only. Lists
    /// ("5, 5") and identical duplicates are rejected too: no peer needs them, and treating
    /// them uniformly removes any chance of a front end and us disagreeing on the length.
    error on_content_length(std::string_view v);
    /// Only exactly "chunked" (case-insensitive), on one field line (RFC 9112 section 6.1).
    error on_transfer_encoding(std::string_view v);
    /// Connection token list: close, keep-alive, upgrade (RFC 9110 section 7.6.1).
    void on_connection(std::string_view v);
};

struct chunk_step {
    enum class kind : std::uint8_t { need_more, body, done, error } k = kind::need_more;
    error err = error::none;
    std::size_t consumed = 0;      // need_more, body, done: bytes to consume
    std::size_t err_off = 0;       // error: offset in the input
    std::size_t trailer_off = 0;   // done: offset of the trailer section in the input
    std::uint16_t n_trailers = 0;  // done: trailer fields written to the raw array
    byte_view body;                // body: chunk data
};

/// Chunked transfer coding (RFC 9112 section 7.1): chunk-size lines, data, CRLF, last chunk,
/// trailer section. Chunk extensions are ignored (only checked for CTLs); trailers are parsed
/// like field lines. Returns at most one body piece per call.
class chunked_decoder {
  public:
    void reset() {
        phase_ = phase::size;
        lines_.reset();
        remaining_ = total_ = 0;
    }
    chunk_step decode(byte_view in, const limits& lim, raw_field* raw);
    /// chunk_size, chunk_data, chunk_data_end or trailers.
    parser_state state() const;

  private:
    enum class phase : std::uint8_t { size, data, data_end, trailers };
    bool size_line(byte_view in, std::size_t& pos, const limits& lim, chunk_step& out);
    bool trailer_lines(byte_view in, std::size_t pos, const limits& lim, raw_field* raw,
                       chunk_step& out);
    phase phase_ = phase::size;
    std::uint16_t n_trailers_ = 0;
    line_reader lines_;
    std::uint64_t remaining_ = 0;  // bytes left in the current chunk
    std::uint64_t total_ = 0;      // sum of chunk sizes, against limits::max_body_bytes
};

/// Calls fn(token) for each non-empty element of a comma-separated list, OWS trimmed.
template <typename Fn>
void for_each_token(std::string_view v, Fn&& fn) {
    std::size_t i = 0;
    while (i <= v.size()) {
        std::size_t j = v.find(',', i);
        if (j == std::string_view::npos) j = v.size();
        std::size_t b = i, e = j;
        while (b < e && (v[b] == ' ' || v[b] == '\t')) ++b;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t')) --e;
        if (e > b) fn(v.substr(b, e - b));
        i = j + 1;
    }
}

}  // namespace sy::http1::detail
