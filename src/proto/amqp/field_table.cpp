// Field tables and arrays (see field_table.hpp for the type letters and the lifetime rule).
#include "switchyard/proto/amqp/field_table.hpp"

#include <bit>

#include "wire.hpp"

namespace sy::amqp {
namespace detail {
namespace {

bool fail(error& err, error e) {
    err = e;
    return false;
}

template <typename T, typename U>
bool read_int(reader& r, field_value& out) {
    U u = 0;
    if constexpr (sizeof(U) == 1) {
        if (!r.u8(u)) return false;
    } else if constexpr (sizeof(U) == 2) {
        if (!r.u16(u)) return false;
    } else if constexpr (sizeof(U) == 4) {
        if (!r.u32(u)) return false;
    } else {
        if (!r.u64(u)) return false;
    }
    out.emplace<T>(static_cast<T>(u));
    return true;
}

// One value of type letter `type` (RabbitMQ's letters, field_table.hpp). Returns false with err
// set on malformed input.
bool read_value(reader& r, std::uint8_t type, field_value& out, error& err, int depth) {
    bool ok = true;
    switch (type) {
        case 't': {
            std::uint8_t b = 0;
            ok = r.u8(b);
            out.emplace<bool>(b != 0);
            break;
        }
        case 'b':
            ok = read_int<std::int8_t, std::uint8_t>(r, out);
            break;
        case 'B':
            ok = read_int<std::uint8_t, std::uint8_t>(r, out);
            break;
        case 's':
            ok = read_int<std::int16_t, std::uint16_t>(r, out);
            break;
        case 'u':
            ok = read_int<std::uint16_t, std::uint16_t>(r, out);
            break;
        case 'I':
            ok = read_int<std::int32_t, std::uint32_t>(r, out);
            break;
        case 'i':
            ok = read_int<std::uint32_t, std::uint32_t>(r, out);
            break;
        case 'l':
            ok = read_int<std::int64_t, std::uint64_t>(r, out);
            break;
        case 'f': {
            std::uint32_t u = 0;
            ok = r.u32(u);
            out.emplace<float>(std::bit_cast<float>(u));
            break;
        }
        case 'd': {
            std::uint64_t u = 0;
            ok = r.u64(u);
            out.emplace<double>(std::bit_cast<double>(u));
            break;
        }
        case 'D': {
            decimal_value d;
            ok = r.u8(d.scale) && r.u32(d.value);
            out.emplace<decimal_value>(d);
            break;
        }
        case 'S': {
            std::string_view s;
            ok = r.longstr(s);
            out.emplace<std::string_view>(s);
            break;
        }
        case 'x': {
            std::string_view s;
            ok = r.longstr(s);
            out.emplace<byte_array>(byte_array{s});
            break;
        }
        case 'T': {
            timestamp_value t;
            ok = r.u64(t.seconds);
            out.emplace<timestamp_value>(t);
            break;
        }
        case 'F': {
            table_view t;
            if (!read_table(r, t, err, depth + 1)) return false;
            out.emplace<table_view>(t);
            break;
        }
        case 'A': {
            array_view a;
            if (!read_array(r, a, err, depth + 1)) return false;
            out.emplace<array_view>(a);
            break;
        }
        case 'V':
            out.emplace<void_value>();
            break;
        default:
            return fail(err, error::bad_table);
    }
    return ok || fail(err, error::bad_table);
}

bool read_entry(reader& r, field_entry& e, error& err, int depth) {
    std::uint8_t type;
    if (!r.shortstr(e.key) || !r.u8(type)) return fail(err, error::bad_table);
    return read_value(r, type, e.value, err, depth);
}

// Reads the 4-byte length and the bytes it covers.
bool read_sized(reader& r, byte_view& body, error& err, int depth) {
    if (depth > max_table_depth) return fail(err, error::table_too_deep);
    std::uint32_t n;
    const std::uint8_t* b;
    if (!r.u32(n) || !r.bytes(n, b)) return fail(err, error::bad_table);
    body = {b, n};
    return true;
}

}  // namespace

bool read_table(reader& r, table_view& t, error& err, int depth) {
    byte_view body;
    if (!read_sized(r, body, err, depth)) return false;
    reader in(body);
    field_entry e;
    while (in.left() > 0) {
        if (!read_entry(in, e, err, depth)) return false;
    }
    t = table_view::of(body);
    return true;
}

bool read_array(reader& r, array_view& a, error& err, int depth) {
    byte_view body;
    if (!read_sized(r, body, err, depth)) return false;
    reader in(body);
    field_value v;
    std::uint8_t type;
    while (in.left() > 0) {
        if (!in.u8(type)) return fail(err, error::bad_table);
        if (!read_value(in, type, v, err, depth)) return false;
    }
    a = array_view::of(body);
    return true;
}

// Iteration over validated views: errors cannot happen; on a (contract-violating) bad view the
// iterator jumps to the end instead of reading out of bounds.
void iterate_entry(const std::uint8_t*& p, const std::uint8_t* end, const std::uint8_t*& next,
                   field_entry& cur) {
    if (p == end) {
        next = end;
        return;
    }
    reader r(byte_view{p, static_cast<std::size_t>(end - p)});
    error err = error::none;
    if (!read_entry(r, cur, err, 0)) {
        p = next = end;
        return;
    }
    next = r.p;
}

void iterate_value(const std::uint8_t*& p, const std::uint8_t* end, const std::uint8_t*& next,
                   field_value& cur) {
    if (p == end) {
        next = end;
        return;
    }
    reader r(byte_view{p, static_cast<std::size_t>(end - p)});
    error err = error::none;
    std::uint8_t type = 0;
    if (!r.u8(type) || !read_value(r, type, cur, err, 0)) {
        p = next = end;
        return;
    }
    next = r.p;
}

}  // namespace detail

void table_iterator::load() {
    detail::iterate_entry(p_, end_, next_, cur_);
}
void array_iterator::load() {
    detail::iterate_value(p_, end_, next_, cur_);
}

std::size_t table_view::size() const {
    std::size_t n = 0;
    for (auto it = entries().begin(); it != entries().end(); ++it) ++n;
    return n;
}
std::size_t array_view::size() const {
    std::size_t n = 0;
    for (auto it = values().begin(); it != values().end(); ++it) ++n;
    return n;
}

std::optional<field_value> find(const table_view& t, std::string_view key) {
    for (const auto& e : t.entries()) {
        if (e.key == key) return e.value;
    }
    return std::nullopt;
}

char field_type_letter(const field_value& v) {
    static constexpr char letters[] = "VtbBsuIilfdDSxTFA";
    static_assert(sizeof(letters) - 1 == std::variant_size_v<field_value>);
    return letters[v.index()];
}

result<table_view, error> decode_table(byte_view in) {
    detail::reader r(in);
    table_view t;
    error err = error::none;
    if (!detail::read_table(r, t, err)) return unexpected(err);
    if (r.left() != 0) return unexpected(error::bad_table);
    return t;
}

result<array_view, error> decode_array(byte_view in) {
    detail::reader r(in);
    array_view a;
    error err = error::none;
    if (!detail::read_array(r, a, err)) return unexpected(err);
    if (r.left() != 0) return unexpected(error::bad_table);
    return a;
}

void encode_field_value(byte_buffer& out, const field_value& v) {
    using namespace detail;
    put_u8(out, static_cast<std::uint8_t>(field_type_letter(v)));
    std::visit(
        [&out](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, void_value>) {
            } else if constexpr (std::is_same_v<T, bool>) {
                put_u8(out, x ? 1 : 0);
            } else if constexpr (std::is_integral_v<T> && sizeof(T) == 1) {
                put_u8(out, static_cast<std::uint8_t>(x));
            } else if constexpr (std::is_integral_v<T> && sizeof(T) == 2) {
                put_u16(out, static_cast<std::uint16_t>(x));
            } else if constexpr (std::is_integral_v<T> && sizeof(T) == 4) {
                put_u32(out, static_cast<std::uint32_t>(x));
            } else if constexpr (std::is_integral_v<T> && sizeof(T) == 8) {
                put_u64(out, static_cast<std::uint64_t>(x));
            } else if constexpr (std::is_same_v<T, float>) {
                put_u32(out, std::bit_cast<std::uint32_t>(x));
            } else if constexpr (std::is_same_v<T, double>) {
                put_u64(out, std::bit_cast<std::uint64_t>(x));
            } else if constexpr (std::is_same_v<T, decimal_value>) {
                put_u8(out, x.scale);
                put_u32(out, x.value);
            } else if constexpr (std::is_same_v<T, std::string_view>) {
                put_longstr(out, x);
            } else if constexpr (std::is_same_v<T, byte_array>) {
                put_longstr(out, x.bytes);
            } else if constexpr (std::is_same_v<T, timestamp_value>) {
                put_u64(out, x.seconds);
            } else if constexpr (std::is_same_v<T, table_view>) {
                encode_table(out, x);
            } else {
                static_assert(std::is_same_v<T, array_view>);
                encode_array(out, x);
            }
        },
        v);
}

void encode_table(byte_buffer& out, std::span<const field_entry> entries) {
    std::size_t at = detail::reserve_u32(out);
    std::size_t start = out.size();
    for (const auto& e : entries) {
        detail::put_shortstr(out, e.key);
        encode_field_value(out, e.value);
    }
    detail::patch_u32(out, at, static_cast<std::uint32_t>(out.size() - start));
}

void encode_table(byte_buffer& out, std::initializer_list<field_entry> entries) {
    encode_table(out, std::span<const field_entry>(entries.begin(), entries.size()));
}

void encode_table(byte_buffer& out, const table_view& t) {
    detail::put_u32(out, static_cast<std::uint32_t>(t.raw().size()));
    out.append(t.raw());
}

void encode_array(byte_buffer& out, std::span<const field_value> values) {
    std::size_t at = detail::reserve_u32(out);
    std::size_t start = out.size();
    for (const auto& v : values) encode_field_value(out, v);
    detail::patch_u32(out, at, static_cast<std::uint32_t>(out.size() - start));
}

void encode_array(byte_buffer& out, const array_view& a) {
    detail::put_u32(out, static_cast<std::uint32_t>(a.raw().size()));
    out.append(a.raw());
}

}  // namespace sy::amqp
