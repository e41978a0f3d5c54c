// gRPC call counters: method registration (ids stable, 0 unknown) and per-loop counting.
#include "switchyard/rpc/call_stats.hpp"

#include <gtest/gtest.h>

#include "switchyard/core/loop.hpp"

namespace sy::rpc {
using grpc::status_code;
namespace {

TEST(CallStats, MethodsAreRegisteredOnceAndUnknownIsZero) {
    const unsigned a = register_method("t.Svc", "A");
    const unsigned b = register_method("t.Svc", "B");
    EXPECT_NE(a, 0u);
    EXPECT_NE(a, b);
    EXPECT_EQ(register_method("t.Svc", "A"), a);
    const auto names = method_names();
    ASSERT_GT(names.size(), b);
    EXPECT_EQ(names[0].service, "unknown");
    EXPECT_EQ(names[0].method, "unknown");
    EXPECT_EQ(names[a].method, "A");
}

TEST(CallStats, CountsPerMethodAndCodeAndFoldsLateIdsIntoUnknown) {
    call_counters c(3);
    c.count(1, status_code::ok);
    c.count(1, status_code::ok);
    c.count(2, status_code::not_found);
    c.count(7, status_code::internal);  // registered after the table was made
    EXPECT_EQ(c.get(1, status_code::ok), 2u);
    EXPECT_EQ(c.get(2, status_code::not_found), 1u);
    EXPECT_EQ(c.get(0, status_code::internal), 1u);
    EXPECT_EQ(c.get(1, status_code::cancelled), 0u);
    EXPECT_EQ(c.get(9, status_code::ok), 0u);
}

TEST(CallStats, CountCallUsesTheCallingLoopsSlot) {
    const unsigned m = register_method("t.Svc", "Loop");
    count_call(m, status_code::ok);  // no loop here: not counted, no crash
    core::loop l;
    EXPECT_EQ(counters_of(l), nullptr);
    l.post([&] {
        count_call(m, status_code::unavailable);
        l.stop();
    });
    l.run();
    ASSERT_NE(counters_of(l), nullptr);
    EXPECT_EQ(counters_of(l)->get(m, status_code::unavailable), 1u);
}

}  // namespace
}  // namespace sy::rpc
