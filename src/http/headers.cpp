#include "switchyard/http/headers.hpp"

#include <algorithm>

#include "switchyard/http/util.hpp"

namespace sy::http {

bool header_map::name_equals(std::string_view a, std::string_view b) {
    return iequals(a, b);
}

void header_map::add(std::string_view name, std::string_view value) {
    entry e;
    e.name_off = static_cast<std::uint32_t>(store_.size());
    e.name_len = static_cast<std::uint32_t>(name.size());
    store_.append(name);
    e.value_off = static_cast<std::uint32_t>(store_.size());
    e.value_len = static_cast<std::uint32_t>(value.size());
    store_.append(value);
    entries_.push_back(e);
}

void header_map::set(std::string_view name, std::string_view value) {
    remove(name);
    add(name, value);
}

std::size_t header_map::remove(std::string_view name) {
    // The removed bytes stay in store_ until clear(): removal is rare (response building).
    std::size_t before = entries_.size();
    entries_.erase(
        std::remove_if(entries_.begin(), entries_.end(),
                       [&](const entry& e) {
                           return iequals({store_.data() + e.name_off, e.name_len}, name);
                       }),
        entries_.end());
    return before - entries_.size();
}

std::optional<std::string_view> header_map::get(std::string_view name) const {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        header_field f = at(i);
        if (iequals(f.name, name)) return f.value;
    }
    return std::nullopt;
}

std::size_t header_map::count(std::string_view name) const {
    std::size_t n = 0;
    for_each(name, [&](std::string_view) { ++n; });
    return n;
}

std::vector<std::string_view> header_map::get_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for_each(name, [&](std::string_view v) { out.push_back(v); });
    return out;
}

}  // namespace sy::http
