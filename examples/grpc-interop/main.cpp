// grpc-interop-server: gRPC's interop TestService (grpc.testing.TestService, test_service.hpp)
// on switchyard, for the interop clients of grpc-js, grpcio and the others
// (tests/integration/test_grpc_interop.py runs them).
//
//   build/bin/grpc-interop-server --listen 127.0.0.1:10000   (h2c, prior knowledge)
//   build/bin/grpc-interop-server --listen 127.0.0.1:10443 --tls-cert server.pem
//       --tls-key server.key                                 (h2 over TLS, ALPN)
//
// With --tls-cert/--tls-key the --listen addresses serve TLS (as an interop server's --use_tls
// does): announced as "switchyard listening on https://HOST:PORT". --max-response-size and
// --max-pending-responses bound what one request can make the server build and queue.
#include <cstdint>

#include "switchyard/server/app.hpp"
#include "switchyard/server/config.hpp"
#include "test_service.hpp"

namespace {

sy::server::cli_program interop_program(std::uint64_t& max_response, std::uint64_t& max_pending) {
    sy::server::cli_program p;
    p.name = "grpc-interop-server";
    p.description =
        "grpc-interop-server: grpc.testing.TestService (gRPC interop cases) over h2c, or over TLS "
        "with --tls-cert/--tls-key";
    p.keys = {{"listen",
               "HOST:PORT to serve the TestService on (repeatable; port 0 picks one; TLS when "
               "--tls-cert is given)"},
              {"tls.cert", "certificate chain (PEM): --listen serves TLS"},
              {"tls.key", "private key (PEM) of --tls-cert"},
              {"model"},
              {"workers"},
              {"log_level"}};
    p.extra.push_back({"--max-response-size",
                       "largest response payload a request may ask for (bytes); beyond: "
                       "RESOURCE_EXHAUSTED",
                       &max_response, 0, 64u << 20});
    p.extra.push_back({"--max-pending-responses",
                       "responses a streaming call may have queued unsent; beyond: "
                       "RESOURCE_EXHAUSTED",
                       &max_pending, 1, 1u << 20});
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    sy::server::app app;
    return sy::server::guard_startup("grpc-interop-server", [&] {
        interop::test_service_options opts;
        std::uint64_t max_response = opts.max_response_size;
        std::uint64_t max_pending = opts.max_pending_responses;
        sy::server::server_config& cfg = app.config();
        int code = 0;
        if (!sy::server::parse_command_line(cfg, argc, argv, code,
                                            interop_program(max_response, max_pending)))
            return code;
        // One port, plaintext or TLS, like the interop servers' --port/--use_tls.
        if (!cfg.tls.cert.empty() && cfg.tls.listen.empty()) {
            cfg.tls.listen = std::move(cfg.listen);
            cfg.listen.clear();
        }
        opts.max_response_size = static_cast<std::size_t>(max_response);
        opts.max_pending_responses = static_cast<std::size_t>(max_pending);
        interop::make_test_service(opts).install(app);
        return app.run();
    });
}
