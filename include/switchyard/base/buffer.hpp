// Byte buffers.
//
// byte_buffer: a growable contiguous buffer with a read cursor and a write cursor, used for
//   connection input (the codec parses in place from readable()) and for building output.
//   Not thread-safe; owned by one loop.
// shared_bytes: an immutable, reference-counted byte string. A published message is framed once
//   per protocol into a shared_bytes and the same bytes are queued on every subscriber's output,
//   across loops (the count is atomic; the bytes never change after creation).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "switchyard/base/bytes.hpp"

namespace sy {

class byte_buffer {
  public:
    byte_buffer() = default;
    explicit byte_buffer(std::size_t initial_capacity) { reserve(initial_capacity); }
    ~byte_buffer();
    byte_buffer(const byte_buffer&) = delete;
    byte_buffer& operator=(const byte_buffer&) = delete;
    byte_buffer(byte_buffer&& o) noexcept;
    byte_buffer& operator=(byte_buffer&& o) noexcept;

    /// Bytes written and not yet consumed.
    std::uint8_t* data() { return data_ + rpos_; }
    const std::uint8_t* data() const { return data_ + rpos_; }
    std::size_t size() const { return wpos_ - rpos_; }
    bool empty() const { return wpos_ == rpos_; }
    byte_view readable() const { return {data_ + rpos_, wpos_ - rpos_}; }
    std::string_view view() const { return {reinterpret_cast<const char*>(data()), size()}; }

    /// Marks n readable bytes as consumed. When everything is consumed the cursors reset, so a
    /// buffer that is drained every turn never moves memory.
    void consume(std::size_t n);

    /// Space after the write cursor, at least min_free bytes (grows or compacts as needed).
    mutable_byte_view prepare(std::size_t min_free);
    /// Marks n bytes written into the span returned by prepare().
    void commit(std::size_t n) { wpos_ += n; }

    void append(const void* p, std::size_t n);
    void append(std::string_view s) { append(s.data(), s.size()); }
    void append(byte_view b) { append(b.data(), b.size()); }

    void clear() { rpos_ = wpos_ = 0; }
    std::size_t capacity() const { return cap_; }
    void reserve(std::size_t cap);
    /// Frees the storage when empty (idle connections keep no buffer).
    void shrink_if_empty();

  private:
    std::uint8_t* data_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t rpos_ = 0;
    std::size_t wpos_ = 0;
};

class shared_bytes {
  public:
    shared_bytes() = default;
    /// Allocates size bytes (uninitialised) with a reference count of one.
    static shared_bytes allocate(std::size_t size);
    static shared_bytes copy_of(std::string_view s);

    shared_bytes(const shared_bytes& o) noexcept : h_(o.h_) { retain(); }
    shared_bytes(shared_bytes&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
    shared_bytes& operator=(const shared_bytes& o) noexcept;
    shared_bytes& operator=(shared_bytes&& o) noexcept;
    ~shared_bytes() { release(); }

    const std::uint8_t* data() const { return h_ ? payload() : nullptr; }
    /// Only while building, before the bytes are shared.
    std::uint8_t* mutable_data() { return h_ ? payload() : nullptr; }
    std::size_t size() const { return h_ ? h_->size : 0; }
    bool empty() const { return size() == 0; }
    std::string_view view() const { return {reinterpret_cast<const char*>(data()), size()}; }
    byte_view bytes() const { return {data(), size()}; }
    explicit operator bool() const { return h_ != nullptr; }
    std::uint32_t use_count() const { return h_ ? h_->refs.load(std::memory_order_relaxed) : 0; }

  private:
    friend class shared_bytes_builder;
    struct header {
        std::atomic<std::uint32_t> refs;
        std::uint32_t pad;
        std::size_t size;
    };
    std::uint8_t* payload() const { return reinterpret_cast<std::uint8_t*>(h_ + 1); }
    void retain() {
        if (h_) h_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    void release();
    header* h_ = nullptr;
};

/// Accumulates bytes (a request body arriving in pieces) in a block that share() hands over as
/// shared_bytes without a copy. The bytes handed over never change: an append() after share(),
/// while the shared copy is alive, moves the builder to a new block first. Growth is geometric
/// from the first append's exact size, so a body that arrives in one read takes one allocation.
/// Not thread-safe (one loop); the shared_bytes it returns are like any other.
class shared_bytes_builder {
  public:
    void append(byte_view b);
    std::size_t size() const { return block_.size(); }
    bool empty() const { return size() == 0; }
    std::string_view view() const { return block_.view(); }
    byte_view bytes() const { return block_.bytes(); }
    /// The bytes so far, shared (no copy). Empty builder: an empty shared_bytes.
    shared_bytes share() const { return block_; }
    /// Back to empty; keeps the block for reuse when nothing else shares it.
    void clear();

  private:
    bool unique() const {
        return block_.h_ && block_.h_->refs.load(std::memory_order_acquire) == 1;
    }
    shared_bytes block_;
    std::size_t cap_ = 0;  // payload capacity of block_ (its header's size is what is written)
};

}  // namespace sy
