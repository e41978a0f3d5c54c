// app: the library's front door. Register handlers, pick the execution model in code or
// by flags, run.
//
//     app app;
//     app.get("/users/:id", [](sy::http::request& req, sy::http::response& res) {
//         res.send(200, "user " + std::string(req.param("id")) + "\n");
//     });
//     app.config().model = sy::server::execution_model::reuseport;  // or --model on the CLI
//     return app.run(argc, argv);
//
// Handlers run on loop threads, possibly several at once: they must not share mutable state
// without synchronisation (keep per-loop state, or post to one loop). A handler that blocks
// (file reads, DNS, CPU-heavy work) must use blocking(): the function runs on the pool and the
// callback runs back on the handler's loop, where it may finish the response.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/thread_pool.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/http/router.hpp"
#include "switchyard/server/config.hpp"
#include "switchyard/server/routes.hpp"
#include "switchyard/server/runtime.hpp"

namespace sy::server {

class app {
  public:
    app();
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    app& get(std::string_view pattern, http::handler h);
    app& post(std::string_view pattern, http::handler h);
    app& put(std::string_view pattern, http::handler h);
    app& del(std::string_view pattern, http::handler h);
    app& any(std::string_view pattern, http::handler h);
    http::router& router() { return router_; }
    /// The route table (server/routes.hpp, docs/routes.md): topic routes and the gateway's
    /// handler routes, consulted before router(). Made on first use; before run().
    server::routes& routes();

    server::server_config& config() { return cfg_; }
    /// The running runtime (metrics, loops, pool); nullptr before run().
    server::runtime* runtime() { return rt_.get(); }

    /// Runs fn() on the blocking-work pool, then cb(result) on the calling loop. Returns false
    /// (nothing runs) when the pool's queue is full: answer 503.
    template <typename Fn, typename Cb>
    bool blocking(Fn fn, Cb cb) {
        return static_cast<bool>(rt_->pool().submit(std::move(fn), std::move(cb)));
    }

    /// fn(runtime) runs after the runtime is built and before it starts: register extra
    /// listeners (AMQP, TLS) and per-loop hooks there.
    void on_runtime(std::function<void(server::runtime&)> fn) {
        runtime_hooks_.push_back(std::move(fn));
    }

    /// Parses the server flags (--listen, --model, --workers, --config, ...) into config(), then
    /// runs. Returns the process exit code.
    int run(int argc, char** argv);
    /// Runs with config() as it is. Both run()s report start-up errors (config_error and any
    /// other exception before the loops start) as one line each on stderr and return 2.
    int run();
    /// Everything run() does before the loops start (the runtime, its TLS certificates, the
    /// on_runtime hooks: route table, AMQP store directory...), then stops: no socket is bound
    /// and nothing runs. Throws config_error for the first problem (`switchyard --check-config`).
    void check();

  private:
    int run_runtime();
    void make_runtime();

    server::server_config cfg_;
    http::router router_;
    std::unique_ptr<server::routes> routes_;
    std::unique_ptr<server::runtime> rt_;
    std::vector<std::function<void(server::runtime&)>> runtime_hooks_;
};

}  // namespace sy::server
