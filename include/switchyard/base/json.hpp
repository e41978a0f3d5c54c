// json: the one JSON facade. A streaming writer (appends to a std::string, no tree, no
// allocation beyond the string's growth) and a strict reader backed by RapidJSON (the library
// stays behind this header: only src/base/json.cpp includes it).
//
// Writer contract: calls must form one well-formed value (begin/end paired, key() before each
// member value inside an object); the writer inserts commas and colons itself and escapes every
// string (RFC 8259 7: '"', '\\', and U+0000..U+001F; short forms where they exist, \u00xx with
// lowercase hex otherwise; everything else, including '/' and non-ASCII UTF-8, as it is).
// raw() embeds text that is already one JSON value (check it with json::valid first).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::json {

/// Appends s escaped (without the surrounding quotes) to out.
void escape(std::string_view s, std::string& out);
/// s as a JSON string literal, quotes included.
std::string quote(std::string_view s);

class writer {
  public:
    explicit writer(std::string& out) : out_(out) {}

    writer& begin_object();
    writer& end_object();
    writer& begin_array();
    writer& end_array();
    /// A member name (objects only); the next call writes its value.
    writer& key(std::string_view k);
    writer& value(std::string_view s);
    writer& value(const char* s) { return value(std::string_view(s)); }
    writer& value(std::uint64_t v);
    writer& value(std::int64_t v);
    writer& value(unsigned v) { return value(std::uint64_t{v}); }
    writer& value(int v) { return value(std::int64_t{v}); }
    writer& value(bool b);
    /// Finite doubles only (non-finite values are written as null: JSON has no NaN/Inf).
    writer& value(double d);
    writer& null();
    /// Text that already is one JSON value, copied as it is.
    writer& raw(std::string_view json_value);

    /// key(k).value(v) in one call.
    template <typename T>
    writer& member(std::string_view k, T&& v) {
        key(k);
        return value(std::forward<T>(v));
    }

  private:
    void separate();

    std::string& out_;
    // One bit per nesting level: whether that level already holds an element (for the comma).
    // 64 levels is far beyond anything the server writes; deeper levels just never get a comma
    // bit cleared wrongly (the writer's callers are fixed shapes, not user-driven recursion).
    std::uint64_t has_element_ = 0;
    unsigned depth_ = 0;
    bool after_key_ = false;
};

/// Strict RFC 8259 check of a complete document (one value, surrounding whitespace allowed):
/// UTF-8 validated (8.1), no comments, no trailing commas, no NaN, numbers within the double range
/// (RFC 8259 6 allows that limit), nesting up to max_depth. What passes here parses in every
/// conforming parser.
bool valid(std::string_view text, unsigned max_depth = 512);

/// A parsed document (the reader): typed lookups of top-level members, strings unescaped.
class document {
  public:
    document();
    ~document();
    document(document&&) noexcept;
    document& operator=(document&&) noexcept;

    /// Parses text with the rules of valid(); nullopt when it is not valid JSON.
    static std::optional<document> parse(std::string_view text, unsigned max_depth = 512);

    bool is_object() const;
    /// Top-level member `name` as a string (unescaped); nullopt if absent or not a string.
    std::optional<std::string> get_string(std::string_view name) const;
    /// Top-level member as an unsigned integer; nullopt if absent, not an integer or negative.
    std::optional<std::uint64_t> get_uint(std::string_view name) const;
    std::optional<bool> get_bool(std::string_view name) const;
    /// Top-level member re-serialised compactly (any type); nullopt if absent.
    std::optional<std::string> get_raw(std::string_view name) const;
    bool has(std::string_view name) const;
    /// The top-level member names in document order (their values through the getters above).
    std::vector<std::string> names() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace sy::json
