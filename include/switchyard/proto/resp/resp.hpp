// RESP2, the Redis serialization protocol (https://redis.io/docs/reference/protocol-spec/),
// sans-IO: replies are parsed from the caller's bytes, commands are encoded into a buffer.
//
//   sy::resp::parser p;
//   for (;;) {
//       auto r = p.parse(conn_input.readable());
//       if (r.out == outcome::need_more) break;        // wait for at least r.needed bytes
//       if (r.out == outcome::error) { close(); break; }  // p.last_error() says why
//       handle(p.root());                              // views into conn_input
//       conn_input.consume(r.consumed);
//   }
//
// Contract: parse() reads one complete reply from the start of `in`, or none. Nothing is kept
// between calls except the node array (reused, so a warmed parser allocates nothing): a reply
// split across reads is parsed again from its start once `needed` bytes are there, and
// r.needed lets the caller skip parsing until then (a large bulk string is not re-scanned per
// read). The value views of root() point into `in` and are valid until the caller consumes or
// changes those bytes, or calls parse() again. Limits (bulk size, array length, nesting depth)
// come from parser_config; over a limit the reply is an error. Not thread-safe.
//
// Types: simple string (+), error (-), integer (:), bulk string ($, $-1 is nil), array (*, *-1
// is a nil array). RESP3 types are refused (the client never sends HELLO 3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"

namespace sy::resp {

enum class outcome : std::uint8_t { complete, need_more, error };
enum class parse_error : std::uint8_t {
    none,
    bad_type,       // a first byte that is no RESP2 type
    bad_integer,    // a length or integer that is not a decimal number
    bad_line_end,   // a line or bulk string not followed by CRLF
    too_big,        // a bulk string over max_bulk, or an array over max_array
    too_deep,       // arrays nested deeper than max_depth
    line_too_long,  // a simple line (+, -, :, or a header) over max_line without its CRLF
};
std::string_view to_string(parse_error e);

enum class type : std::uint8_t { simple, error, integer, bulk, nil, array };

struct parser_config {
    std::size_t max_bulk = 512 * 1024 * 1024;  // Redis' own proto-max-bulk-len default
    std::size_t max_array = 1024 * 1024;
    std::size_t max_depth = 8;
    std::size_t max_line = 64 * 1024;
};

struct parse_result {
    outcome out = outcome::need_more;
    std::size_t consumed = 0;  // complete: the reply's length
    std::size_t needed = 0;    // need_more: do not call again before this many bytes
};

/// One node of a parsed reply (pre-order; an array's elements follow it).
struct node {
    type t = type::nil;
    std::string_view str;  // simple, error, bulk
    std::int64_t num = 0;  // integer; array: element count
    std::size_t span = 1;  // nodes in this subtree, itself included
};

/// A read-only view of one value of the last parsed reply.
class value {
  public:
    value() = default;
    explicit value(const node* n) : n_(n) {}
    type kind() const { return n_->t; }
    bool is(type t) const { return n_ && n_->t == t; }
    bool is_error() const { return is(type::error); }
    bool is_nil() const { return !n_ || n_->t == type::nil; }
    /// simple, error and bulk: the text; others: empty.
    std::string_view str() const { return n_ ? n_->str : std::string_view{}; }
    std::int64_t integer() const { return n_ && n_->t == type::integer ? n_->num : 0; }
    /// Array elements (0 for others).
    std::size_t size() const { return n_ && n_->t == type::array ? std::size_t(n_->num) : 0; }
    /// Element i of an array (i < size()); O(i) over the preceding elements' subtrees.
    value operator[](std::size_t i) const;

  private:
    const node* n_ = nullptr;
};

class parser {
  public:
    explicit parser(const parser_config& cfg = {}) : cfg_(cfg) {}
    parse_result parse(byte_view in);
    /// The reply of the last complete parse().
    value root() const { return value(nodes_.data()); }
    parse_error last_error() const { return err_; }
    /// Offset in the last input where the error was found.
    std::size_t error_offset() const { return err_at_; }

  private:
    enum class step : std::uint8_t { ok, more, fail };
    step parse_value(std::string_view in, std::size_t& pos, std::size_t depth);
    step read_line(std::string_view in, std::size_t& pos, std::string_view& line);
    step read_length(std::string_view line, std::int64_t& v, std::size_t at);
    step fail(parse_error e, std::size_t at);

    parser_config cfg_;
    std::vector<node> nodes_;
    std::size_t needed_ = 0;
    parse_error err_ = parse_error::none;
    std::size_t err_at_ = 0;
};

/// Appends one command as an array of bulk strings (the form every Redis command takes).
void encode_command(byte_buffer& out, std::span<const std::string_view> args);
void encode_command(byte_buffer& out, std::initializer_list<std::string_view> args);

}  // namespace sy::resp
