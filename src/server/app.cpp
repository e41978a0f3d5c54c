#include "switchyard/server/app.hpp"

#include <filesystem>

#include "switchyard/base/log.hpp"

namespace sy::server {

app::app() = default;
app::~app() = default;

app& app::get(std::string_view p, http::handler h) {
    router_.get(p, std::move(h));
    return *this;
}
app& app::post(std::string_view p, http::handler h) {
    router_.post(p, std::move(h));
    return *this;
}
app& app::put(std::string_view p, http::handler h) {
    router_.put(p, std::move(h));
    return *this;
}
app& app::del(std::string_view p, http::handler h) {
    router_.del(p, std::move(h));
    return *this;
}
app& app::any(std::string_view p, http::handler h) {
    router_.any(p, std::move(h));
    return *this;
}

server::routes& app::routes() {
    if (!routes_) routes_ = std::make_unique<server::routes>(*this);
    return *routes_;
}

int app::run(int argc, char** argv) {
    const std::string name = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "";
    return server::guard_startup(name.empty() ? "switchyard" : name, [&] {
        int code = 0;
        if (!server::parse_command_line(cfg_, argc, argv, code)) return code;
        return run_runtime();
    });
}

int app::run() {
    return server::guard_startup("switchyard", [this] { return run_runtime(); });
}

int app::run_runtime() {
    log::level lvl;
    if (log::parse_level(cfg_.log_level, lvl)) log::set_level(lvl);
    rt_ = std::make_unique<server::runtime>(cfg_, router_);
    if (routes_) routes_->attach(*rt_);
    for (auto& fn : runtime_hooks_) fn(*rt_);
    return rt_->run();
}

}  // namespace sy::server
