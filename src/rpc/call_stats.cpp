// gRPC call counters (rpc/call_stats.hpp).
#include "switchyard/rpc/call_stats.hpp"

#include <mutex>

#include "switchyard/core/loop.hpp"

namespace sy::rpc {

namespace {

struct method_table {
    std::mutex mu;  // registration (start-up) against method_names() (a scrape)
    std::vector<method_name> names{{"unknown", "unknown"}};
};

method_table& table() {
    static method_table t;
    return t;
}

}  // namespace

unsigned register_method(std::string_view service, std::string_view method) {
    method_table& t = table();
    std::lock_guard lk(t.mu);
    for (std::size_t i = 1; i < t.names.size(); ++i) {
        if (t.names[i].service == service && t.names[i].method == method)
            return static_cast<unsigned>(i);
    }
    t.names.push_back({std::string(service), std::string(method)});
    return static_cast<unsigned>(t.names.size() - 1);
}

std::vector<method_name> method_names() {
    method_table& t = table();
    std::lock_guard lk(t.mu);
    return t.names;
}

call_counters::call_counters(std::size_t methods)
    : methods_(methods), counts_(std::make_unique<core::counter[]>(methods * status_codes)) {}

void call_counters::count(unsigned method, grpc::status_code c) {
    const std::size_t m = method < methods_ ? method : 0;
    const auto code = static_cast<std::size_t>(c);
    if (code < status_codes) counts_[m * status_codes + code].add();
}

std::uint64_t call_counters::get(unsigned method, grpc::status_code c) const {
    const auto code = static_cast<std::size_t>(c);
    if (method >= methods_ || code >= status_codes) return 0;
    return counts_[method * status_codes + code].get();
}

void count_call(unsigned method, grpc::status_code c) {
    core::loop* l = core::loop::current();
    if (!l) return;
    call_counters* cc = l->slot<call_counters>();
    if (!cc) {
        // First call on this loop, after start-up registered every method: sized once.
        const std::size_t n = method_names().size();
        cc = &l->emplace_slot<call_counters>(n);
    }
    cc->count(method, c);
}

const call_counters* counters_of(const core::loop& l) {
    return l.slot<call_counters>();
}

}  // namespace sy::rpc
