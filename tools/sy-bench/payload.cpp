#include "payload.hpp"

#include <charconv>
#include <cstdio>

namespace sy::bench {

void write_payload(std::string& out, const marker& m, std::size_t size) {
    const std::size_t start = out.size();
    char buf[80];
    const int n =
        std::snprintf(buf, sizeof buf, "SYB%u.%llu.%lld;", m.publisher,
                      static_cast<unsigned long long>(m.seq), static_cast<long long>(m.send_ns));
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() - start < size) out.append(size - (out.size() - start), 'x');
}

namespace {
template <typename T>
bool take_number(std::string_view& s, char end, T& v) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr == s.data() || ptr == s.data() + s.size() || *ptr != end)
        return false;
    s.remove_prefix(static_cast<std::size_t>(ptr - s.data()) + 1);
    return true;
}
}  // namespace

bool parse_marker(std::string_view s, marker& m) {
    if (s.substr(0, 3) != "SYB") return false;
    s.remove_prefix(3);
    return take_number(s, '.', m.publisher) && take_number(s, '.', m.seq) &&
           take_number(s, ';', m.send_ns);
}

std::string expand_url(std::string_view tmpl, std::string_view topic) {
    std::string out;
    constexpr std::string_view key = "{topic}";
    std::size_t pos = 0;
    for (std::size_t at; (at = tmpl.find(key, pos)) != std::string_view::npos;
         pos = at + key.size()) {
        out.append(tmpl.substr(pos, at - pos));
        out.append(topic);
    }
    out.append(tmpl.substr(pos));
    return out;
}

std::string topic_name(std::string_view prefix, std::size_t i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

}  // namespace sy::bench
