// RESP2 parser and command encoder (see the header for the contract).
#include "switchyard/proto/resp/resp.hpp"

#include <charconv>
#include <string>

namespace sy::resp {

std::string_view to_string(parse_error e) {
    switch (e) {
        case parse_error::none:
            return "no error";
        case parse_error::bad_type:
            return "unknown RESP type byte";
        case parse_error::bad_integer:
            return "malformed integer or length";
        case parse_error::bad_line_end:
            return "missing CRLF";
        case parse_error::too_big:
            return "bulk string or array over its limit";
        case parse_error::too_deep:
            return "arrays nested too deep";
        case parse_error::line_too_long:
            return "line too long";
    }
    return "unknown RESP error";
}

value value::operator[](std::size_t i) const {
    const node* c = n_ + 1;
    for (std::size_t k = 0; k < i; ++k) c += c->span;
    return value(c);
}

parser::step parser::fail(parse_error e, std::size_t at) {
    err_ = e;
    err_at_ = at;
    return step::fail;
}

parser::step parser::read_line(std::string_view in, std::size_t& pos, std::string_view& line) {
    const std::size_t lf = in.find('\n', pos);
    if (lf == std::string_view::npos) {
        if (in.size() - pos > cfg_.max_line) return fail(parse_error::line_too_long, pos);
        needed_ = in.size() + 1;
        return step::more;
    }
    if (lf == pos || in[lf - 1] != '\r') return fail(parse_error::bad_line_end, lf);
    if (lf - 1 - pos > cfg_.max_line) return fail(parse_error::line_too_long, pos);
    line = in.substr(pos, lf - 1 - pos);
    pos = lf + 1;
    return step::ok;
}

parser::step parser::read_length(std::string_view line, std::int64_t& v, std::size_t at) {
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (line.empty() || ec != std::errc() || p != line.data() + line.size()) {
        return fail(parse_error::bad_integer, at);
    }
    return step::ok;
}

// One value starting at pos (RESP2: the type byte, a line, then a bulk body or the elements).
parser::step parser::parse_value(std::string_view in, std::size_t& pos, std::size_t depth) {
    if (pos >= in.size()) {
        needed_ = pos + 1;
        return step::more;
    }
    const char kind = in[pos];
    const std::size_t at = pos;
    std::size_t p = pos + 1;
    std::string_view line;
    if (kind != '+' && kind != '-' && kind != ':' && kind != '$' && kind != '*') {
        return fail(parse_error::bad_type, at);
    }
    if (step s = read_line(in, p, line); s != step::ok) return s;
    node n;
    switch (kind) {
        case '+':
        case '-':
            n.t = kind == '+' ? type::simple : type::error;
            n.str = line;
            break;
        case ':':
            n.t = type::integer;
            if (step s = read_length(line, n.num, at + 1); s != step::ok) return s;
            break;
        case '$': {
            std::int64_t len = 0;
            if (step s = read_length(line, len, at + 1); s != step::ok) return s;
            if (len == -1) break;  // nil bulk string
            if (len < -1) return fail(parse_error::bad_integer, at + 1);
            if (static_cast<std::uint64_t>(len) > cfg_.max_bulk) {
                return fail(parse_error::too_big, at + 1);
            }
            const std::size_t end = p + static_cast<std::size_t>(len);
            if (in.size() < end + 2) {
                needed_ = end + 2;
                return step::more;
            }
            if (in[end] != '\r' || in[end + 1] != '\n') return fail(parse_error::bad_line_end, end);
            n.t = type::bulk;
            n.str = in.substr(p, static_cast<std::size_t>(len));
            p = end + 2;
            break;
        }
        default: {  // '*'
            std::int64_t count = 0;
            if (step s = read_length(line, count, at + 1); s != step::ok) return s;
            if (count == -1) break;  // nil array
            if (count < -1) return fail(parse_error::bad_integer, at + 1);
            if (static_cast<std::uint64_t>(count) > cfg_.max_array) {
                return fail(parse_error::too_big, at + 1);
            }
            if (depth + 1 > cfg_.max_depth) return fail(parse_error::too_deep, at);
            const std::size_t self = nodes_.size();
            nodes_.push_back(node{type::array, {}, count, 1});
            for (std::int64_t i = 0; i < count; ++i) {
                if (step s = parse_value(in, p, depth + 1); s != step::ok) return s;
            }
            nodes_[self].span = nodes_.size() - self;
            pos = p;
            return step::ok;
        }
    }
    nodes_.push_back(n);
    pos = p;
    return step::ok;
}

parse_result parser::parse(byte_view in) {
    const std::string_view s = as_string_view(in);
    if (needed_ > s.size()) return {outcome::need_more, 0, needed_};
    nodes_.clear();
    needed_ = 0;
    std::size_t pos = 0;
    switch (parse_value(s, pos, 0)) {
        case step::ok:
            return {outcome::complete, pos, 0};
        case step::more:
            return {outcome::need_more, 0, needed_};
        case step::fail:
            break;
    }
    nodes_.clear();
    needed_ = 0;
    return {outcome::error, 0, 0};
}

namespace {
void append_header(byte_buffer& out, char kind, std::size_t n) {
    char tmp[24];
    tmp[0] = kind;
    auto [p, ec] = std::to_chars(tmp + 1, tmp + sizeof tmp - 2, n);
    (void)ec;
    *p++ = '\r';
    *p++ = '\n';
    out.append(tmp, static_cast<std::size_t>(p - tmp));
}
}  // namespace

void encode_command(byte_buffer& out, std::span<const std::string_view> args) {
    append_header(out, '*', args.size());
    for (std::string_view a : args) {
        append_header(out, '$', a.size());
        out.append(a);
        out.append(std::string_view("\r\n"));
    }
}

void encode_command(byte_buffer& out, std::initializer_list<std::string_view> args) {
    encode_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace sy::resp
