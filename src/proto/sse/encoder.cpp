// Event stream format, WHATWG HTML 9.2.5.
#include "switchyard/proto/sse/encoder.hpp"

#include <charconv>
#include <cstring>

namespace sy::sse {
namespace {

// Calls fn(line) for each line of s split on CRLF, LF or CR; a trailing terminator yields a
// final empty line (so "a\n" -> "a", "").
template <typename Fn>
void for_each_line(std::string_view s, Fn&& fn) {
    // memchr for both terminators: data is mostly long runs without either.
    const char* p = s.data();
    const char* end = p + s.size();
    while (true) {
        const std::size_t left = static_cast<std::size_t>(end - p);
        const char* lf = left ? static_cast<const char*>(std::memchr(p, '\n', left)) : nullptr;
        const std::size_t scan = lf ? static_cast<std::size_t>(lf - p) : left;
        const char* cr = scan ? static_cast<const char*>(std::memchr(p, '\r', scan)) : nullptr;
        const char* eol = cr ? cr : lf;
        if (!eol) {
            fn(std::string_view(p, left));
            return;
        }
        fn(std::string_view(p, static_cast<std::size_t>(eol - p)));
        p = eol + 1;
        if (*eol == '\r' && p < end && *p == '\n') ++p;
    }
}

// Writes into a pre-sized region; p advances.
struct writer {
    char* p;
    void put(std::string_view s) {
        if (s.empty()) return;  // data() may be null: memcpy must not see it
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    void put(char c) { *p++ = c; }
};

std::size_t digits(std::uint32_t v) {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

result<void, encode_error> validate(const event_fields& f) {
    auto has_nl = [](std::string_view s) { return s.find_first_of("\r\n") != s.npos; };
    if (f.id && has_nl(*f.id)) return unexpected(encode_error::newline_in_field);
    if (f.id && f.id->find('\0') != std::string_view::npos)
        return unexpected(encode_error::nul_in_id);
    if (has_nl(f.event)) return unexpected(encode_error::newline_in_field);
    return {};
}

void write_event(writer& w, const event_fields& f) {
    if (f.id) {
        w.put("id: ");
        w.put(*f.id);
        w.put('\n');
    }
    if (!f.event.empty()) {
        w.put("event: ");
        w.put(f.event);
        w.put('\n');
    }
    if (f.retry_ms) {
        char buf[16];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *f.retry_ms);
        (void)ec;
        w.put("retry: ");
        w.put(std::string_view(buf, static_cast<std::size_t>(end - buf)));
        w.put('\n');
    }
    if (f.data) {
        // "data: " always carries the space, so a value starting with a space survives
        // (the parser strips exactly one).
        for_each_line(*f.data, [&](std::string_view line) {
            w.put("data: ");
            w.put(line);
            w.put('\n');
        });
    }
    w.put('\n');
}

std::size_t comment_size(std::string_view text) {
    std::size_t n = 1;
    for_each_line(text, [&](std::string_view line) { n += 2 + line.size() + 1; });
    return n;
}

void write_comment(writer& w, std::string_view text) {
    for_each_line(text, [&](std::string_view line) {
        w.put(": ");
        w.put(line);
        w.put('\n');
    });
    w.put('\n');
}

}  // namespace

std::string_view to_string(encode_error e) {
    switch (e) {
        case encode_error::newline_in_field:
            return "newline_in_field";
        case encode_error::nul_in_id:
            return "nul_in_id";
    }
    return "?";
}

std::size_t encoded_size(const event_fields& f) {
    std::size_t n = 1;  // the blank line
    if (f.id) n += 4 + f.id->size() + 1;
    if (!f.event.empty()) n += 7 + f.event.size() + 1;
    if (f.retry_ms) n += 7 + digits(*f.retry_ms) + 1;
    if (f.data) for_each_line(*f.data, [&](std::string_view line) { n += 6 + line.size() + 1; });
    return n;
}

result<void, encode_error> encode(byte_buffer& out, const event_fields& f) {
    if (auto v = validate(f); !v) return v;
    const std::size_t n = encoded_size(f);
    writer w{reinterpret_cast<char*>(out.prepare(n).data())};
    write_event(w, f);
    out.commit(n);
    return {};
}

result<shared_bytes, encode_error> encode_shared(const event_fields& f) {
    if (auto v = validate(f); !v) return unexpected(v.error());
    shared_bytes b = shared_bytes::allocate(encoded_size(f));
    writer w{reinterpret_cast<char*>(b.mutable_data())};
    write_event(w, f);
    return b;
}

void encode_comment(byte_buffer& out, std::string_view text) {
    const std::size_t n = comment_size(text);
    writer w{reinterpret_cast<char*>(out.prepare(n).data())};
    write_comment(w, text);
    out.commit(n);
}

shared_bytes encode_comment_shared(std::string_view text) {
    shared_bytes b = shared_bytes::allocate(comment_size(text));
    writer w{reinterpret_cast<char*>(b.mutable_data())};
    write_comment(w, text);
    return b;
}

}  // namespace sy::sse
