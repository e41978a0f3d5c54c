#include "options.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sy::bench {

const char* to_string(mode m) {
    switch (m) {
        case mode::ws:
            return "ws";
        case mode::sse:
            return "sse";
        case mode::longpoll:
            return "longpoll";
        case mode::http:
            return "http";
        case mode::h3:
            return "h3";
    }
    return "?";
}

namespace {

constexpr const char* k_usage = R"(usage: sy-bench ws|sse|longpoll|http|h3 [options]

Push modes (ws, sse, longpoll): N subscribers follow topics, P publishers POST messages whose
payload carries a send timestamp; reports deliveries/s, latency percentiles and losses.
http mode: P connections send requests (--url, --method), reports requests/s and latency.
h3 mode: P QUIC connections (HTTP/3, ngtcp2 + nghttp3), each with up to --window concurrent
request streams (as many as the server's MAX_STREAMS grants); same report, plus the most
streams seen open at once on one connection. The certificate is not verified.

  --server HOST:PORT       target (default 127.0.0.1:8080)
  --pub-server HOST:PORT   publishers connect here instead (another node of a cluster)
  -n, --subscribers N      subscribers (default 100), spread over --topics
  --topics T               topics (default 1); subscriber i follows topic i % T
  --topic PREFIX           topic name prefix (default "bench."; topic i is PREFIX<i>)
  -p, --publishers P       publisher connections (http mode: connections) (default 1)
  --rate R                 total messages (requests) per second; 0 = as fast as --window allows
  --window W               outstanding (pipelined) requests per publisher (default 1; 64
                           with --rate)
  --ahead K                push modes: publish at most K messages ahead of their delivery to
                           every subscriber (closed loop for fan-out throughput; default off)
  --size B                 payload bytes (default 64)
  -d, --duration S         publishing time in seconds (default 10)
  -m, --messages M         stop after M publishes (default: no limit)
  -t, --threads T          event loops (default 2)
  --pub-url TMPL           publish URL template (default /pub/{topic}; nchan: /pub?id={topic})
  --sub-url TMPL           subscribe URL template (default /sub/{topic})
  --since-param NAME       longpoll: query parameter for the last ETag (default since; '' = off)
  --url PATH, --method M   http mode request
  --sources A-B|none       subscriber source addresses, round robin (default 127.0.0.2-127.0.0.254
                           for a 127.x server: passes the ~28k ephemeral ports per source limit)
  --connect-inflight K     concurrent connects per thread (default 256)
  --connect-timeout S      (default 10)   --settle S  pause before publishing (default 0.3)
  --drain S                wait for late deliveries after publishing (default 3)
  --json                   also print the result as one JSON line at the end
  -q, --quiet              no progress lines
Exit status: 0 done, 1 connect/handshake failure or server error, 2 usage.
)";

bool parse_sources(std::string_view v, std::vector<net::address>& out) {
    out.clear();
    if (v == "none") return true;
    auto dash = v.find('-');
    std::string a(v.substr(0, dash)), b(dash == std::string_view::npos ? a : v.substr(dash + 1));
    in_addr lo{}, hi{};
    if (inet_pton(AF_INET, a.c_str(), &lo) != 1 || inet_pton(AF_INET, b.c_str(), &hi) != 1)
        return false;
    std::uint32_t x = ntohl(lo.s_addr), y = ntohl(hi.s_addr);
    if (y < x || y - x > 65535) return false;
    for (std::uint32_t i = x; i <= y; ++i) {
        in_addr ia{htonl(i)};
        char txt[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ia, txt, sizeof txt);
        auto r = net::address::parse(std::string(txt) + ":0");
        if (!r) return false;
        out.push_back(*r);
    }
    return true;
}

bool set_mode(std::string_view s, mode& m) {
    if (s == "ws")
        m = mode::ws;
    else if (s == "sse")
        m = mode::sse;
    else if (s == "longpoll")
        m = mode::longpoll;
    else if (s == "http")
        m = mode::http;
    else if (s == "h3")
        m = mode::h3;
    else
        return false;
    return true;
}

int fail(const char* what, std::string_view arg) {
    std::fprintf(stderr, "sy-bench: %s: %.*s\n%s", what, static_cast<int>(arg.size()), arg.data(),
                 k_usage);
    return 2;
}

}  // namespace

