#include "fake_sink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace sy::http::testing {

namespace {

class fake_tunnel : public byte_tunnel {
  public:
    write_status write(byte_view) override { return write_status::ok; }
    write_status write(shared_bytes) override { return write_status::ok; }
    void close() override { open_ = false; }
    bool is_open() const override { return open_; }
    void set_on_data(std::function<void(byte_view)>) override {}
    void set_on_close(std::function<void()>) override {}
    void set_on_drain(std::function<void()>) override {}

  private:
    bool open_ = true;
};

}  // namespace

void fake_sink::do_begin(response_head& h) {
    calls.push_back("begin " + std::to_string(h.status));
    head_status = h.status;
    for (header_field f : h.headers) head_headers.add(f.name, f.value);
    head_length = h.content_length;
}

write_status fake_sink::do_write(byte_view b) {
    calls.push_back("write " + std::to_string(b.size()));
    body.append(as_string_view(b));
    return watermark ? write_status::above_high_watermark : write_status::ok;
}

write_status fake_sink::do_write(shared_bytes b) {
    calls.push_back("write_shared " + std::to_string(b.size()));
    body.append(b.view());
    return watermark ? write_status::above_high_watermark : write_status::ok;
}

write_status fake_sink::do_send_file(file_body f) {
    calls.push_back("file " + std::to_string(f.offset) + "+" + std::to_string(f.length));
    files.push_back({f.fd.get(), f.offset, f.length});
    std::string buf(f.length, '\0');
    ssize_t n = ::pread(f.fd.get(), buf.data(), buf.size(), static_cast<off_t>(f.offset));
    if (n > 0) file_bytes.append(buf.data(), static_cast<std::size_t>(n));
    return write_status::ok;
}

void fake_sink::do_end(const header_map* trailers) {
    calls.push_back("end");
    ended = true;
    trailer_count = trailers ? static_cast<int>(trailers->size()) : 0;
}

void fake_sink::do_reset() {
    calls.push_back("reset");
    was_reset = true;
}

std::shared_ptr<byte_tunnel> fake_sink::do_upgrade(response_head& h) {
    calls.push_back("upgrade " + std::to_string(h.status));
    head_status = h.status;
    for (header_field f : h.headers) head_headers.add(f.name, f.value);
    return std::make_shared<fake_tunnel>();
}

std::unique_ptr<exchange> run(
    const router& r, std::string_view method, std::string_view target,
    std::initializer_list<std::pair<std::string_view, std::string_view>> headers) {
    auto x = std::make_unique<exchange>();
    x->req.set_method(method);
    auto ok = x->req.set_target(target);
    EXPECT_TRUE(ok.has_value()) << target;
    for (const auto& [n, v] : headers) x->req.add_header(n, v);
    response res(x->sink);
    r.dispatch(x->req, res);
    return x;
}

}  // namespace sy::http::testing
