// The version-independent HTTP layer: what a handler sees, whatever serves it (HTTP/1.1, HTTP/2,
// later HTTP/3). Depends on sy_base only; the sessions (src/session) implement response_sink
// and fill requests.
//
// Writing handlers (the server/app layer exposes exactly http::handler =
// std::function<void(http::request&, http::response&)>):
//
//     using namespace sy;
//     app.get("/users/:id", [](http::request& req, http::response& res) {
//         res.send_json(200, "{\"id\":" + json::quote(req.param("id")) + "}");
//     });
//     app.get("/search", [](http::request& req, http::response& res) {
//         auto q = req.query("q").value_or("");            // form-decoded
//         res.set_header("Cache-Control", "no-store");
//         res.send(200, "you searched for " + q + "\n");    // text/plain; charset=utf-8
//     });
//     app.get("/events", [](http::request&, http::response& res) {   // streaming
//         res.begin(200, {{"Content-Type", "text/event-stream"}});
//         res.write("data: hello\n\n");                     // h1: chunked, h2: DATA frames
//         res.on_abort([] { /* client left: stop producing */ });
//         keep_for_later(res);                               // copies share one response;
//     });                                                    // end() later on the same loop
//     app.get("/assets/*path", http::static_files("/srv/www"));
//
// Rules: answer exactly once (send / send_file / redirect, or begin + write... + end); a
// response dropped unanswered becomes a 500. write() reports above_high_watermark: stop and
// resume in on_drain(). After the client left, every call is a no-op and closed() is true.
// Everything runs on the connection's loop thread; work done on the thread pool posts back to
// that loop before touching the response.
#pragma once

#include "switchyard/http/headers.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/http/router.hpp"
#include "switchyard/http/static_files.hpp"
#include "switchyard/http/util.hpp"
