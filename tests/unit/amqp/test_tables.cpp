// Field tables and arrays: every RabbitMQ field type, nesting, byte vectors, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness.hpp"
#include "switchyard/proto/amqp/field_table.hpp"

namespace sy::amqp {
namespace {

using namespace std::literals;
using test::bv;

std::vector<field_entry> collect(const table_view& t) {
    std::vector<field_entry> v;
    for (const auto& e : t.entries()) v.push_back(e);
    return v;
}

TEST(AmqpTables, EveryFieldTypeRoundTrips) {
    byte_buffer inner;
    encode_table(inner, {{"deep", std::int64_t{-5}}});
    byte_buffer arr;
    std::vector<field_value> arr_values = {std::int32_t{1}, "two"sv, field_value(void_value{})};
    encode_array(arr, arr_values);

    std::vector<field_entry> entries = {
        {"t", true},
        {"b", std::int8_t{-7}},
        {"B", std::uint8_t{250}},
        {"s", std::int16_t{-30000}},
        {"u", std::uint16_t{60000}},
        {"I", std::int32_t{-2000000000}},
        {"i", std::uint32_t{4000000000u}},
        {"l", std::int64_t{-9000000000000000000}},
        {"f", 1.5f},
        {"d", -2.25},
        {"D", decimal_value{2, 31415}},
        {"S", "long string"sv},
        {"x", byte_array{"\x00\xff"sv}},
        {"T", timestamp_value{1700000000}},
        {"F", entries_of(inner.readable())},
        {"A", values_of(arr.readable())},
        {"V", void_value{}},
    };
    byte_buffer out;
    encode_table(out, entries);
    auto t = decode_table(out.readable());
    ASSERT_TRUE(t.has_value());
    auto back = collect(*t);
    ASSERT_EQ(back.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(back[i], entries[i]) << entries[i].key;
        EXPECT_EQ(std::string(1, field_type_letter(back[i].value)), entries[i].key);
    }
    EXPECT_EQ(t->size(), entries.size());
    auto nested = std::get<table_view>(*find(*t, "F"));
    EXPECT_EQ(std::get<std::int64_t>(*find(nested, "deep")), -5);
    auto a = std::get<array_view>(*find(*t, "A"));
    std::vector<field_value> av(a.values().begin(), a.values().end());
    EXPECT_EQ(av, arr_values);
    EXPECT_FALSE(find(*t, "missing").has_value());
}

TEST(AmqpTables, ByteVector) {
    // {"a": 'I' 1, "b": 'S' "xy", "c": 'F' {"d": 't' 0}, "e": 'A' ['u' 2]}
    constexpr std::string_view wire =
        "\x00\x00\x00\x25"
        "\x01"
        "a"
        "I\x00\x00\x00\x01"
        "\x01"
        "b"
        "S\x00\x00\x00\x02xy"
        "\x01"
        "c"
        "F\x00\x00\x00\x04\x01"
        "dt\x00"
        "\x01"
        "e"
        "A\x00\x00\x00\x03u\x00\x02"sv;
    auto t = decode_table(bv(wire));
    ASSERT_TRUE(t.has_value());
    auto v = collect(*t);
    ASSERT_EQ(v.size(), 4u);
    EXPECT_EQ(std::get<std::int32_t>(v[0].value), 1);
    EXPECT_EQ(std::get<std::string_view>(v[1].value), "xy");
    auto c = collect(std::get<table_view>(v[2].value));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0], (field_entry{"d", false}));
    auto e = std::get<array_view>(v[3].value);
    EXPECT_EQ(e.size(), 1u);
    EXPECT_EQ(std::get<std::uint16_t>(*e.values().begin()), 2);
    // And encoding the same entries gives the same bytes.
    byte_buffer inner, arr, out;
    encode_table(inner, {{"d", false}});
    std::vector<field_value> av = {std::uint16_t{2}};
    encode_array(arr, av);
    encode_table(out, {{"a", std::int32_t{1}},
                       {"b", "xy"sv},
                       {"c", entries_of(inner.readable())},
                       {"e", values_of(arr.readable())}});
    EXPECT_EQ(out.view(), wire);
}

