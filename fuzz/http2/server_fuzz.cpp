// fuzz_http2_server: client preface + fuzz bytes into server_session. The first input byte
// picks the chunk size (1 + b % 64); the rest is fed in chunks of that size, pulling output
// after each chunk. The observer answers every request (headers, shared data, trailers) so the
// send paths and the flow-control queues are exercised too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "switchyard/proto/http2/server_session.hpp"

namespace {

struct fuzz_obs : sy::http2::server_observer {
    sy::http2::server_session* s = nullptr;
    sy::shared_bytes payload = sy::shared_bytes::copy_of(std::string(20000, 'p'));
    void on_request(const sy::http2::request_head& r) override {
        sy::http2::header_field h[] = {{"content-type", "text/plain"}, {"x-path", r.path}};
        (void)s->submit_response(r.id, 200, h, false);
        (void)s->submit_data(r.id, payload, false);
        if (r.id % 3 == 0) {
            (void)s->submit_rst(r.id, sy::http2::error_code::cancel);
            return;
        }
        sy::http2::header_field t[] = {{"grpc-status", "0"}};
        if (r.end_stream) (void)s->submit_trailers(r.id, t);
    }
    void on_data(sy::http2::stream_id id, sy::byte_view, bool end) override {
        if (end) (void)s->submit_data(id, sy::as_bytes("bye"), true);
    }
};

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr unsigned char empty_settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::size_t chunk = 1 + data[0] % 64;
    data++;
    size--;
    fuzz_obs obs;
    sy::http2::server_settings cfg;
    cfg.max_header_list_size = 4096;
    cfg.initial_window_size = 1024;
    sy::http2::server_session s(obs, cfg);
    obs.s = &s;
    sy::byte_buffer out;
    (void)s.feed(sy::as_bytes(preface));
    (void)s.feed(sy::byte_view(empty_settings, sizeof empty_settings));
    for (std::size_t off = 0; off < size; off += chunk) {
        std::size_t n = size - off < chunk ? size - off : chunk;
        auto r = s.feed(sy::byte_view(data + off, n));
        s.pull_output(out);
        out.clear();
        if (r.outcome == sy::http2::feed_outcome::fatal) break;
    }
    s.goaway();
    s.pull_output(out);
    return 0;
}
