// header_map: an ordered multi-map of header fields with case-insensitive lookup.
//
// Storage: every name and value is copied into ONE backing std::string owned by the map; the
// entries are (offset, length) pairs into it, so the backing buffer may grow without
// invalidating entries, and clear() keeps both capacities (a connection can reuse the map for
// every request without allocating). Views returned by lookups stay valid until the next
// add()/set() (which may reallocate the backing buffer) or clear().
// Names are stored as given; lookups compare ASCII case-insensitively (RFC 9110 5.1).
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::http {

struct header_field {
    std::string_view name;
    std::string_view value;
};

class header_map {
  public:
    header_map() = default;

    /// Appends a field (duplicates allowed: multi-value fields keep their order).
    void add(std::string_view name, std::string_view value);
    /// Replaces every field called `name` with one field.
    void set(std::string_view name, std::string_view value);
    /// Removes every field called `name`; returns how many were removed.
    std::size_t remove(std::string_view name);

    /// The first value of `name`, or nullopt.
    std::optional<std::string_view> get(std::string_view name) const;
    bool contains(std::string_view name) const { return get(name).has_value(); }
    std::size_t count(std::string_view name) const;
    /// Every value of `name` in order (allocates; use for_each for hot paths).
    std::vector<std::string_view> get_all(std::string_view name) const;
    /// Calls fn(value) for every field called `name`, in order.
    template <typename Fn>
    void for_each(std::string_view name, Fn&& fn) const {
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            header_field f = at(i);
            if (name_equals(f.name, name)) fn(f.value);
        }
    }

    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    header_field at(std::size_t i) const {
        const entry& e = entries_[i];
        return {{store_.data() + e.name_off, e.name_len},
                {store_.data() + e.value_off, e.value_len}};
    }
    void clear() {
        store_.clear();
        entries_.clear();
    }
    void reserve(std::size_t bytes, std::size_t fields) {
        store_.reserve(bytes);
        entries_.reserve(fields);
    }

    class iterator {
      public:
        using value_type = header_field;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const header_map* m, std::size_t i) : m_(m), i_(i) {}
        header_field operator*() const { return m_->at(i_); }
        iterator& operator++() {
            ++i_;
            return *this;
        }
        iterator operator++(int) {
            iterator t = *this;
            ++i_;
            return t;
        }
        bool operator==(const iterator& o) const { return i_ == o.i_; }

      private:
        const header_map* m_ = nullptr;
        std::size_t i_ = 0;
    };
    iterator begin() const { return {this, 0}; }
    iterator end() const { return {this, entries_.size()}; }

  private:
    struct entry {
        std::uint32_t name_off, name_len, value_off, value_len;
    };
    static bool name_equals(std::string_view a, std::string_view b);
    std::string store_;
    std::vector<entry> entries_;
};

}  // namespace sy::http