TEST(AmqpTables, EmptyTable) {
    auto t = decode_table(bv("\x00\x00\x00\x00"sv));
    ASSERT_TRUE(t.has_value());
    EXPECT_TRUE(t->empty());
    EXPECT_EQ(t->size(), 0u);
}

TEST(AmqpTables, MalformedTablesAreSyntaxErrors) {
    const std::string_view cases[] = {
        "\x00\x00\x00"sv,          // short length
        "\x00\x00\x00\x05\x01"sv,  // length beyond input
        "\x00\x00\x00\x03\x01"
        "aZ"sv,  // unknown type 'Z'
        "\x00\x00\x00\x02\x01"
        "a"sv,  // key without type
        "\x00\x00\x00\x03\x05"
        "ab"sv,  // key longer than table
        "\x00\x00\x00\x04\x01"
        "aI\x00"sv,  // truncated int
        "\x00\x00\x00\x07\x01"
        "aS\x00\x00\x00\x09"sv,  // longstr beyond table
        "\x00\x00\x00\x09\x01"
        "aF\x00\x00\x00\x01\x00\x00"sv,  // nested table malformed
        "\x00\x00\x00\x08\x01"
        "aA\x00\x00\x00\x01"
        "Z"sv,                     // array value of unknown type
        "\x00\x00\x00\x00\x00"sv,  // trailing byte after the table
    };
    for (auto c : cases) {
        auto t = decode_table(bv(c));
        ASSERT_FALSE(t.has_value()) << testing::PrintToString(c);
        EXPECT_EQ(t.error(), error::bad_table);
        EXPECT_EQ(reply_code_for(t.error()), reply::syntax_error);
    }
}

TEST(AmqpTables, DeepNestingIsRejected) {
    // Build nesting depth max_table_depth + 2 from the inside out.
    byte_buffer cur;
    encode_table(cur, {{"z", true}});
    for (int i = 0; i < max_table_depth + 1; ++i) {
        byte_buffer next;
        encode_table(next, {{"n", entries_of(cur.readable())}});
        cur = std::move(next);
    }
    auto t = decode_table(cur.readable());
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(t.error(), error::table_too_deep);
    EXPECT_EQ(reply_code_for(t.error()), reply::syntax_error);
}

TEST(AmqpTables, TableInMethodArguments) {
    // queue.declare with x-arguments through the generated decoder.
    byte_buffer args;
    encode_table(args, {{"x-max-length", std::int32_t{10}}, {"x-queue-type", "quorum"sv}});
    queue_declare q;
    q.queue = "jobs";
    q.durable = true;
    q.arguments = entries_of(args.readable());
    byte_buffer out;
    encode_method(out, q);
    auto m = decode_method(out.readable());
    ASSERT_TRUE(m.has_value());
    const auto& d = std::get<queue_declare>(*m);
    EXPECT_EQ(std::get<std::string_view>(*find(d.arguments, "x-queue-type")), "quorum");
    EXPECT_TRUE(d.durable);
    EXPECT_FALSE(d.passive);
    // A bad table inside a method is a syntax error (502).
    std::string bad(out.view());
    bad[bad.size() - 11] = 'Z';  // type letter of the last entry: 'S', 4-byte length, "quorum"
    auto r = decode_method(bv(bad));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), error::bad_table);
}

TEST(AmqpTables, PackedBits) {
    // queue.declare: passive durable exclusive auto-delete nowait share one octet (4.2.5.2).
    queue_declare q;
    q.passive = true;
    q.exclusive = true;
    q.nowait = true;
    byte_buffer out;
    encode_method(out, q);
    // ids(4) ticket(2) queue(1) bits(1) table(4)
    ASSERT_EQ(out.size(), 12u);
    EXPECT_EQ(out.data()[7], 0x01 | 0x04 | 0x10);
}

}  // namespace
}  // namespace sy::amqp
