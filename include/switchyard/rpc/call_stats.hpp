// Per-method gRPC call counters by status (metrics: sy_grpc_calls_total{service,method,code}).
//
// Methods: service::install registers each (service, method) once, at start-up, and gets its id;
// id 0 is "unknown" (a call to a method or service nobody installed, answered UNIMPLEMENTED), so
// the label values are bounded by the installed methods. Counting: every call is counted once,
// with the status it ended with (finish), CANCELLED when the client went away first, or the
// status a refused request got (bad grpc-timeout, unknown grpc-encoding...).
//
// Thread: counts are per loop, in a slot of the loop (created there on its first gRPC call),
// written by that loop only (core::counter: relaxed, no locked instruction) and readable from
// any thread; method_names() takes a lock (registration against a scrape), never a call path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/counter.hpp"
#include "switchyard/proto/grpc/status.hpp"

namespace sy::core {
class loop;
}

namespace sy::rpc {

inline constexpr std::size_t status_codes = 17;  // OK .. UNAUTHENTICATED

/// Registers service/method (again: the same id). Start-up only, before the loops serve.
unsigned register_method(std::string_view service, std::string_view method);

struct method_name {
    std::string service;
    std::string method;
};
/// Every registered method, by id; [0] is {"unknown", "unknown"}.
std::vector<method_name> method_names();

/// One loop's counts: [method id][status code].
class call_counters {
  public:
    explicit call_counters(std::size_t methods);
    /// Owner loop only. An id registered after this table was made counts as unknown.
    void count(unsigned method, grpc::status_code c);
    /// Any thread.
    std::uint64_t get(unsigned method, grpc::status_code c) const;
    std::size_t methods() const { return methods_; }

  private:
    std::size_t methods_;
    std::unique_ptr<core::counter[]> counts_;
};

/// Counts one call on the calling loop (no loop, as in unit tests without one: not counted).
void count_call(unsigned method, grpc::status_code c);
/// Loop l's counters, or nullptr before its first gRPC call. Any thread.
const call_counters* counters_of(const core::loop& l);

}  // namespace sy::rpc
