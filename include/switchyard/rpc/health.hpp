// grpc.health.v1.Health (grpc/doc/health-checking.md): Check and Watch.
//
//     sy::rpc::health h;                       // "" (the server) is SERVING
//     h.set("todoPackage.Todo", sy::rpc::serving_status::serving);
//     h.install(app.router());
//
// Check answers the status of `service` ("" = the whole server), NOT_FOUND for a service never
// set. Watch sends the status at the time of the call (SERVICE_UNKNOWN for unknown services) and
// holds the stream open until the client cancels; later set() calls are not pushed to open
// Watch streams (statuses are set at start-up here; Check always reads the current value).
// Thread: any; the table is guarded by a mutex (rarely written).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "switchyard/http/router.hpp"

namespace sy::rpc {

enum class serving_status : std::uint8_t { unknown = 0, serving = 1, not_serving = 2 };

class health {
  public:
    health();
    ~health();
    health(const health&) = delete;
    health& operator=(const health&) = delete;

    void set(std::string_view service, serving_status s);
    /// nullopt-like: returns false when the service was never set.
    bool get(std::string_view service, serving_status& out) const;

    /// Adds POST /grpc.health.v1.Health/Check and /Watch. The health object must outlive the
    /// router's use (keep it next to the app).
    void install(http::router& r);

  private:
    mutable std::mutex mu_;
    std::map<std::string, serving_status, std::less<>> table_;
};

}  // namespace sy::rpc
