#include "switchyard/session/push_format.hpp"

#include <fmt/format.h>

#include "switchyard/base/json.hpp"
#include "switchyard/base/text.hpp"
#include "switchyard/hub/topic_log.hpp"
#include "switchyard/proto/sse/encoder.hpp"
#include "switchyard/proto/ws/frame.hpp"

namespace sy::session {

namespace {

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

bool is_json_type(std::string_view ct) {
    return istarts_with(ct, "application/json") || contains(ct, "+json");
}

bool is_textual_type(std::string_view ct) {
    return ct.empty() || istarts_with(ct, "text/") || is_json_type(ct) || contains(ct, "xml") ||
           contains(ct, "javascript") || istarts_with(ct, "application/x-www-form-urlencoded");
}

}  // namespace

bool is_text_message(const hub::message& m) {
    return m.utf8 && is_textual_type(m.content_type);
}

bool write_json_data(json::writer& w, const hub::message& m) {
    const std::string_view data = m.payload.view();
    const bool utf8 = m.utf8;  // decided once at publish (hub::message::utf8)
    // Embedded as it is only when it is JSON: one publisher's malformed body must not make the
    // envelope every subscriber receives unparsable (it goes as a string instead).
    if (utf8 && is_json_type(m.content_type) && json::valid(data)) {
        w.raw(data);
    } else if (utf8) {
        w.value(data);
    } else {
        w.value(base64_encode(data));
        return true;
    }
    return false;
}

void append_json_data(std::string& out, const hub::message& m, bool& base64) {
    json::writer w(out);
    base64 = write_json_data(w, m);
}

std::string envelope_json(const hub::message& m) {
    if (m.is_gap()) return gap_json(m.topic, m.gap_from, m.gap_to, m.lost_count());
    std::string out;
    out.reserve(m.payload.size() + m.topic.size() + m.content_type.size() + 96);
    json::writer w(out);
    w.begin_object().member("type", "message").member("id", m.id);
    if (m.epoch != 0) w.member("epoch", m.epoch);  // local topics: the envelope as before
    w.member("topic", m.topic)
        .member("time", m.time_ms)
        .member("content_type", m.content_type)
        .key("data");
    if (write_json_data(w, m)) w.member("encoding", "base64");
    w.end_object();
    return out;
}

std::string gap_json(std::string_view topic, std::uint64_t from, std::uint64_t to,
                     std::uint64_t lost) {
    std::string out;
    json::writer w(out);
    w.begin_object()
        .member("type", "gap")
        .member("topic", topic)
        .member("from", from)
        .member("to", to)
        .member("lost", lost)
        .end_object();
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
    const std::string id = hub::resume_token(m.epoch, m.id);
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
