// The connection handlers sy-bench runs: three subscriber kinds and one HTTP requester
// (publisher in push modes, plain load generator in http mode).
//
// All handlers live on one loop (net::connection contract) and report to that loop's worker.
// Subscribers recognise sy-bench payloads anywhere in what they receive (payload.hpp) and count
// per publisher the highest sequence seen: a marker at or below it is a duplicate, so losses are
// expected - unique at the end of the run.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/net/connection.hpp"
#include "switchyard/proto/http1/response_parser.hpp"
#include "switchyard/proto/sse/parser.hpp"
#include "switchyard/proto/ws/decoder.hpp"
#include "switchyard/proto/ws/handshake.hpp"
#include "worker.hpp"

namespace sy::bench {

class subscriber : public net::connection_handler {
  public:
    subscriber(worker& w, std::uint32_t topic);

  protected:
    /// Counts every marker in data (received at now_ns).
    void deliver(std::string_view data, std::int64_t now_ns);
    void set_ready();
    /// Before ready: a setup failure (fatal for the run). After: the subscription was lost.
    void fail(net::connection& c, const std::string& why);
    void on_close(net::connection&, net::close_reason r) override;

    worker& w_;
    std::uint32_t topic_;
    bool ready_ = false;
    bool reported_ = false;

  private:
    std::vector<std::uint64_t> last_seq_;  // per publisher
};

/// WebSocket: GET sub_url with Upgrade (RFC 6455 4.1), then unmasked server frames.
class ws_subscriber final : public subscriber {
  public:
    using subscriber::subscriber;
    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;

  private:
    void on_frames(net::connection& c, byte_buffer& in, std::int64_t now);
    std::unique_ptr<ws::client_handshake> hs_;
    std::optional<ws::decoder> dec_;
};

/// SSE: GET sub_url with Accept: text/event-stream; body through the event-stream parser.
class sse_subscriber final : public subscriber {
  public:
    using subscriber::subscriber;
    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;

  private:
    http1::response_parser http_;
    sse::parser sse_;
};

/// Long poll: GET sub_url (+ since / If-None-Match / If-Modified-Since from the last answer),
/// one message per answer, then the next request on the same connection.
class longpoll_subscriber final : public subscriber {
  public:
    using subscriber::subscriber;
    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;

  private:
    void send_poll(net::connection& c);
    void on_answer(net::connection& c, std::int64_t now);
    http1::response_parser http_;
    int status_ = 0;
    std::string etag_, last_modified_, body_;
};

/// HTTP/1.1 keep-alive client with up to --window pipelined requests. Push modes: POST a payload
/// to pub_url(topic), topics round robin. http mode: --method --url, latency per response.
class requester final : public net::connection_handler {
  public:
    requester(worker& w, std::uint32_t id, bool push);
    void on_open(net::connection& c) override;
    void on_data(net::connection& c, byte_buffer& in) override;
    void on_close(net::connection&, net::close_reason r) override;

    /// Queues one request if the window allows; false if it is full or the connection is gone.
    bool try_send(std::int64_t now_ns);
    std::size_t outstanding() const { return pending_.size(); }
    std::uint32_t id() const { return id_; }

  private:
    struct pending {
        std::uint32_t topic;
        std::int64_t send_ns;
    };
    void on_response(std::int64_t now);

    worker& w_;
    std::uint32_t id_;
    bool push_;
    net::connection* conn_ = nullptr;
    http1::response_parser http_;
    int status_ = 0;
    std::deque<pending> pending_;
    std::vector<std::uint64_t> seq_;  // per topic
    std::uint32_t next_topic_ = 0;
    std::string body_;
    byte_buffer out_;
};

}  // namespace sy::bench
