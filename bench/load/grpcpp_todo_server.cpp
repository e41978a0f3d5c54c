// The peer for bench/load/grpc_vs_grpcpp.py: proto/todo.proto served by Debian's grpc++ with the
// callback API (the fastest of its server APIs; completion threads sized by gRPC itself).
//   build/bin/grpcpp-todo 127.0.0.1:40001
// Prints "listening on HOST:PORT" once serving.
#include <grpcpp/grpcpp.h>
#include <todo.grpc.pb.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace {

class todo_service final : public todoPackage::Todo::CallbackService {
    grpc::ServerUnaryReactor* createTodo(grpc::CallbackServerContext* ctx,
                                         const todoPackage::TodoItem* in,
                                         todoPackage::TodoItem* out) override {
        {
            std::lock_guard lock(mu_);
            auto* t = items_.add_items();
            *t = *in;
            t->set_id(items_.items_size());
            *out = *t;
        }
        auto* r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
    grpc::ServerUnaryReactor* readTodos(grpc::CallbackServerContext* ctx,
                                        const todoPackage::voidNoParam*,
                                        todoPackage::TodoItems* out) override {
        {
            std::lock_guard lock(mu_);
            *out = items_;
        }
        auto* r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
    std::mutex mu_;
    todoPackage::TodoItems items_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string addr = argc > 1 ? argv[1] : "127.0.0.1:40001";
    todo_service svc;
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&svc);
    auto server = b.BuildAndStart();
    if (!server) return 1;
    std::printf("listening on %s (port %d)\n", addr.c_str(), port);
    std::fflush(stdout);
    server->Wait();
    return 0;
}
