// rpc::service: typed gRPC methods on the http router.
//
//     sy::rpc::service s("todoPackage.Todo");
//     s.unary<TodoItem, TodoItem>("createTodo",
//         [](const TodoItem& in, sy::rpc::context& ctx) -> sy::rpc::result<TodoItem> {
//             if (in.text().empty()) return sy::rpc::fail(sy::grpc::status_code::invalid_argument,
//             "text"); return in;
//         });
//     s.server_stream<voidNoParam, TodoItem>("readTodosStream",
//         [](const voidNoParam&, sy::rpc::writer<TodoItem>& w) {
//             for (auto& t : todos) w.write(t);
//         });                          // the last writer handle dropped: finished with OK
//     s.install(app.router());         // POST /todoPackage.Todo/createTodo, ...
//
// Method kinds and their handlers (Req/Resp are protobuf message classes, or any type with
// ParseFromArray / ByteSizeLong / SerializeWithCachedSizesToArray; see message_codec):
//   unary          result<Resp> fn(const Req&, context&)            answer now
//   unary_async    void fn(const Req&, unary_reply<Resp>)            answer later (hub, pool)
//   server_stream  void fn(const Req&, writer<Resp>&)                 copy the writer to go on
//   client_stream  void fn(stream<Req, Resp>&)                        on_message / on_end
//   bidi           void fn(stream<Req, Resp>&)                        on_message / write / finish
// Unary and server-streaming handlers run once the client half-closed with exactly one message
// (none or several: INTERNAL); streaming handlers run at once, before the first message. A
// request message that does not parse as Req (a declared field with another wire type included)
// ends the call with INTERNAL before any handler sees it; unknown fields are dropped.
//
// Handles (writer, stream, unary_reply) are cheap shared references to the call. When the last
// copy of a writer/stream goes away unfinished, the call finishes with OK; the last unary_reply
// dropped unanswered finishes it with INTERNAL. After cancellation (client reset, deadline)
// write() returns false and on_cancel runs once.
//
// Unknown methods of an installed service and unknown services (any POST with a gRPC
// content-type that matches no route) get UNIMPLEMENTED, Trailers-Only, HTTP 200.
//
// Thread: handlers run on the loop thread that received the call; the router (and services
// installed on it) are read-only once the server runs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "switchyard/http/router.hpp"
#include "switchyard/rpc/call.hpp"
#include "switchyard/rpc/declared_fields.hpp"

namespace sy::rpc {

/// How messages become bytes. The default fits protobuf-generated classes. Requests of full
/// (reflection) protobuf types keep only the fields their type declares, and a declared field
/// sent with a wire type it cannot have is a parse failure (declared_fields.hpp): handlers never
/// store or echo bytes other clients cannot parse.
template <typename T>
struct message_codec {
    static bool parse(T& m, byte_view b) {
        if (!m.ParseFromArray(b.data(), static_cast<int>(b.size()))) return false;
        if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
            static const bool flat = !has_message_fields(*T::descriptor());
            if (flat && m.GetReflection()->GetUnknownFields(m).empty()) return true;
            return only_declared_fields(m);
        } else {
            return true;
        }
    }
    /// Serializes into framed[5..] (the first 5 bytes are left for the prefix).
    static void serialize_prefixed(const T& m, std::string& framed) {
        std::size_t n = m.ByteSizeLong();
        framed.resize(5 + n);
        m.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(framed.data() + 5));
    }
};

template <typename T>
bool send_typed(call& c, const T& m, write_options o = {}) {
    std::string framed;
    message_codec<T>::serialize_prefixed(m, framed);
    return c.send_prefixed(framed, o);
}

/// Server-side handle for sending a stream of Resp messages.
template <typename Resp>
class writer {
  public:
    explicit writer(std::shared_ptr<call> c) : t_(std::make_shared<token>(std::move(c))) {}

