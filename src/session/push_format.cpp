#include "switchyard/session/push_format.hpp"

#include <fmt/format.h>

#include "switchyard/http/util.hpp"
#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace sy::session {

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

bool is_json_type(std::string_view ct) {
    return starts_with_ci(ct, "application/json") || contains(ct, "+json");
}

bool is_textual_type(std::string_view ct) {
    return ct.empty() || starts_with_ci(ct, "text/") || is_json_type(ct) || contains(ct, "xml") ||
           contains(ct, "javascript") || starts_with_ci(ct, "application/x-www-form-urlencoded");
}

}  // namespace

bool is_text_message(const hub::message& m) {
    return m.utf8 && is_textual_type(m.content_type);
}

std::string base64_encode(std::string_view in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) |
                       (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += table[n & 63];
    }
    if (i < in.size()) {
        std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

void append_json_data(std::string& out, const hub::message& m, bool& base64) {
    base64 = false;
    const std::string_view data = m.payload.view();
    const bool utf8 = m.utf8;  // decided once at publish (hub::message::utf8)
    // Embedded as it is only when it is JSON: one publisher's malformed body must not make the
    // envelope every subscriber receives unparsable (it goes as a string instead).
    if (utf8 && is_json_type(m.content_type) && http::is_json_value(data)) {
        out += data;
    } else if (utf8) {
        out += '"';
        http::json_escape(data, out);
        out += '"';
    } else {
        base64 = true;
        out += '"';
        out += base64_encode(data);
        out += '"';
    }
}

std::string envelope_json(const hub::message& m) {
    if (m.is_gap()) return gap_json(m.topic, m.gap_from, m.gap_to, m.lost_count());
    std::string out;
    out.reserve(m.payload.size() + m.topic.size() + m.content_type.size() + 96);
    fmt::format_to(std::back_inserter(out), "{{\"type\":\"message\",\"id\":{},\"topic\":\"", m.id);
    http::json_escape(m.topic, out);
    fmt::format_to(std::back_inserter(out), "\",\"time\":{},\"content_type\":\"", m.time_ms);
    http::json_escape(m.content_type, out);
    out += "\",\"data\":";
    bool b64 = false;
    append_json_data(out, m, b64);
    if (b64) out += ",\"encoding\":\"base64\"";
    out += '}';
    return out;
}

std::string gap_json(std::string_view topic, std::uint64_t from, std::uint64_t to,
                     std::uint64_t lost) {
    std::string out = "{\"type\":\"gap\",\"topic\":\"";
    http::json_escape(topic, out);
    fmt::format_to(std::back_inserter(out), "\",\"from\":{},\"to\":{},\"lost\":{}}}", from, to,
                   lost);
    return out;
}

shared_bytes ws_frame(const hub::message& m, bool envelope) {
    if (envelope || m.is_gap()) {
        const std::string j = envelope_json(m);
        return ws::encode_shared(ws::opcode::text, as_bytes(std::string_view(j)));
    }
    const auto op = is_text_message(m) ? ws::opcode::text : ws::opcode::binary;
    return ws::encode_shared(op, m.payload.bytes());
}

shared_bytes sse_event(const hub::message& m, bool envelope, std::string_view event) {
    const std::string id = std::to_string(m.id);
    sse::event_fields f;
    f.id = id;
    std::string body;
    if (m.is_gap()) {
        body = gap_json(m.topic, m.gap_from, m.gap_to, m.lost_count());
        f.event = "gap";
        f.data = body;
    } else if (envelope) {
        body = envelope_json(m);
        f.event = event;
        f.data = body;
    } else {
        f.event = event;
        bool b64 = false;
        if (is_text_message(m) || m.payload.empty()) {
            f.data = m.payload.view();
        } else {
            body.clear();
            append_json_data(body, m, b64);  // binary: a base64 JSON string
            f.data = body;
        }
    }
    auto r = sse::encode_shared(f);
    // Only an event name with CR/LF can fail; the gateway validates names up front.
    return r ? std::move(r.value()) : shared_bytes{};
}

}  // namespace sy::session
