#include "switchyard/rpc/service.hpp"

#include "switchyard/proto/grpc/metadata.hpp"
#include "switchyard/rpc/call_stats.hpp"

#include <stdexcept>

namespace sy::rpc {

namespace {

bool is_grpc_request(const http::request& req) {
    return grpc::is_grpc_content_type(req.header("content-type").value_or(""));
}

void unimplemented(http::request& req, http::response& res) {
    if (!is_grpc_request(req)) {
        res.send(404, "Not Found\n");
        return;
    }
    count_call(0, grpc::status_code::unimplemented);  // "unknown": label values stay bounded
    reply_trailers_only(
        res, {grpc::status_code::unimplemented, "unknown method " + std::string(req.path())});
}

}  // namespace

service::service(std::string name, call_options opts) : name_(std::move(name)), opts_(opts) {}

std::vector<std::string> service::method_names() const {
    std::vector<std::string> out;
    for (const auto& m : methods_) out.push_back(m->name);
    return out;
}

service& service::add(std::string_view method, method_kind kind, start_fn start) {
    for (const auto& m : methods_)
        if (m->name == method)
            throw std::invalid_argument("grpc: duplicate method " + name_ + "/" +
                                        std::string(method));
    methods_.push_back(std::make_shared<const method_entry>(
        method_entry{std::string(method), kind, std::move(start)}));
    return *this;
}

void service::install(http::router& r) const {
    for (const auto& m : methods_) {
        call_options opts = opts_;
        opts.method_id = register_method(name_, m->name);
        r.post("/" + name_ + "/" + m->name, [m, opts](http::request& req, http::response& res) {
            auto c = call::accept(req, res, opts, m->kind);
            if (c) m->start(std::move(c));
        });
    }
    r.post("/" + name_ + "/*method", unimplemented);
    install_unimplemented_fallback(r);
}

void install_unimplemented_fallback(http::router& r) {
    // The router answers 405 when only GET routes match a path (static files on "/*path"), so
    // the fallback is a POST wildcard; a second install finds it taken and keeps the first.
    try {
        r.post("/*path", unimplemented);
    } catch (const std::invalid_argument&) {
    }
}

}  // namespace sy::rpc
