// Private helper: builds nghttp2_nv arrays from views. nghttp2 copies names and values when
// the NO_COPY flags are absent, so the views only need to live until the submit call returns.
#pragma once

#include <nghttp2/nghttp2.h>

#include <string_view>
#include <vector>

#include "switchyard/proto/http2/common.hpp"

namespace sy::http2 {

inline nghttp2_nv make_nv(std::string_view name, std::string_view value) {
    return nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                      const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
                      name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

class nv_list {
  public:
    nv_list() = default;
    explicit nv_list(const owned_headers& h) {
        v_.reserve(h.size());
        for (const auto& [n, val] : h) add(n, val);
    }
    void add(std::string_view n, std::string_view v) { v_.push_back(make_nv(n, v)); }
    const nghttp2_nv* data() const { return v_.data(); }
    std::size_t size() const { return v_.size(); }

  private:
    std::vector<nghttp2_nv> v_;
};

}  // namespace sy::http2
