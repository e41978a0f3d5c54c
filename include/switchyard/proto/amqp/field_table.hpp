// AMQP 0-9-1 field tables and arrays (amqp0-9-1.pdf 4.2.5.5 and the RabbitMQ errata: the field
// type letters RabbitMQ, Qpid and the Java/.NET clients actually use, which differ from the
// spec's BNF for 's', 'u', 'I' and 'i'):
//
//   t bool   b int8    B uint8   s int16   u uint16   I int32   i uint32   l int64
//   f float  d double  D decimal S longstr A array    T timestamp F table  V void  x byte array
//
// Tables are decoded lazily: a table_view is the validated encoded entries (without the 4-byte
// length) and iterating it yields (key, field_value) pairs without allocating. Nested tables and
// arrays are again views. Validation happens once, when the enclosing method or content header
// is decoded (decode_table below), so iteration cannot fail.
//
// Lifetime: every view (table_view, array_view, std::string_view keys and values, byte_array)
// points into the bytes it was decoded from, i.e. the caller's input buffer; it is valid until
// the caller consumes or overwrites those bytes.
//
// Encoding: encode_table() writes entries from a span of field_entry; a nested table is written
// from its table_view (encode it first into another buffer, then wrap with table_view::of()).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "switchyard/base/buffer.hpp"
#include "switchyard/base/bytes.hpp"
#include "switchyard/base/result.hpp"
#include "switchyard/proto/amqp/error.hpp"

namespace sy::amqp {

/// Tables nested deeper than this are rejected with error::table_too_deep (bounds recursion).
inline constexpr int max_table_depth = 32;

class table_iterator;
class array_iterator;
struct table_range;
struct array_range;

/// A validated encoded table: the entries, without the leading 4-byte length.
class table_view {
  public:
    table_view() = default;
    /// Wraps bytes that are already valid table entries (e.g. produced by encode_table and
    /// stripped of the length with entries_of). Not validated: use decode_table for input.
    static table_view of(byte_view entries) { return table_view(entries); }

    byte_view raw() const { return raw_; }
    bool empty() const { return raw_.empty(); }
    /// Encoded size on the wire, including the 4-byte length.
    std::size_t wire_size() const { return 4 + raw_.size(); }
    /// The entries as a forward range: `for (const field_entry& e : t.entries())`. (table_view
    /// itself is deliberately not a range: a range type inside field_value would make
    /// std::variant's converting constructors probe it before field_value is complete.)
    table_range entries() const;
    std::size_t size() const;  // number of entries (walks the table)

    friend bool operator==(const table_view& a, const table_view& b) {
        return std::ranges::equal(a.raw_, b.raw_);
    }

  private:
    explicit table_view(byte_view raw) : raw_(raw) {}
    byte_view raw_{};
};

/// A validated encoded field array: the values, without the leading 4-byte length.
class array_view {
  public:
    array_view() = default;
    static array_view of(byte_view values) { return array_view(values); }
    byte_view raw() const { return raw_; }
    bool empty() const { return raw_.empty(); }
    std::size_t wire_size() const { return 4 + raw_.size(); }
    array_range values() const;
    std::size_t size() const;

    friend bool operator==(const array_view& a, const array_view& b) {
        return std::ranges::equal(a.raw_, b.raw_);
    }