    /// false once the call is over (finished, cancelled, client gone).
    bool write(const Resp& m, write_options o = {}) { return send_typed(*t_->c, m, o); }
    /// Ends the call with s (default OK). Later writes return false.
    void finish(const status& s = {}) { t_->c->finish(s); }
    bool cancelled() const { return t_->c->cancelled(); }
    bool finished() const { return t_->c->finished(); }
    bool above_high_watermark() const { return t_->c->above_high_watermark(); }
    void on_drain(std::function<void()> fn) { t_->c->on_drain(std::move(fn)); }
    void on_cancel(std::function<void()> fn) { t_->c->on_cancel(std::move(fn)); }
    context& ctx() const { return *t_->c; }

  private:
    struct token {
        explicit token(std::shared_ptr<call> c) : c(std::move(c)) {}
        token(const token&) = delete;
        token& operator=(const token&) = delete;
        ~token() { c->finish({}); }
        std::shared_ptr<call> c;
    };
    std::shared_ptr<token> t_;
};

/// Client-streaming and bidi: a writer plus the incoming messages.
template <typename Req, typename Resp>
class stream : public writer<Resp> {
  public:
    struct inbound {
        std::function<void(const Req&)> on_message;
        std::function<void()> on_end;
        bool closed = false;  // the call ended: callbacks dropped (breaks handle cycles)
    };
    stream(std::shared_ptr<call> c, std::shared_ptr<inbound> in)
        : writer<Resp>(std::move(c)), in_(std::move(in)) {}
    /// Each request message, in order. Set it in the handler (before it returns).
    void on_message(std::function<void(const Req&)> fn) { in_->on_message = std::move(fn); }
    /// The client half-closed. Both callbacks are dropped afterwards.
    void on_end(std::function<void()> fn) { in_->on_end = std::move(fn); }

  private:
    std::shared_ptr<inbound> in_;
};

/// The answer slot of an asynchronous unary call.
template <typename Resp>
class unary_reply {
  public:
    explicit unary_reply(std::shared_ptr<call> c) : t_(std::make_shared<token>(std::move(c))) {}
    void operator()(const result<Resp>& r) const {
        if (r) {
            if (send_typed(*t_->c, *r)) t_->c->finish({});
        } else {
            t_->c->finish(r.error());
        }
    }
    void fail(const status& s) const { t_->c->finish(s); }
    bool cancelled() const { return t_->c->cancelled(); }
    void on_cancel(std::function<void()> fn) const { t_->c->on_cancel(std::move(fn)); }
    context& ctx() const { return *t_->c; }

  private:
    struct token {
        explicit token(std::shared_ptr<call> c) : c(std::move(c)) {}
        token(const token&) = delete;
        token& operator=(const token&) = delete;
        ~token() { c->finish({grpc::status_code::internal, "handler dropped the call"}); }
        std::shared_ptr<call> c;
    };
    std::shared_ptr<token> t_;
};

class service {
  public:
    using start_fn = std::function<void(std::shared_ptr<call>)>;

    explicit service(std::string name, call_options opts = {});

    const std::string& name() const { return name_; }
    std::vector<std::string> method_names() const;

    template <typename Req, typename Resp, typename Fn>
    service& unary(std::string_view method, Fn fn) {
        return unary_async<Req, Resp>(
            method, [fn = std::move(fn)](const Req& in, unary_reply<Resp> reply) mutable {
                reply(fn(in, reply.ctx()));
            });
    }

    template <typename Req, typename Resp, typename Fn>
    service& unary_async(std::string_view method, Fn fn) {
        auto f = std::make_shared<Fn>(std::move(fn));
        return add(method, method_kind::unary, [f](std::shared_ptr<call> c) {
            read_one<Req>(std::move(c), [f](const Req& in, std::shared_ptr<call> c) {
                (*f)(in, unary_reply<Resp>(std::move(c)));
            });
        });
    }

    template <typename Req, typename Resp, typename Fn>
    service& server_stream(std::string_view method, Fn fn) {
        auto f = std::make_shared<Fn>(std::move(fn));
        return add(method, method_kind::server_streaming, [f](std::shared_ptr<call> c) {
            read_one<Req>(std::move(c), [f](const Req& in, std::shared_ptr<call> c) {
                writer<Resp> w(std::move(c));
                (*f)(in, w);
            });
        });
    }

