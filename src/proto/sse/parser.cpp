// WHATWG HTML 9.2.6, "Interpreting an event stream".
#include "switchyard/proto/sse/parser.hpp"

#include <algorithm>
#include <cstring>

namespace sy::sse {
namespace {
constexpr std::uint8_t k_bom[3] = {0xEF, 0xBB, 0xBF};
}

std::string_view to_string(parse_error e) {
    switch (e) {
        case parse_error::none:
            return "none";
        case parse_error::line_too_long:
            return "line_too_long";
        case parse_error::data_too_big:
            return "data_too_big";
    }
    return "?";
}

parser::line_result parser::fail(parse_error e) {
    err_ = e;
    state_ = parse_state::failed;
    return line_result::fail;
}

// Strips one U+FEFF at the very start of the stream. Bytes that began like a BOM but were not
// one are line content (kept in line_).
std::size_t parser::skip_bom(byte_view in) {
    std::size_t pos = 0;
    while (pos < in.size() && bom_have_ < 3) {
        if (in[pos] != k_bom[bom_have_]) {
            line_.append(reinterpret_cast<const char*>(k_bom), bom_have_);
            state_ = parse_state::lines;
            return pos;
        }
        ++bom_have_;
        ++pos;
    }
    if (bom_have_ == 3) state_ = parse_state::lines;
    return pos;
}

parse_result parser::feed(byte_view in, event& ev) {
    if (state_ == parse_state::failed) return {outcome::error, 0};
    if (reset_pending_) {
        data_.clear();
        type_.clear();
        reset_pending_ = false;
    }
    std::size_t pos = 0;
    if (state_ == parse_state::bom) pos = skip_bom(in);
    const char* base = reinterpret_cast<const char*>(in.data());
    while (pos < in.size()) {
        if (skip_lf_) {
            skip_lf_ = false;
            if (base[pos] == '\n' && ++pos == in.size()) break;
        }
        // Line end: the first CR or LF.
        const char* start = base + pos;
        const std::size_t left = in.size() - pos;
        const char* lf = static_cast<const char*>(std::memchr(start, '\n', left));
        const std::size_t scan = lf ? static_cast<std::size_t>(lf - start) : left;
        const char* cr = static_cast<const char*>(std::memchr(start, '\r', scan));
        const char* eol = cr ? cr : lf;
        if (!eol) {
            if (line_.size() + left > cfg_.max_line) {
                fail(parse_error::line_too_long);
                return {outcome::error, 0};
            }
            line_.append(start, left);
            pos = in.size();
            break;
        }
        std::string_view line(start, static_cast<std::size_t>(eol - start));
        if (!line_.empty()) {
            line_.append(line);
            line = line_;
        }
        pos += static_cast<std::size_t>(eol - start) + 1;
        skip_lf_ = *eol == '\r';
        line_result r =
            line.size() > cfg_.max_line ? fail(parse_error::line_too_long) : process_line(line, ev);
        line_.clear();
        if (r == line_result::fail) return {outcome::error, 0};
        if (r == line_result::event) {
            offset_ += pos;
            return {outcome::complete, pos};
        }
    }
    offset_ += pos;
    return {outcome::need_more, pos};
}

parser::line_result parser::process_line(std::string_view line, event& ev) {
    if (line.empty()) return dispatch(ev);
    const std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (colon == 0) {
        if (!cfg_.report_comments) return line_result::none;
        comment_.assign(value);
        ev = event{};
        ev.kind = event_kind::comment;
        ev.comment = comment_;
        return line_result::event;
    }
    if (name == "data") {
        if (data_.size() + value.size() + 1 > cfg_.max_data) return fail(parse_error::data_too_big);
        data_.append(value);
        data_.push_back('\n');
    } else if (name == "event") {
        type_.assign(value);
    } else if (name == "id") {
        if (value.find('\0') == std::string_view::npos) id_buf_.assign(value);
    } else if (name == "retry") {
        const bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        if (digits) {
            std::uint64_t v = 0;
            for (char c : value) {
                const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;  // saturate
            }
            retry_ = v;
        }
    }
    // Any other field name is ignored (9.2.6).
    return line_result::none;
}

parser::line_result parser::dispatch(event& ev) {
    last_id_ = id_buf_;
    if (data_.empty()) {
        type_.clear();
        return line_result::none;
    }
    ev = event{};
    ev.kind = event_kind::message;
    ev.data = std::string_view(data_).substr(0, data_.size() - 1);  // drop the final LF
    ev.type = type_.empty() ? std::string_view("message") : std::string_view(type_);
    ev.last_event_id = last_id_;
    reset_pending_ = true;
    return line_result::event;
}

}  // namespace sy::sse
