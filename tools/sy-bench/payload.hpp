// payload: what sy-bench publishes and how subscribers recognise it.
//
// A message body is "SYB<publisher>.<seq>.<send_ns>;" padded with 'x' to the requested size.
// send_ns is sy::now_ns() (CLOCK_MONOTONIC) when the publish request was queued, so a subscriber
// in the same process computes latency = receive time - send_ns on one clock. Subscribers find
// markers with a substring search, so the payload is recognised whatever wraps it (a WS frame, an
// SSE data line, a long-poll body, a JSON envelope); a body may carry several markers.
//
// Also: URL templates ("/pub/{topic}") shared by the subcommands.
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sy::bench {

struct marker {
    std::uint32_t publisher = 0;
    std::uint64_t seq = 0;  // per publisher and topic, from 1
    std::int64_t send_ns = 0;
};

/// Appends one payload of max(size, marker length) bytes to out.
void write_payload(std::string& out, const marker& m, std::size_t size);

/// Calls fn(marker) for every well-formed marker in s; returns how many it found.
template <typename Fn>
std::size_t scan_payloads(std::string_view s, Fn&& fn);

/// Parses one marker at the start of s (which begins with "SYB"); false if malformed.
bool parse_marker(std::string_view s, marker& m);

/// Replaces every "{topic}" in tmpl by topic.
std::string expand_url(std::string_view tmpl, std::string_view topic);

/// Topic i of a run: "<prefix><i>" (prefix from --topic).
std::string topic_name(std::string_view prefix, std::size_t i);

template <typename Fn>
std::size_t scan_payloads(std::string_view s, Fn&& fn) {
    std::size_t found = 0;
    for (std::size_t pos = s.find("SYB"); pos != std::string_view::npos;
         pos = s.find("SYB", pos + 3)) {
        marker m;
        if (parse_marker(s.substr(pos), m)) {
            ++found;
            fn(m);
        }
    }
    return found;
}

}  // namespace sy::bench