  private:
    explicit array_view(byte_view raw) : raw_(raw) {}
    byte_view raw_{};
};

struct void_value {  // 'V'
    friend bool operator==(void_value, void_value) { return true; }
};
struct decimal_value {  // 'D': value / 10^scale
    std::uint8_t scale = 0;
    std::uint32_t value = 0;
    friend bool operator==(const decimal_value&, const decimal_value&) = default;
};
struct timestamp_value {  // 'T': POSIX seconds
    std::uint64_t seconds = 0;
    friend bool operator==(const timestamp_value&, const timestamp_value&) = default;
};
struct byte_array {  // 'x': opaque bytes (same wire form as 'S', different type letter)
    std::string_view bytes;
    friend bool operator==(const byte_array&, const byte_array&) = default;
};

/// One field value. The alternative order is fixed (field_type_letter relies on it).
using field_value =
    std::variant<void_value, bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                 std::int32_t, std::uint32_t, std::int64_t, float, double, decimal_value,
                 std::string_view, byte_array, timestamp_value, table_view, array_view>;

/// The wire type letter of a value ('V', 't', 'b', ... in the order of field_value).
char field_type_letter(const field_value& v);

struct field_entry {
    std::string_view key;
    field_value value;
    friend bool operator==(const field_entry&, const field_entry&) = default;
};

/// Forward iterator over a table_view; dereferences to a field_entry built on the fly.
class table_iterator {
  public:
    using value_type = field_entry;
    using difference_type = std::ptrdiff_t;
    table_iterator() = default;
    table_iterator(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) { load(); }
    const field_entry& operator*() const { return cur_; }
    const field_entry* operator->() const { return &cur_; }
    table_iterator& operator++() {
        p_ = next_;
        load();
        return *this;
    }
    table_iterator operator++(int) {
        auto t = *this;
        ++*this;
        return t;
    }
    friend bool operator==(const table_iterator& a, const table_iterator& b) {
        return a.p_ == b.p_;
    }

  private:
    void load();
    const std::uint8_t* p_ = nullptr;
    const std::uint8_t* end_ = nullptr;
    const std::uint8_t* next_ = nullptr;
    field_entry cur_{};
};

class array_iterator {
  public:
    using value_type = field_value;
    using difference_type = std::ptrdiff_t;
    array_iterator() = default;
    array_iterator(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) { load(); }
    const field_value& operator*() const { return cur_; }
    const field_value* operator->() const { return &cur_; }
    array_iterator& operator++() {
        p_ = next_;
        load();
        return *this;
    }
    array_iterator operator++(int) {
        auto t = *this;
        ++*this;
        return t;
    }
    friend bool operator==(const array_iterator& a, const array_iterator& b) {
        return a.p_ == b.p_;
    }

  private:
    void load();
    const std::uint8_t* p_ = nullptr;
    const std::uint8_t* end_ = nullptr;
    const std::uint8_t* next_ = nullptr;
    field_value cur_{};
};

struct table_range {
    byte_view raw;
    table_iterator begin() const { return {raw.data(), raw.data() + raw.size()}; }
    table_iterator end() const { return {raw.data() + raw.size(), raw.data() + raw.size()}; }
};
struct array_range {
    byte_view raw;
    array_iterator begin() const { return {raw.data(), raw.data() + raw.size()}; }
    array_iterator end() const { return {raw.data() + raw.size(), raw.data() + raw.size()}; }
};
inline table_range table_view::entries() const {
    return {raw_};
}
inline array_range array_view::values() const {
    return {raw_};
}

/// First entry with this key, if any (linear: tables are small).
std::optional<field_value> find(const table_view& t, std::string_view key);

/// Decodes and validates an encoded table (4-byte length + entries) that must fill `in` exactly.
/// Errors: bad_table, table_too_deep.
result<table_view, error> decode_table(byte_view in);
/// Same for a field array (4-byte length + values).
result<array_view, error> decode_array(byte_view in);

/// Appends a table (length + entries). Keys longer than 255 bytes are a precondition violation
/// (clamped to 255). Returns nothing: encoding into a growable buffer cannot fail.
void encode_table(byte_buffer& out, std::span<const field_entry> entries);
void encode_table(byte_buffer& out, std::initializer_list<field_entry> entries);
/// Appends an already encoded table view (length + raw entries).
void encode_table(byte_buffer& out, const table_view& t);
void encode_array(byte_buffer& out, std::span<const field_value> values);
void encode_array(byte_buffer& out, const array_view& a);
/// Appends one value: type letter then the encoded value.
void encode_field_value(byte_buffer& out, const field_value& v);

/// The entries of a table encoded by encode_table (skips the 4-byte length), as a view.
inline table_view entries_of(byte_view encoded_table) {
    return table_view::of(encoded_table.size() >= 4 ? encoded_table.subspan(4) : byte_view{});
}
inline array_view values_of(byte_view encoded_array) {
    return array_view::of(encoded_array.size() >= 4 ? encoded_array.subspan(4) : byte_view{});
}

}  // namespace sy::amqp
