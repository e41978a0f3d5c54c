// build/bin/switchyard: the server. Every setting is a flag and a TOML key
// (`switchyard --help-config`); the first line of output names the real listening address.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/server/amqp.hpp"
#include "switchyard/server/app.hpp"
#include "switchyard/server/builtin.hpp"
#include "switchyard/server/gateway.hpp"
#include "switchyard/server/grpc_hub.hpp"
#include "switchyard/server/management.hpp"
#include "switchyard/server/system_topics.hpp"
#include "switchyard/server/webrtc.hpp"

namespace {

// A bundled directory: next to the build tree (build/bin/../../<in_source>), then an installed
// tree (PREFIX/bin/../share/switchyard/<installed>), else the source tree. `probe` is a file the
// directory must hold.
std::string bundled_dir(const std::string& in_source, const std::string& installed,
                        const char* probe) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::filesystem::path exe(std::string(buf, static_cast<std::size_t>(n)));
        auto built = exe.parent_path().parent_path().parent_path() / in_source;
        if (std::filesystem::is_regular_file(built / probe)) return built.string();
        auto inst = exe.parent_path().parent_path() / "share" / "switchyard" / installed;
        if (std::filesystem::is_regular_file(inst / probe)) return inst.string();
    }
    return std::string(SY_SOURCE_DIR) + "/" + in_source;
}

// Parses the command line and installs every part of the server into `app`.
// Returns false when the process should exit with `code` (--help, --version).
bool configure(sy::server::app& app, int argc, char** argv, int& code) {
    sy::server::cli_program prog;
    prog.check_config = true;
    if (!sy::server::parse_command_line(app.config(), argc, argv, code, prog)) return false;
    auto& cfg = app.config();
    if (cfg.static_dir.empty()) cfg.static_dir = bundled_dir("www", "www", "index.html");
    // The one copy of @switchyard/client (clients/js), which the demo pages load.
    if (cfg.client_dir.empty())
        cfg.client_dir = bundled_dir("clients/js/src", "client", "index.js");
    sy::server::install_gateway(app);  // before the static files' catch-all route
    sy::server::install_builtin_routes(app, cfg.static_dir, cfg.debug_stall);
    sy::server::install_management(app);  // after: static_dir is checked there first
    sy::server::install_amqp(app);
    sy::server::install_grpc_hub(app);
    sy::server::install_webrtc(app);
    // sys.* and the management tables: the /admin dashboard's data.
    sy::server::add_management_topics(*sy::server::install_system_topics(app));
    return true;
}

// `--check-config FILE` (as `nginx -t`): FILE is read as --config is, with every other flag
// applied over it, and everything start-up checks is checked (keys, values, routes, TLS files,
// static_dir, amqp.store_dir) without binding a socket. Prints the verdict on stderr; exit 0
// when the configuration is valid, 1 when it is not.
int check_config(int argc, char** argv, std::string_view file) {
    std::vector<char*> args(argv, argv + argc);
    for (auto& a : args) {
        if (std::string_view(a) == "--check-config") a = const_cast<char*>("--config");
    }
    std::string eq;  // --check-config=FILE
    for (auto& a : args) {
        if (std::string_view(a).starts_with("--check-config=")) {
            eq = "--config=" + std::string(std::string_view(a).substr(15));
            a = eq.data();
        }
    }
    const int failed = sy::server::guard_startup("switchyard", [&] {
        sy::server::app app;
        int code = 0;
        if (!configure(app, static_cast<int>(args.size()), args.data(), code)) return code;
        app.check();
        return 0;
    });
    const std::string name(file);
    if (failed != 0) {
        std::fprintf(stderr, "switchyard: configuration file %s test failed\n", name.c_str());
        return 1;
    }
    std::fprintf(stderr, "switchyard: configuration file %s test is successful\n", name.c_str());
    return 0;
}

// The FILE of --check-config FILE / --check-config=FILE; empty when not asked.
std::string_view check_config_file(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a(argv[i]);
        if (a == "--check-config") return i + 1 < argc ? std::string_view(argv[i + 1]) : "";
        if (a.starts_with("--check-config=")) return a.substr(15);
    }
    return {};
}

bool check_config_requested(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a(argv[i]);
        if (a == "--check-config" || a.starts_with("--check-config=")) return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (check_config_requested(argc, argv))
        return check_config(argc, argv, check_config_file(argc, argv));
    sy::server::app app;
    // The one place where a start-up error (config_error, or any exception before the loops
    // run) becomes "switchyard: ..." on stderr and exit status 2.
    return sy::server::guard_startup("switchyard", [&] {
        int code = 0;
        if (!configure(app, argc, argv, code)) return code;
        return app.run();
    });
}
