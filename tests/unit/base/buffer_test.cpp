#include "switchyard/base/buffer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sy {
namespace {

TEST(byte_buffer, append_consume_resets_cursors) {
    byte_buffer b;
    b.append("hello");
    b.append(std::string_view(" world"));
    EXPECT_EQ(b.view(), "hello world");
    b.consume(6);
    EXPECT_EQ(b.view(), "world");
    b.consume(5);
    EXPECT_TRUE(b.empty());
    auto span = b.prepare(1);
    EXPECT_EQ(span.data(), b.data());  // cursors were reset to the front
}

TEST(byte_buffer, prepare_compacts_before_growing) {
    byte_buffer b(16);
    b.append(std::string(12, 'x'));
    b.consume(10);
    auto cap = b.capacity();
    auto span = b.prepare(12);
    EXPECT_GE(span.size(), 12u);
    EXPECT_EQ(b.capacity(), cap);
    EXPECT_EQ(b.view(), "xx");
}

TEST(byte_buffer, grows_and_shrinks_when_empty) {
    byte_buffer b;
    b.append(std::string(100000, 'a'));
    EXPECT_GE(b.capacity(), 100000u);
    b.consume(b.size());
    b.shrink_if_empty();
    EXPECT_EQ(b.capacity(), 0u);
}

TEST(byte_buffer, move_transfers_storage) {
    byte_buffer a;
    a.append("abc");
    byte_buffer b(std::move(a));
    EXPECT_EQ(b.view(), "abc");
    EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is defined
}

TEST(shared_bytes, refcount_follows_copies) {
    auto s = shared_bytes::copy_of("frame");
    EXPECT_EQ(s.use_count(), 1u);
    {
        shared_bytes t = s;
        EXPECT_EQ(s.use_count(), 2u);
        EXPECT_EQ(t.view(), "frame");
        shared_bytes u = std::move(t);
        EXPECT_EQ(s.use_count(), 2u);
    }
    EXPECT_EQ(s.use_count(), 1u);
    shared_bytes empty;
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_FALSE(empty);
}

// The builder hands its block over without a copy, and never changes bytes it handed over.
TEST(shared_bytes_builder, share_is_the_block_and_stays_immutable) {
    shared_bytes_builder b;
    EXPECT_FALSE(b.share());
    b.append(as_bytes(std::string_view("hello ")));
    b.append(as_bytes(std::string_view("world")));
    EXPECT_EQ(b.view(), "hello world");
    shared_bytes s = b.share();
    EXPECT_EQ(s.data(), reinterpret_cast<const std::uint8_t*>(b.view().data()));  // no copy
    EXPECT_EQ(s.view(), "hello world");
    b.append(as_bytes(std::string_view("!")));  // shared: moves to a new block
    EXPECT_EQ(s.view(), "hello world");
    EXPECT_EQ(b.view(), "hello world!");
    EXPECT_NE(s.data(), reinterpret_cast<const std::uint8_t*>(b.view().data()));
    b.clear();  // shared block released by the builder, the copy holds it
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(s.view(), "hello world");
    EXPECT_EQ(s.use_count(), 1u);
    b.append(as_bytes(std::string_view("x")));
    const std::uint8_t* block = b.bytes().data();
    b.clear();  // unique: the block is kept for reuse
    b.append(as_bytes(std::string_view("y")));
    EXPECT_EQ(b.bytes().data(), block);
    EXPECT_EQ(b.view(), "y");
}

}  // namespace
}  // namespace sy
