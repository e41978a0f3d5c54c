// sy-bench command line: one struct, one parser, one usage text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "switchyard/net/address.hpp"

namespace sy::bench {

enum class mode : std::uint8_t { ws, sse, longpoll, http, h3 };
const char* to_string(mode m);

struct options {
    mode cmd = mode::ws;
    net::address server;      // --server HOST:PORT
    net::address pub_server;  // --pub-server HOST:PORT (default: server)
    std::string host_header;  // Host header (HOST:PORT as given)
    std::size_t subscribers = 100;
    std::size_t topics = 1;
    std::string topic_prefix = "bench.";
    std::size_t publishers = 1;  // http, h3 modes: connections
    double rate = 0;             // messages (requests) per second in total; 0 = window-driven
    std::size_t window = 0;      // outstanding requests per publisher (0: 1, or 64 with --rate);
                                 // h3: concurrent streams per connection
    std::uint64_t ahead = 0;     // push: max messages published ahead of delivery (0 = off)
    std::size_t size = 64;       // payload bytes
    double duration_s = 10;      // publishing time
    std::uint64_t messages = 0;  // stop after this many publishes (0 = no limit)
    std::size_t threads = 2;
    std::string pub_url = "/pub/{topic}";
    std::string sub_url = "/sub/{topic}";
    std::string url = "/";               // http mode target
    std::string method = "GET";          // http mode method
    std::string since_param = "since";   // longpoll: query parameter carrying the last ETag
    std::vector<net::address> sources;   // subscriber source addresses (round robin)
    std::size_t connect_inflight = 256;  // per thread
    double connect_timeout_s = 10;
    double settle_s = 0.3;  // pause between "all subscribed" and the first publish
    double drain_s = 3;     // wait for deliveries after the last publish response
    bool json = false;
    bool quiet = false;  // no progress lines
};

/// Parses argv; on error or --help prints to stderr and returns false with exit_code set.
bool parse_options(int argc, char** argv, options& o, int& exit_code);

}  // namespace sy::bench