    template <typename Req, typename Resp, typename Fn>
    service& client_stream(std::string_view method, Fn fn) {
        return streaming<Req, Resp>(method, method_kind::client_streaming, std::move(fn));
    }
    template <typename Req, typename Resp, typename Fn>
    service& bidi(std::string_view method, Fn fn) {
        return streaming<Req, Resp>(method, method_kind::bidi_streaming, std::move(fn));
    }

    /// Adds POST /<name>/<method> for every method, plus UNIMPLEMENTED for other methods of
    /// this service and (once per router) for unknown services.
    void install(http::router& r) const;
    template <typename App>
    requires requires(App& a) { a.router(); }
    void install(App& a) const { install(a.router()); }

  private:
    struct method_entry {
        std::string name;
        method_kind kind;
        start_fn start;
    };
    service& add(std::string_view method, method_kind kind, start_fn start);

    // Unary and server-streaming requests: exactly one message, then half-close.
    template <typename Req, typename Then>
    static void read_one(std::shared_ptr<call> c, Then then) {
        auto msg = std::make_shared<Req>();
        auto count = std::make_shared<int>(0);
        call* raw = c.get();
        raw->set_receiver(
            [raw, msg, count](byte_view b) {
                if (++*count > 1) {
                    raw->finish({grpc::status_code::internal, "more than one request message"});
                } else if (!message_codec<Req>::parse(*msg, b)) {
                    raw->finish({grpc::status_code::internal, "cannot parse the request message"});
                }
            },
            [raw, msg, count, then = std::move(then)]() mutable {
                if (*count == 0) {
                    raw->finish({grpc::status_code::internal, "missing request message"});
                    return;
                }
                then(*msg, raw->shared_from_this());
            });
        raw->start_reading();
    }

    template <typename Req, typename Resp, typename Fn>
    service& streaming(std::string_view method, method_kind kind, Fn fn) {
        auto f = std::make_shared<Fn>(std::move(fn));
        return add(method, kind, [f](std::shared_ptr<call> c) {
            using in_t = typename stream<Req, Resp>::inbound;
            auto in = std::make_shared<in_t>();
            call* raw = c.get();
            {
                stream<Req, Resp> s(c, in);
                (*f)(s);
                // If the handler kept no copy, dropping s finishes the call.
            }
            if (raw->finished() || raw->cancelled()) {
                auto drop_message = std::move(in->on_message);
                auto drop_end = std::move(in->on_end);
                return;
            }
            raw->on_release([in] {
                in->closed = true;
                auto drop_message = std::move(in->on_message);  // destroyed after the moves
                auto drop_end = std::move(in->on_end);
            });
            raw->set_receiver(
                [raw, in](byte_view b) {
                    Req m;
                    if (!message_codec<Req>::parse(m, b)) {
                        raw->finish(
                            {grpc::status_code::internal, "cannot parse a request message"});
                        return;
                    }
                    // Moved out while it runs: the handler may end the call from inside.
                    auto fn = std::move(in->on_message);
                    if (!fn) return;
                    fn(m);
                    if (!in->closed && !in->on_message) in->on_message = std::move(fn);
                },
                [in] {
                    auto end = std::move(in->on_end);
                    auto drop = std::move(in->on_message);  // may hold the last handle
                    if (end) end();
                });
            raw->start_reading();
        });
    }

    std::string name_;
    call_options opts_;
    std::vector<std::shared_ptr<const method_entry>> methods_;
};

/// Makes every POST with a gRPC content-type that matches no route answer UNIMPLEMENTED
/// (Trailers-Only, HTTP 200); other unmatched POSTs get 404. service::install() calls it;
/// calling it again on the same router is harmless.
void install_unimplemented_fallback(http::router& r);

}  // namespace sy::rpc
