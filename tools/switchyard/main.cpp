// build/bin/switchyard: the server. Every setting is a flag and a TOML key
// (`switchyard --help-config`); the first line of output names the real listening address.
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <string>

#include "switchyard/server/amqp.hpp"
#include "switchyard/server/app.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/gateway.hpp"
#include "switchyard/server/grpc_hub.hpp"
#include "switchyard/server/management.hpp"
#include "switchyard/server/system_topics.hpp"
#include "switchyard/server/webrtc.hpp"

namespace {

// The bundled www/: next to the build tree (build/bin/../../www), else the source tree.
std::string default_static_dir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::filesystem::path exe(std::string(buf, static_cast<std::size_t>(n)));
        auto www = exe.parent_path().parent_path().parent_path() / "www";
        if (std::filesystem::is_regular_file(www / "index.html")) return www.string();
    }
    return std::string(SY_SOURCE_DIR) + "/www";
}

}  // namespace

int main(int argc, char** argv) {
    sy::server::app app;
    // The one place where a start-up error (config_error, or any exception before the loops
    // run) becomes "switchyard: ..." on stderr and exit status 2.
    return sy::server::guard_startup("switchyard", [&] {
        int code = 0;
        if (!sy::server::parse_command_line(app.config(), argc, argv, code)) return code;
        auto& cfg = app.config();
        if (cfg.static_dir.empty()) cfg.static_dir = default_static_dir();
        sy::server::install_gateway(app);  // before the static files' catch-all route
        sy::server::install_builtin_routes(app, cfg.static_dir, cfg.debug_stall);
        sy::server::install_management(app);  // after: static_dir is checked there first
        sy::server::install_amqp(app);
        sy::server::install_grpc_hub(app);
        sy::server::install_webrtc(app);
        // sys.stats and the management tables: the /admin dashboard's data.
        sy::server::add_management_topics(*sy::server::install_system_topics(app));
        return app.run();
    });
}
