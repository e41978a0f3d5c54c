// A response_sink that records every hook call, for tests of the http layer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/http/router.hpp"

namespace sy::http::testing {

class fake_sink : public response_sink {
  public:
    struct file_call {
        int fd;
        std::uint64_t offset, length;
    };
    // What the session saw.
    std::vector<std::string> calls;
    int head_status = 0;
    header_map head_headers;
    std::optional<std::uint64_t> head_length;
    std::string body;
    std::vector<file_call> files;
    std::string file_bytes;  // the bytes of every file range, read with pread
    bool ended = false;
    bool was_reset = false;
    int trailer_count = 0;
    // Knobs.
    bool watermark = false;
    std::size_t queued = 0;  ///< what queued_bytes() reports
    upgrade_support upgrade_mode = upgrade_support::none;

    void client_left() { notify_abort(); }
    void drained() { notify_drain(); }
    void server_shutdown() { notify_shutdown(); }
    std::optional<std::string_view> header(std::string_view n) const { return head_headers.get(n); }

  private:
    void do_begin(response_head& h) override;
    write_status do_write(byte_view b) override;
    write_status do_write(shared_bytes b) override;
    write_status do_send_file(file_body f) override;
    void do_end(const header_map* trailers) override;
    void do_reset() override;
    bool do_above_high_watermark() const override { return watermark; }
    std::size_t do_queued_bytes() const override { return queued; }
    upgrade_support do_upgrade_support() const override { return upgrade_mode; }
    std::shared_ptr<byte_tunnel> do_upgrade(response_head& h) override;
};

/// A request + sink pair driven through a router.
struct exchange {
    request req;
    std::shared_ptr<fake_sink> sink = std::make_shared<fake_sink>();
};

/// Builds a request (asserting the target parses) and dispatches it; the response handle is
/// dropped afterwards, like a session does when the handler returns.
std::unique_ptr<exchange> run(
    const router& r, std::string_view method, std::string_view target,
    std::initializer_list<std::pair<std::string_view, std::string_view>> headers = {});

}  // namespace sy::http::testing
