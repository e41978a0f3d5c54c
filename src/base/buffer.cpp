#include "switchyard/base/buffer.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

namespace sy {

byte_buffer::~byte_buffer() {
    std::free(data_);
}

byte_buffer::byte_buffer(byte_buffer&& o) noexcept
    : data_(o.data_), cap_(o.cap_), rpos_(o.rpos_), wpos_(o.wpos_) {
    o.data_ = nullptr;
    o.cap_ = o.rpos_ = o.wpos_ = 0;
}

byte_buffer& byte_buffer::operator=(byte_buffer&& o) noexcept {
    if (this != &o) {
        std::free(data_);
        data_ = std::exchange(o.data_, nullptr);
        cap_ = std::exchange(o.cap_, 0);
        rpos_ = std::exchange(o.rpos_, 0);
        wpos_ = std::exchange(o.wpos_, 0);
    }
    return *this;
}

void byte_buffer::consume(std::size_t n) {
    rpos_ += n;
    if (rpos_ >= wpos_) rpos_ = wpos_ = 0;
}

void byte_buffer::reserve(std::size_t cap) {
    if (cap <= cap_) return;
    auto* p = static_cast<std::uint8_t*>(std::realloc(data_, cap));
    if (!p) throw std::bad_alloc();
    data_ = p;
    cap_ = cap;
}

mutable_byte_view byte_buffer::prepare(std::size_t min_free) {
    if (cap_ - wpos_ < min_free) {
        // Compact first: moving the unread tail to the front is cheaper than growing.
        if (rpos_ > 0 && cap_ - size() >= min_free) {
            std::memmove(data_, data_ + rpos_, size());
            wpos_ -= rpos_;
            rpos_ = 0;
        } else {
            std::size_t want = cap_ ? cap_ * 2 : 4096;
            while (want - wpos_ < min_free) want *= 2;
            reserve(want);
        }
    }
    return {data_ + wpos_, cap_ - wpos_};
}

void byte_buffer::append(const void* p, std::size_t n) {
    if (n == 0) return;
    auto span = prepare(n);
    std::memcpy(span.data(), p, n);
    commit(n);
}

void byte_buffer::shrink_if_empty() {
    if (empty() && data_) {
        std::free(data_);
        data_ = nullptr;
        cap_ = rpos_ = wpos_ = 0;
    }
}

shared_bytes shared_bytes::allocate(std::size_t size) {
    void* mem = std::malloc(sizeof(header) + size);
    if (!mem) throw std::bad_alloc();
    shared_bytes s;
    s.h_ = new (mem) header{{1}, 0, size};
    return s;
}

shared_bytes shared_bytes::copy_of(std::string_view str) {
    auto s = allocate(str.size());
    if (!str.empty()) std::memcpy(s.mutable_data(), str.data(), str.size());
    return s;
}

shared_bytes& shared_bytes::operator=(const shared_bytes& o) noexcept {
    if (h_ != o.h_) {
        release();
        h_ = o.h_;
        retain();
    }
    return *this;
}

shared_bytes& shared_bytes::operator=(shared_bytes&& o) noexcept {
    if (this != &o) {
        release();
        h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
}

void shared_bytes::release() {
    if (h_ && h_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        h_->~header();
        std::free(h_);
    }
    h_ = nullptr;
}

// ---- shared_bytes_builder
// ------------------------------------------------------------------------

void shared_bytes_builder::append(byte_view b) {
    if (b.empty()) return;
    const std::size_t have = size();
    const std::size_t need = have + b.size();
    if (!unique() || need > cap_) {
        // A new block: the old one is shared (its bytes must not change) or too small.
        const std::size_t cap = unique() ? std::max(need, cap_ * 2) : std::max(need, cap_);
        shared_bytes next = shared_bytes::allocate(cap);
        if (have) std::memcpy(next.mutable_data(), block_.data(), have);
        next.h_->size = have;
        block_ = std::move(next);
        cap_ = cap;
    }
    std::memcpy(block_.mutable_data() + have, b.data(), b.size());
    block_.h_->size = need;
}

void shared_bytes_builder::clear() {
    if (unique()) {
        block_.h_->size = 0;
    } else {
        block_ = shared_bytes();
        cap_ = 0;
    }
}

}  // namespace sy
