// The JSON facade: writer by hand (a fixed set of shapes, zero allocation), reader and validator
// on RapidJSON's SAX reader (strict flags, iterative so nesting never recurses on the C++ stack).
#include "switchyard/base/json.hpp"

#include <cmath>

#include <fmt/format.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace sy::json {

// ---- writer ------------------------------------------------------------------------------------

void escape(std::string_view in, std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    out.reserve(out.size() + in.size() + 2);
    std::size_t run = 0;  // start of the pending run of bytes that need no escape
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto c = static_cast<unsigned char>(in[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(in.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
        }
    }
    out.append(in.data() + run, in.size() - run);
}

std::string quote(std::string_view s) {
    std::string out;
    out.push_back('"');
    escape(s, out);
    out.push_back('"');
    return out;
}

void writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (depth_ == 0 || depth_ > 64) return;
    const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
    if (has_element_ & bit) out_.push_back(',');
    has_element_ |= bit;
}

writer& writer::begin_object() {
    separate();
    out_.push_back('{');
    ++depth_;
    if (depth_ <= 64) has_element_ &= ~(std::uint64_t{1} << (depth_ - 1));
    return *this;
}

writer& writer::end_object() {
    out_.push_back('}');
    --depth_;
    return *this;
}

writer& writer::begin_array() {
    separate();
    out_.push_back('[');
    ++depth_;
    if (depth_ <= 64) has_element_ &= ~(std::uint64_t{1} << (depth_ - 1));
    return *this;
}

writer& writer::end_array() {
    out_.push_back(']');
    --depth_;
    return *this;
}

writer& writer::key(std::string_view k) {
    separate();
    out_.push_back('"');
    escape(k, out_);
    out_ += "\":";
    after_key_ = true;
    return *this;
}

writer& writer::value(std::string_view s) {
    separate();
    out_.push_back('"');
    escape(s, out_);
    out_.push_back('"');
    return *this;
}

writer& writer::value(std::uint64_t v) {
    separate();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    return *this;
}

writer& writer::value(std::int64_t v) {
    separate();
    fmt::format_to(std::back_inserter(out_), "{}", v);
    return *this;
}

writer& writer::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

writer& writer::value(double d) {
    separate();
    if (std::isfinite(d)) {
        fmt::format_to(std::back_inserter(out_), "{}", d);
    } else {
        out_ += "null";
    }
    return *this;
}

writer& writer::null() {
    separate();
    out_ += "null";
    return *this;
}

writer& writer::raw(std::string_view json_value) {
    separate();
    out_ += json_value;
    return *this;
}

// ---- reader ------------------------------------------------------------------------------------

namespace {

constexpr unsigned k_flags = rapidjson::kParseValidateEncodingFlag |
                             rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

enum class kind : std::uint8_t { string, number, boolean, null, container };

struct member {
    std::string name;
    kind k = kind::null;
    std::string text;  ///< unescaped for strings, the source text otherwise
    bool flag = false;
};

/// SAX handler: bounds the nesting and, when asked, records the top-level members.
class handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, handler> {
  public:
    handler(unsigned max_depth, const rapidjson::MemoryStream& is, std::string_view text,
            std::vector<member>* members)
        : max_depth_(max_depth), is_(is), text_(text), members_(members) {}