bool parse_options(int argc, char** argv, options& o, int& exit_code) {
    exit_code = 2;
    if (argc < 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
        std::fputs(k_usage, argc < 2 ? stderr : stdout);
        exit_code = argc < 2 ? 2 : 0;
        return false;
    }
    if (!set_mode(argv[1], o.cmd)) {
        exit_code = fail("unknown subcommand", argv[1]);
        return false;
    }
    std::string server = "127.0.0.1:8080";
    std::string pub_server;
    std::string sources = "auto";
    for (int i = 2; i < argc; ++i) {
        std::string_view k = argv[i];
        auto flag = [&](std::initializer_list<std::string_view> names) {
            for (auto n : names)
                if (k == n) return true;
            return false;
        };
        if (flag({"--json"})) {
            o.json = true;
            continue;
        }
        if (flag({"-q", "--quiet"})) {
            o.quiet = true;
            continue;
        }
        if (flag({"-h", "--help"})) {
            std::fputs(k_usage, stdout);
            exit_code = 0;
            return false;
        }
        if (i + 1 >= argc) {
            exit_code = fail("missing value for", k);
            return false;
        }
        std::string v = argv[++i];
        auto num = [&](auto& dst) {
            char* end = nullptr;
            double d = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || d < 0) return false;
            dst = static_cast<std::remove_reference_t<decltype(dst)>>(d);
            return true;
        };
        bool ok = true;
        if (flag({"--server", "--target"}))
            server = v;
        else if (flag({"--pub-server"}))
            pub_server = v;
        else if (flag({"-n", "--subscribers"}))
            ok = num(o.subscribers);
        else if (flag({"--topics"}))
            ok = num(o.topics) && o.topics > 0;
        else if (flag({"--topic"}))
            o.topic_prefix = v;
        else if (flag({"-p", "--publishers", "-c", "--connections"}))
            ok = num(o.publishers);
        else if (flag({"--rate"}))
            ok = num(o.rate);
        else if (flag({"--window"}))
            ok = num(o.window) && o.window > 0;
        else if (flag({"--ahead"}))
            ok = num(o.ahead);
        else if (flag({"--size"}))
            ok = num(o.size);
        else if (flag({"-d", "--duration"}))
            ok = num(o.duration_s);
        else if (flag({"-m", "--messages"}))
            ok = num(o.messages);
        else if (flag({"-t", "--threads"}))
            ok = num(o.threads) && o.threads > 0;
        else if (flag({"--pub-url"}))
            o.pub_url = v;
        else if (flag({"--sub-url"}))
            o.sub_url = v;
        else if (flag({"--url"}))
            o.url = v;
        else if (flag({"--method"}))
            o.method = v;
        else if (flag({"--since-param"}))
            o.since_param = v;
        else if (flag({"--sources"}))
            sources = v;
        else if (flag({"--connect-inflight"}))
            ok = num(o.connect_inflight) && o.connect_inflight;
        else if (flag({"--connect-timeout"}))
            ok = num(o.connect_timeout_s);
        else if (flag({"--settle"}))
            ok = num(o.settle_s);
        else if (flag({"--drain"}))
            ok = num(o.drain_s);
        else {
            exit_code = fail("unknown option", k);
            return false;
        }
        if (!ok) {
            exit_code = fail("bad value", std::string(k) + " " + v);
            return false;
        }
    }
    auto addr = net::address::parse(server);
    if (!addr) {
        exit_code = fail("bad --server", server);
        return false;
    }
    o.server = *addr;
    o.pub_server = *addr;
    o.host_header = server;
    if (!pub_server.empty()) {
        auto p = net::address::parse(pub_server);
        if (!p) {
            exit_code = fail("bad --pub-server", pub_server);
            return false;
        }
        o.pub_server = *p;
    }
    if (sources == "auto")
        sources = server.rfind("127.", 0) == 0 ? "127.0.0.2-127.0.0.254" : "none";
    if (!parse_sources(sources, o.sources)) {
        exit_code = fail("bad --sources", sources);
        return false;
    }
    if (o.cmd != mode::http && o.cmd != mode::h3 && o.publishers == 0 && o.rate > 0) {
        exit_code = fail("--rate needs a publisher", "-p 0");
        return false;
    }
    if (o.window == 0) o.window = o.rate > 0 ? 64 : 1;
    if (o.threads > o.subscribers + o.publishers && o.subscribers + o.publishers > 0)
        o.threads = o.subscribers + o.publishers;
    return true;
}

}  // namespace sy::bench
