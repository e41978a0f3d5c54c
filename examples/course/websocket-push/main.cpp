// course-websocket-push: the course's websocket-push chat (../shared/course/websocket-push) on a
// route. ws://localhost:8080 is one chat room: every client gets "User{port} just connected."
// when someone joins and "User{port} says: {message}" for each message, {port} being the
// sender's TCP port, as the course's server sends them.
//   build/bin/course-websocket-push [--listen 127.0.0.1:8080]
// One route (path "/", topic chat.main) and two hooks on its WebSocket; the hub does the
// fan-out, so it works with any number of clients and loops.
#include <fmt/format.h>

#include "switchyard/server/app.hpp"

int main(int argc, char** argv) {
    sy::server::app app;
    sy::server::route_config chat;
    chat.path = "/";
    chat.websocket = "chat.main";
    sy::server::ws_hooks hooks;
    hooks.on_connect = [](sy::server::ws_peer& p) {
        p.publish(fmt::format("User{} just connected.", p.remote_port()));
    };
    hooks.on_message = [](sy::server::ws_peer& p, std::string_view message, bool) {
        p.publish(fmt::format("User{} says: {}", p.remote_port(), message));
    };
    app.routes().add(std::move(chat), std::move(hooks));
    return app.run(argc, argv);
}
