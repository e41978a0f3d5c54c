#include "switchyard/server/app.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

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

namespace {

// SIGHUP: the config file is read again; a file with any problem changes nothing. Of the
// settings outside [[routes]] (reloaded by server::routes) and the TLS files (reloaded by the
// runtime), only log_level takes effect at once: listeners, models and limits need a restart.
void reload_log_level(const std::string& file) {
    if (file.empty()) return;
    try {
        std::ifstream f(file, std::ios::binary);
        if (!f) throw config_error(file + ": cannot open config file");
        std::ostringstream ss;
        ss << f.rdbuf();
        server_config fresh;
        apply_toml(fresh, ss.str(), file);
        log::level lvl;
        if (log::parse_level(fresh.log_level, lvl)) log::set_level(lvl);
    } catch (const config_error& e) {
        log::error("SIGHUP: config not reloaded, keeping the current settings: {}", e.what());
    }
}

}  // namespace

void app::make_runtime() {
    log::level lvl;
    if (log::parse_level(cfg_.log_level, lvl)) log::set_level(lvl);
    rt_ = std::make_unique<server::runtime>(cfg_, router_);
    if (routes_) routes_->attach(*rt_);
    rt_->on_reload([file = cfg_.config_file] { reload_log_level(file); });
    for (auto& fn : runtime_hooks_) fn(*rt_);
}

void app::check() {
    make_runtime();
    rt_.reset();
}

int app::run_runtime() {
    make_runtime();
    return rt_->run();
}

}  // namespace sy::server
