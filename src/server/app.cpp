#include "switchyard/server/app.hpp"

#include <iostream>

#include "switchyard/base/log.hpp"

namespace sy {

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

int app::run(int argc, char** argv) {
    int code = 0;
    if (!server::parse_command_line(cfg_, argc, argv, code)) return code;
    return run();
}

int app::run() {
    log::level lvl;
    if (log::parse_level(cfg_.log_level, lvl)) log::set_level(lvl);
    try {
        rt_ = std::make_unique<server::runtime>(cfg_, router_);
        for (auto& fn : runtime_hooks_) fn(*rt_);
        return rt_->run();
    } catch (const server::config_error& e) {
        std::cerr << "switchyard: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace sy
