// grpc-todo: the course demo's Todo service (proto/todo.proto, package todoPackage), served by
// switchyard over HTTP/2 (h2c with prior knowledge, or h2 over TLS) on the same port as HTTP/1.1.
//   build/bin/grpc-todo --listen 127.0.0.1:40000
// A stock @grpc/grpc-js or grpcio client works unchanged: createTodo, readTodos, readTodosStream.
//
// State: one todo list per process, shared by every loop thread behind a mutex (the demo has no
// hot path worth sharding; a real service would keep per-loop state or post to one loop).
#include <todo.pb.h>

#include <mutex>

#include "switchyard/rpc/health.hpp"
#include "switchyard/rpc/service.hpp"
#include "switchyard/server/app.hpp"

namespace {

using todoPackage::TodoItem;
using todoPackage::TodoItems;
using todoPackage::voidNoParam;

class todo_store {
  public:
    /// Keeps the text the client sent and an id of ours, nothing else (as the course's server
    /// does): what is stored here is served to every other client.
    TodoItem add(const TodoItem& in) {
        std::lock_guard lock(mu_);
        TodoItem* t = items_.add_items();
        t->set_id(static_cast<std::int32_t>(items_.items_size()));
        t->set_text(in.text());
        return *t;
    }
    TodoItems all() const {
        std::lock_guard lock(mu_);
        return items_;
    }

  private:
    mutable std::mutex mu_;
    TodoItems items_;
};

}  // namespace

int main(int argc, char** argv) {
    sy::server::app app;
    todo_store store;
    sy::rpc::service todo("todoPackage.Todo");
    todo.unary<TodoItem, TodoItem>(
        "createTodo", [&store](const TodoItem& in, sy::rpc::context&) -> sy::rpc::result<TodoItem> {
            return store.add(in);
        });
    todo.unary<voidNoParam, TodoItems>(
        "readTodos", [&store](const voidNoParam&, sy::rpc::context&) -> sy::rpc::result<TodoItems> {
            return store.all();
        });
    todo.server_stream<voidNoParam, TodoItem>(
        "readTodosStream", [&store](const voidNoParam&, sy::rpc::writer<TodoItem>& w) {
            TodoItems all = store.all();  // named: items() is a view into it
            for (const TodoItem& t : all.items()) w.write(t);
        });  // returning drops the writer: the call ends with OK
    todo.install(app);

    sy::rpc::health health;
    health.set("todoPackage.Todo", sy::rpc::serving_status::serving);
    health.install(app.router());
    return app.run(argc, argv);
}
