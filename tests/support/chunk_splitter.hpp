// Chunk splitting for "feed it whole, split at every byte, one byte at a time" codec tests.
//
//   for_each_split(input, [&](const std::vector<std::string_view>& chunks) { ...feed... });
// calls the function with: {input}; every two-way split {input[0,i), input[i,n)} for 0 < i < n;
// and the one-byte-at-a-time split. chunks_of(input, k) splits into k-byte pieces.
// Views point into input. Header-only; test code.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace sy::test {

inline std::vector<std::string_view> chunks_of(std::string_view s, std::size_t k) {
    std::vector<std::string_view> out;
    if (k == 0) k = 1;
    for (std::size_t i = 0; i < s.size(); i += k) out.push_back(s.substr(i, k));
    return out;
}

template <typename Fn>
void for_each_split(std::string_view s, Fn&& fn) {
    fn(std::vector<std::string_view>{s});
    for (std::size_t i = 1; i < s.size(); ++i)
        fn(std::vector<std::string_view>{s.substr(0, i), s.substr(i)});
    if (s.size() > 1) fn(chunks_of(s, 1));
}

}  // namespace sy::test
