// hello: GET / answers "Hello, World!" (text/plain). The benchmark target.
//   build/bin/hello --listen 127.0.0.1:8080 --model reuseport --workers 2
#include "switchyard/server/app.hpp"

int main(int argc, char** argv) {
    sy::server::app app;
    app.get("/", [](sy::http::request&, sy::http::response& res) {
        res.send(200, "Hello, World!", "text/plain");
    });
    return app.run(argc, argv);
}