    bool Default() { return scalar(kind::null, {}); }
    bool Bool(bool b) {
        if (!scalar(kind::boolean, {})) return false;
        if (members_ && depth_ == 1 && !members_->empty()) members_->back().flag = b;
        return true;
    }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
        return scalar(kind::number, std::string_view(s, n));
    }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        return scalar(kind::string, std::string_view(s, n));
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (members_ && depth_ == 1) {
            members_->push_back(member{std::string(s, n), kind::null, {}, false});
            value_start_ = value_offset();
        }
        return true;
    }
    bool StartObject() { return open(); }
    bool EndObject(rapidjson::SizeType) { return close(); }
    bool StartArray() { return open(); }
    bool EndArray(rapidjson::SizeType) { return close(); }

  private:
    // Where the member value after the key just read begins: past whitespace and the colon.
    std::size_t value_offset() const {
        std::size_t i = is_.Tell();
        while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' ||
                                    text_[i] == '\r' || text_[i] == ':'))
            ++i;
        return i;
    }
    bool scalar(kind k, std::string_view s) {
        if (members_ && depth_ == 1 && !members_->empty()) {
            member& m = members_->back();
            m.k = k;
            if (k == kind::string || k == kind::number) {
                m.text.assign(s);
            } else {
                m.text.assign(text_.substr(value_start_, is_.Tell() - value_start_));
            }
        }
        return true;
    }
    bool open() {
        ++nesting_;
        if (nesting_ > max_depth_) return false;
        ++depth_;
        return true;
    }
    bool close() {
        --nesting_;
        --depth_;
        if (members_ && depth_ == 1 && !members_->empty()) {
            member& m = members_->back();
            m.k = kind::container;
            // The iterative reader reports the end before it takes the closing bracket.
            std::size_t end = is_.Tell();
            if (end < text_.size() && (text_[end] == '}' || text_[end] == ']')) ++end;
            m.text.assign(text_.substr(value_start_, end - value_start_));
        }
        return true;
    }

    unsigned max_depth_;
    unsigned nesting_ = 0;
    unsigned depth_ = 0;
    std::size_t value_start_ = 0;
    const rapidjson::MemoryStream& is_;
    std::string_view text_;
    std::vector<member>* members_;
};

bool run(std::string_view text, unsigned max_depth, std::vector<member>* members, bool* object) {
    rapidjson::MemoryStream is(text.data(), text.size());
    handler h(max_depth, is, text, members);
    rapidjson::Reader reader;
    const bool ok = !reader.Parse<k_flags>(is, h).IsError();
    // MemoryStream reads '\0' at the end, so an embedded NUL would look like the end of input:
    // the whole text must have been consumed.
    if (!ok || is.Tell() != text.size()) return false;
    if (object) *object = !text.empty() && text[text.find_first_not_of(" \t\r\n")] == '{';
    return true;
}

}  // namespace

bool valid(std::string_view text, unsigned max_depth) {
    return run(text, max_depth, nullptr, nullptr);
}

struct document::impl {
    bool object = false;
    std::vector<member> members;
    const member* find(std::string_view name) const {
        for (const auto& m : members) {
            if (m.name == name) return &m;
        }
        return nullptr;
    }
};

document::document() : impl_(std::make_unique<impl>()) {}
document::~document() = default;
document::document(document&&) noexcept = default;
document& document::operator=(document&&) noexcept = default;

std::optional<document> document::parse(std::string_view text, unsigned max_depth) {
    document d;
    if (!run(text, max_depth, &d.impl_->members, &d.impl_->object)) return std::nullopt;
    if (!d.impl_->object) d.impl_->members.clear();
    return d;
}

bool document::is_object() const {
    return impl_->object;
}

bool document::has(std::string_view name) const {
    return impl_->find(name) != nullptr;
}

std::optional<std::string> document::get_string(std::string_view name) const {
    const member* m = impl_->find(name);
    if (!m || m->k != kind::string) return std::nullopt;
    return m->text;
}

std::optional<std::uint64_t> document::get_uint(std::string_view name) const {
    const member* m = impl_->find(name);
    if (!m || m->k != kind::number || m->text.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : m->text) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t next = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (next / 10 != v) return std::nullopt;  // overflow
        v = next;
    }
    return v;
}

std::optional<bool> document::get_bool(std::string_view name) const {
    const member* m = impl_->find(name);
    if (!m || m->k != kind::boolean) return std::nullopt;
    return m->flag;
}

std::vector<std::string> document::names() const {
    std::vector<std::string> out;
    out.reserve(impl_->members.size());
    for (const auto& m : impl_->members) out.push_back(m.name);
    return out;
}

std::optional<std::string> document::get_raw(std::string_view name) const {
    const member* m = impl_->find(name);
    if (!m) return std::nullopt;
    if (m->k == kind::string) return quote(m->text);
    return m->text;
}

}  // namespace sy::json
